// The server over real pipelines (small random checkpoints on the fixture tokenizer): concurrent requests
// batched into one model run give what the pipeline gives when called directly; and `deberta serve` as a
// process: it answers, and on SIGTERM finishes the request in flight before it exits.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipeline } from '../src/pipelines/index.ts';
import { createServer } from '../src/server/app.ts';
import { loadServedModel, parseModelSpec } from '../src/server/pipeline-runner.ts';
import { writeTinyCheckpoint } from './helpers/tiny-checkpoint.ts';

const root = mkdtempSync(join(tmpdir(), 'deberta-serve-'));
const CLS = join(root, 'cls');
const MLM = join(root, 'mlm');
const CROSS = join(root, 'cross');
const TEXTS = ['The jury said the trial was over.', 'Free entry!', 'A much longer sentence about the weather in the city today.'];

before(() => {
  writeTinyCheckpoint(CLS, { architecture: 'DebertaV2ForSequenceClassification', labels: ['ham', 'spam'], seed: 2 });
  writeTinyCheckpoint(MLM, { architecture: 'DebertaV2ForMaskedLM', seed: 3 });
  writeTinyCheckpoint(CROSS, { architecture: 'DebertaV2ForSequenceClassification', labels: ['relevance'], seed: 6 });
});
after(() => rmSync(root, { recursive: true, force: true }));

type Scored = { label: string; score: number }[];

function close(a: Scored, b: Scored): void {
  assert.deepEqual(a.map((x) => x.label), b.map((x) => x.label));
  // Measured 0 (the server's batches against the pipeline's): a floor of 4 float32 ulp.
  a.forEach((x, i) => assert.ok(Math.abs(x.score - b[i]!.score) < 4 * 2 ** -23, `${x.score} vs ${b[i]!.score}`));
}

describe('server over real pipelines', () => {
  it('parses --model specs', () => {
    assert.deepEqual(parseModelSpec('/m/cls'), { name: 'cls', dir: '/m/cls' });
    assert.deepEqual(parseModelSpec('a=/m/x'), { name: 'a', dir: '/m/x' });
    assert.deepEqual(parseModelSpec('a:ner,zero-shot=/m/x'), { name: 'a', dir: '/m/x', tasks: ['ner', 'zero-shot'] });
  });

  it('batches concurrent text-classification requests into one run with the pipeline\'s results', async () => {
    const direct = await pipeline('text-classification', CLS);
    const want = await direct.run(TEXTS, { topK: null });
    await direct.dispose();

    const app = createServer({
      models: [await loadServedModel({ name: 'cls', dir: CLS }, { batchSize: 16 }), await loadServedModel({ name: 'mlm', dir: MLM })],
      maxWaitMs: 200, // all three requests arrive well within this, even on a busy machine
    });
    try {
      const answers = await Promise.all(TEXTS.map((t) => app.inject({
        method: 'POST', url: '/v1/text-classification', payload: { inputs: [t], options: { top_k: null } },
      })));
      answers.forEach((res, i) => {
        assert.equal(res.statusCode, 200);
        const body = res.json() as { model: string; results: Scored[] };
        assert.equal(body.model, 'cls');
        close(body.results[0]!, want[i]!);
      });
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, /deberta_batch_size_count\{model="cls",task="text-classification"\} 1\n/);
      assert.match(metrics, /deberta_batch_size_sum\{model="cls",task="text-classification"\} 3\n/);

      const fill = await app.inject({ method: 'POST', url: '/v1/fill-mask', payload: { inputs: ['The [MASK] was over.'], options: { top_k: 3 } } });
      assert.equal(fill.statusCode, 200);
      const [top] = (fill.json() as { results: { token_str: string; score: number }[][] }).results;
      assert.equal(top!.length, 3);
      assert.ok(top![0]!.score >= top![1]!.score);

      const noMask = await app.inject({ method: 'POST', url: '/v1/fill-mask', payload: { inputs: ['fine', 'no mask here'] } });
      assert.equal(noMask.statusCode, 422);
      assert.equal((noMask.json() as { message: string }).message, 'inputs[0] has no [MASK] token; write [MASK] where the word to predict goes');
    } finally {
      await app.close();
    }
  });
});

describe('rerank over HTTP', () => {
  it('several queries in one request rank as one pipeline call per query does', async () => {
    const inputs = [
      { query: 'weather today', documents: ['rain today', 'stock prices', 'sunny tomorrow'] },
      { query: 'markets', documents: ['stock prices fell', 'the cat slept'] },
    ];
    const direct = await pipeline('rerank', CROSS);
    const want: { index: number; score: number; document?: string }[][] = [];
    for (const x of inputs) want.push(await direct(x.query, x.documents, { topK: 2, returnDocuments: true }));
    await direct.dispose();
    const app = createServer({ models: [await loadServedModel({ name: 'ce', dir: CROSS, tasks: ['rerank'] })] });
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { inputs, options: { top_k: 2, return_documents: true } } });
      assert.equal(res.statusCode, 200, res.body);
      const got = (res.json() as { results: { index: number; score: number; document: string }[][] }).results;
      assert.equal(got.length, 2);
      got.forEach((ranking, q) => {
        assert.deepEqual(ranking.map((r) => [r.index, r.document]), want[q]!.map((r) => [r.index, r.document]));
        ranking.forEach((r, k) => assert.ok(Math.abs(r.score - want[q]![k]!.score) < 1e-6, `query ${q}: ${r.score} vs ${want[q]![k]!.score}`));
      });
    } finally {
      await app.close();
    }
  });
});

describe('deberta serve (process)', () => {
  it('answers on loopback and, on SIGTERM, finishes the request in flight before exiting', { timeout: 30_000 }, async () => {
    // --max-wait-ms 1500: the request waits in the queue long enough for SIGTERM to arrive first.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--model', `cls=${CLS}`, '--port', '0',
      '--max-wait-ms', '1500', '--log-level', 'silent', '--no-static'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const base = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d: string) => {
          stderr += d;
          const m = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        child.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
      });
      const health = await fetch(`${base}/health`);
      assert.deepEqual(await health.json(), { status: 'ok', models: [{ name: 'cls', tasks: ['text-classification'] }], queued: 0 });

      const pending = fetch(`${base}/v1/text-classification`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: ['Free entry!'] }),
      });
      // SIGTERM once the request is waiting in the queue (for the 1.5 s batching wait).
      while (((await (await fetch(`${base}/health`)).json()) as { queued: number }).queued !== 1) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGTERM');
      const res = await pending;
      assert.equal(res.status, 200);
      const body = (await res.json()) as { results: Scored[] };
      assert.deepEqual(body.results[0]!.map((r) => r.label).length, 1);
      assert.equal(await exited, 0);
      assert.match(stderr, /SIGTERM: finishing requests in flight, then exiting\n/);
      assert.match(stderr, /stopped\n/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('names a --device it does not know, before loading anything', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--model', `cls=${CLS}`, '--device', 'cuda'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--device: expected one of cpu, webgpu, got 'cuda'/);
  });

  it('names a --dtype it does not know, before loading anything', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--model', `cls=${CLS}`, '--dtype', 'bf16'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--dtype: expected one of fp32, fp16, q8, int8, got 'bf16'/);
  });

  it('refuses --revision without a --model to apply it to', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--revision', 'v1'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--revision is for Hugging Face Hub ids given with --model; without --model the embedded models are served/);
  });
});
