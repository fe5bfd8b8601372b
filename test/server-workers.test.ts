// The worker pool: results from worker threads equal the pipeline's on this thread, two workers run two
// batches at once, and a worker that dies fails only its batch, turns /ready to 503, and is replaced.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipeline } from '../src/pipelines/index.ts';
import { createServer } from '../src/server/app.ts';
import { loadPooledModel, type WorkerPool } from '../src/server/worker-pool.ts';
import { writeTinyCheckpoint } from './helpers/tiny-checkpoint.ts';

const root = mkdtempSync(join(tmpdir(), 'deberta-workers-'));
const CLS = join(root, 'cls');
const TEXTS = ['The jury said the trial was over.', 'Free entry!', 'A much longer sentence about the weather in the city today.'];

before(() => {
  writeTinyCheckpoint(CLS, { architecture: 'DebertaV2ForSequenceClassification', labels: ['ham', 'spam'], seed: 2 });
});
after(() => rmSync(root, { recursive: true, force: true }));

type Scored = { label: string; score: number }[];

describe('worker pool', () => {
  it('gives the results of the pipeline on this thread, and runs two batches at once on two workers', { timeout: 120_000 }, async () => {
    const direct = await pipeline('text-classification', CLS, { threads: 1 });
    const want = (await direct(TEXTS, { topK: null })) as Scored[];
    await direct.dispose();

    const model = await loadPooledModel({ name: 'cls', dir: CLS, tasks: ['text-classification'] }, { workers: 2, threads: 1 });
    try {
      assert.equal(model.concurrency, 2);
      assert.equal(model.ready!(), true);
      const runner = model.runners[0]!;
      assert.equal(runner.info!.maxLength, 512);
      assert.deepEqual(runner.info!.labels, ['ham', 'spam']);
      const got = (await runner.run(TEXTS, { top_k: null })) as Scored[];
      got.forEach((r, i) => {
        assert.deepEqual(r.map((x) => x.label), want[i]!.map((x) => x.label));
        r.forEach((x, k) => assert.ok(Math.abs(x.score - want[i]![k]!.score) < 4 * 2 ** -23)); // measured 0 (1 and 2 threads): a float32 floor
      });
      // Two batches posted together go to the two workers: both are busy at once.
      const pool = (model as unknown as { pool: WorkerPool }).pool;
      const both = Promise.all([runner.run(TEXTS, {}), runner.run(TEXTS, {})]);
      const slots = (pool as unknown as { slots: { busy: boolean }[] }).slots;
      assert.deepEqual(slots.map((s) => s.busy), [true, true]);
      await both;
    } finally {
      // Disposing twice (a shutdown racing a failed load, say) ends both calls.
      await Promise.all([model.dispose!(), model.dispose!()]);
    }
  });

  it('a worker that dies fails its batch only, /ready says 503 until it is replaced', { timeout: 120_000 }, async () => {
    const model = await loadPooledModel({ name: 'cls', dir: CLS, tasks: ['text-classification'] }, { workers: 1, threads: 1 });
    const app = createServer({ models: [model], maxWaitMs: 1 });
    try {
      const pool = (model as unknown as { pool: WorkerPool }).pool;
      const slot = (pool as unknown as { slots: { busy: boolean; worker: { terminate(): Promise<number> } }[] }).slots[0]!;
      const long = Array.from({ length: 64 }, (_, i) => `${TEXTS[i % 3]} `.repeat(40));
      const inFlight = app.inject({ method: 'POST', url: '/v1/text-classification', payload: { inputs: long } });
      for (let i = 0; i < 500 && !slot.busy; i++) await new Promise((r) => setTimeout(r, 1));
      assert.equal(slot.busy, true, 'the batch is running');
      await slot.worker.terminate();
      const failed = await inFlight;
      assert.equal(failed.statusCode, 500);
      assert.match((failed.json() as { message: string }).message, /worker thread exited/);
      assert.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 503);
      let ready = 503;
      for (let i = 0; i < 600 && ready !== 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        ready = (await app.inject({ method: 'GET', url: '/ready' })).statusCode;
      }
      assert.equal(ready, 200, 'the replacement worker loaded');
      const ok = await app.inject({ method: 'POST', url: '/v1/text-classification', payload: { inputs: TEXTS } });
      assert.equal(ok.statusCode, 200);
      assert.equal((ok.json() as { results: unknown[] }).results.length, 3);
    } finally {
      await app.close();
    }
  });
});
