// Micro-batching: concurrent requests share model runs and each gets its own results back, in order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createServer } from '../src/server/app.ts';
import { Lock, MicroBatcher, QueueFullError } from '../src/server/queue.ts';
import { fakeRunner } from './helpers/fake-runner.ts';

const expected = (texts: string[]) => texts.map((t) => ({ label: `len${t.length}`, score: t.length }));

function batcher(runner = fakeRunner(), o: Partial<ConstructorParameters<typeof MicroBatcher>[0]> = {}) {
  return new MicroBatcher({ run: (items, options) => runner.run(items, options), maxBatch: 8, maxWaitMs: 10, maxQueue: 100, ...o });
}

describe('MicroBatcher', () => {
  it('runs items from concurrent submits in one call and splits the results back', async () => {
    const runner = fakeRunner();
    const b = batcher(runner);
    const reqs = [['a', 'bb'], ['ccc'], ['dddd', 'e', 'ff']];
    const out = await Promise.all(reqs.map((r) => b.submit(r)));
    assert.equal(runner.batches.length, 1);
    assert.deepEqual(runner.batches[0], ['a', 'bb', 'ccc', 'dddd', 'e', 'ff']);
    reqs.forEach((r, i) => assert.deepEqual(out[i], expected(r)));
  });

  it('runs at once when maxBatch items are waiting, and splits a large request over batches', async () => {
    const runner = fakeRunner();
    const b = batcher(runner, { maxBatch: 3, maxWaitMs: 10_000 });
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'g'];
    const small = b.submit(['xy']);
    const big = b.submit(texts);
    // maxBatch items waiting start a batch at once (no 10 s wait); each finished batch starts the next.
    const tail = b.submit(['1']);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(runner.batches.map((x) => x.length), [3, 3, 3]);
    assert.deepEqual(await small, expected(['xy']));
    assert.deepEqual(await big, expected(texts));
    assert.deepEqual(await tail, expected(['1']));
  });

  it('batches only items with equal options', async () => {
    const runner = fakeRunner();
    const b = batcher(runner);
    const [x, y, z] = await Promise.all([
      b.submit(['a'], { top_k: 2, function_to_apply: 'none' }),
      b.submit(['bb'], { top_k: 3 }),
      b.submit(['ccc'], { function_to_apply: 'none', top_k: 2 }), // same options, keys in another order
    ]);
    assert.deepEqual(runner.batches, [['a', 'ccc'], ['bb']]);
    assert.deepEqual(runner.batchOptions, [{ top_k: 2, function_to_apply: 'none' }, { top_k: 3 }]);
    assert.deepEqual([x, y, z], [expected(['a']), expected(['bb']), expected(['ccc'])]);
  });

  it('refuses items beyond maxQueue and drains', async () => {
    const runner = fakeRunner();
    const b = batcher(runner, { maxBatch: 2, maxQueue: 2 });
    runner.hold();
    const first = b.submit(['a', 'b']);
    await new Promise((r) => setTimeout(r, 15)); // first is running; the queue is empty again
    const second = b.submit(['c', 'd']);
    assert.throws(() => b.submit(['e']), (e: unknown) => e instanceof QueueFullError && e.statusCode === 503);
    assert.equal(b.queuedItems, 2);
    runner.release();
    await Promise.all([first, second, b.drain()]);
    assert.equal(b.queuedItems, 0);
  });

  it('a shared lock runs one batch of a model at a time', async () => {
    let running = 0, most = 0;
    const run = async (items: unknown[]) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return items;
    };
    const lock = new Lock();
    const a = new MicroBatcher({ run, maxBatch: 4, maxWaitMs: 1, maxQueue: 10, lock });
    const b = new MicroBatcher({ run, maxBatch: 4, maxWaitMs: 1, maxQueue: 10, lock });
    assert.deepEqual(await Promise.all([a.submit([1]), b.submit([2]), a.submit([3])]), [[1], [2], [3]]);
    assert.equal(most, 1);
  });
});

describe('server micro-batching', () => {
  it('answers 12 concurrent requests correctly in fewer model runs', async () => {
    const runner = fakeRunner();
    const app = createServer({ models: [{ name: 'tiny', runners: [runner] }], maxBatch: 32, maxWaitMs: 25 });
    try {
      const reqs = Array.from({ length: 12 }, (_, i) => Array.from({ length: 1 + (i % 3) }, (_, k) => 'x'.repeat(i + k + 1)));
      const answers = await Promise.all(reqs.map((inputs) => app.inject({ method: 'POST', url: '/v1/text-classification', payload: { inputs } })));
      answers.forEach((res, i) => {
        assert.equal(res.statusCode, 200);
        assert.deepEqual((res.json() as { results: unknown }).results, expected(reqs[i]!));
      });
      const items = reqs.reduce((n, r) => n + r.length, 0);
      assert.ok(runner.batches.length < reqs.length, `${runner.batches.length} runs for ${reqs.length} requests`);
      assert.equal(runner.batches.reduce((n, b) => n + b.length, 0), items);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(metrics, new RegExp(`deberta_batch_size_count\\{model="tiny",task="text-classification"\\} ${runner.batches.length}\\n`));
      assert.match(metrics, new RegExp(`deberta_batch_size_sum\\{model="tiny",task="text-classification"\\} ${items}\\n`));
    } finally {
      await app.close();
    }
  });
});
