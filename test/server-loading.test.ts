// The server answers before its models have loaded: /health at once, /ready 503 "loading" naming the models
// still loading, task routes 503 with Retry-After; then, once every model is up, /ready 200 and the routes
// answer. Once through the library (a model whose loading the test finishes), once as `deberta serve` on
// 127.0.0.1 with the embedded spam model on worker threads; and `deberta serve` with no --model.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer } from '../src/server/app.ts';
import type { ServedModel } from '../src/server/types.ts';
import { pipeline } from '../src/pipelines/index.ts';
import { fakeRunner } from './helpers/fake-runner.ts';
import { SPAM_MODEL, sleep, startServe } from './helpers/serve-process.ts';

describe('a server whose models are still loading', () => {
  it('answers /health, says 503 loading on /ready and the task routes, then serves once loaded', async () => {
    let finish!: (m: ServedModel) => void;
    const loaded = new Promise<ServedModel>((r) => { finish = r; });
    const runner = fakeRunner('text-classification');
    const app = createServer({ models: [{ name: 'up', runners: [fakeRunner('fill-mask')] }, { name: 'cls', tasks: ['text-classification'], concurrency: 2, loaded }] });
    try {
      const health = await app.inject({ method: 'GET', url: '/health' });
      assert.equal(health.statusCode, 200);
      assert.deepEqual(health.json(), { status: 'ok', models: [{ name: 'up', tasks: ['fill-mask'] }, { name: 'cls', tasks: ['text-classification'] }], queued: 0 });
      const ready = await app.inject({ method: 'GET', url: '/ready' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: 'loading', models: [{ name: 'up', tasks: ['fill-mask'] }, { name: 'cls', tasks: ['text-classification'] }], loading: ['cls'] });
      const early = await app.inject({ method: 'POST', url: '/v1/classify', payload: { inputs: ['abc'] } });
      assert.equal(early.statusCode, 503);
      assert.equal(early.headers['retry-after'], '1');
      assert.equal((early.json() as { message: string }).message, "model 'cls' is still loading; retry after 1 s");
      // The model that is up already answers.
      assert.equal((await app.inject({ method: 'POST', url: '/v1/fill-mask', payload: { inputs: ['a [MASK]'] } })).statusCode, 200);
      assert.equal(runner.batches.length, 0);

      finish({ name: 'cls', runners: [runner], concurrency: 2 });
      await loaded;
      const after = await app.inject({ method: 'GET', url: '/ready' });
      assert.equal(after.statusCode, 200);
      assert.deepEqual(after.json(), { status: 'ready', models: [{ name: 'up', tasks: ['fill-mask'] }, { name: 'cls', tasks: ['text-classification'], workers: 2 }] });
      const served = await app.inject({ method: 'POST', url: '/v1/classify', payload: { inputs: ['abc'] } });
      assert.equal(served.statusCode, 200);
      assert.deepEqual(served.json(), { model: 'cls', task: 'text-classification', results: [{ label: 'len3', score: 3 }] });
    } finally {
      await app.close();
    }
  });

  it('reports a model that failed to load', async () => {
    const app = createServer({ models: [{ name: 'bad', tasks: ['rerank'], loaded: Promise.reject(new Error('no such folder')) }] });
    try {
      await sleep(0);
      const ready = await app.inject({ method: 'GET', url: '/ready' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json(), { status: 'failed', models: [{ name: 'bad', tasks: ['rerank'] }], failed: [{ model: 'bad', message: 'no such folder' }] });
      const r = await app.inject({ method: 'POST', url: '/v1/rerank', payload: { inputs: [{ query: 'q', documents: ['d'] }] } });
      assert.equal(r.statusCode, 503);
      assert.equal((r.json() as { message: string }).message, "model 'bad' failed to load: no such folder");
    } finally {
      await app.close();
    }
  });

  it('deberta serve listens before loading: 503 "loading" on /ready and the route, then 200', { timeout: 180_000 }, async () => {
    const serve = await startServe(['--model', `spam=${SPAM_MODEL}`, '--workers', '2', '--threads', '1'], 120_000, false);
    try {
      const health = await fetch(`${serve.base}/health`);
      assert.equal(health.status, 200);
      // Workers take far longer than this to load a model: the first answer is "loading".
      const first = await fetch(`${serve.base}/ready`);
      assert.equal(first.status, 503);
      assert.deepEqual(await first.json(), { status: 'loading', models: [{ name: 'spam', tasks: ['text-classification'] }], loading: ['spam'] });
      const early = await fetch(`${serve.base}/v1/text-classification`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: ['Free entry!'] }) });
      assert.equal(early.status, 503);
      assert.equal(early.headers.get('retry-after'), '1');
      assert.match(((await early.json()) as { message: string }).message, /^model 'spam' is still loading/);
      let status = 503;
      let polls = 0;
      for (; polls < 1200 && status !== 200; polls++) { // at most 1200 × 100 ms
        const r = await fetch(`${serve.base}/ready`);
        status = r.status;
        const body = (await r.json()) as { status: string };
        if (status !== 200) assert.equal(body.status, 'loading');
        else assert.deepEqual(body, { status: 'ready', models: [{ name: 'spam', tasks: ['text-classification'], workers: 2 }] });
        if (status !== 200) await sleep(100);
      }
      assert.equal(status, 200, `not ready after ${polls} polls:\n${serve.stderr()}`);
      const res = await fetch(`${serve.base}/v1/text-classification`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: ['WIN a FREE cruise! Reply now to claim your prize'] }) });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { results: { label: string }[][] }).results[0]![0]!.label, 'spam');
      assert.match(serve.stderr(), /ready on http:\/\/127\.0\.0\.1:\d+: 1 model loaded in \d+ ms/);
      assert.match(serve.stderr(), /loaded spam \(text-classification\) from .* on 2 workers × 1 thread, weights shared in \d+ ms/);
    } finally {
      await serve.kill();
    }
  });

  it('deberta serve --no-share-weights: each worker loads its own copy and serves the same labels', { timeout: 180_000 }, async () => {
    const serve = await startServe(['--model', `spam=${SPAM_MODEL}`, '--workers', '2', '--threads', '1', '--no-share-weights'], 120_000, false);
    try {
      let status = 503;
      for (let polls = 0; polls < 1200 && status !== 200; polls++) { // at most 1200 × 100 ms
        status = (await fetch(`${serve.base}/ready`)).status;
        if (status !== 200) await sleep(100);
      }
      assert.equal(status, 200, `not ready:\n${serve.stderr()}`);
      assert.match(serve.stderr(), /loaded spam \(text-classification\) from .* on 2 workers × 1 thread, a copy of the weights per worker in \d+ ms/);
      const res = await fetch(`${serve.base}/v1/text-classification`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: ['WIN a FREE cruise! Reply now to claim your prize'] }) });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { results: { label: string }[][] }).results[0]![0]!.label, 'spam');
    } finally {
      await serve.kill();
    }
  });

  it('deberta serve without --model serves the embedded models, each for the tasks it is the default of', { timeout: 180_000 }, async () => {
    const serve = await startServe(['--workers', '1', '--threads', '1']);
    const post = async (route: string, inputs: string) => {
      const res = await fetch(`${serve.base}/v1/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }) });
      assert.equal(res.status, 200, route);
      return (await res.json()) as { model: string; task: string; results: unknown[] };
    };
    try {
      const models = (await (await fetch(`${serve.base}/v1/models`)).json()) as { models: { name: string; tasks: string[] }[] };
      assert.deepEqual(models.models.map(({ name, tasks }) => ({ name, tasks })), [
        { name: 'deberta-v3-brown-small', tasks: ['fill-mask', 'feature-extraction'] },
        { name: 'deberta-v3-brown-small-spam', tasks: ['text-classification'] },
        { name: 'deberta-v3-brown-small-pos', tasks: ['token-classification'] },
      ]);
      const text = 'WIN a FREE cruise! Reply now to claim your prize';
      const cls = await post('classify', text);
      assert.equal(cls.model, 'deberta-v3-brown-small-spam');
      const pipe = await pipeline('text-classification', null, { threads: 1 });
      try {
        // The workers read the weights from one shared mapped file, unpacked: float32 sums in another order.
        const [got] = cls.results as { label: string; score: number }[][];
        const [want] = await pipe(text);
        assert.equal(got![0]!.label, want!.label);
        assert.ok(Math.abs(got![0]!.score - want!.score) < 1e-6, `${got![0]!.score} against ${want!.score}`);
      } finally {
        await pipe.dispose();
      }
      assert.equal((await post('fill-mask', 'The jury said the [MASK] was over.')).model, 'deberta-v3-brown-small');
      assert.equal(((await post('ner', 'The jury said it was over.')).results[0] as { entity: string }[])[0]!.entity, 'DET');
    } finally {
      await serve.kill();
    }
  });
});
