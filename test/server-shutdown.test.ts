// Graceful shutdown on a real loopback port: close() lets requests in flight finish with their results,
// refuses new ones, and disposes the runners only after the work is done.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createServer } from '../src/server/app.ts';
import { fakeRunner } from './helpers/fake-runner.ts';

it('close() finishes requests in flight, then disposes the runners', async () => {
  const runner = fakeRunner('text-classification', 300); // each model run takes 300 ms
  const app = createServer({ models: [{ name: 'tiny', runners: [runner] }], maxWaitMs: 1 });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const ask = (inputs: string[]) => fetch(`${base}/v1/text-classification`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }),
  });
  assert.equal((await fetch(`${base}/health`)).status, 200); // leaves a keep-alive connection open
  const inFlight = [ask(['abc']), ask(['hello', 'x'])];
  while (runner.batches.length === 0) await new Promise((r) => setTimeout(r, 5));
  const t0 = Date.now();
  const closed = app.close();
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(ask(['late']), 'a request after close() is refused');
  assert.equal(runner.disposed, false, 'not disposed while work is in flight');

  const answers = await Promise.all(inFlight);
  assert.deepEqual(answers.map((a) => a.status), [200, 200]);
  assert.deepEqual(((await answers[0]!.json()) as { results: unknown }).results, [{ label: 'len3', score: 3 }]);
  assert.deepEqual(((await answers[1]!.json()) as { results: unknown }).results, [{ label: 'len5', score: 5 }, { label: 'len1', score: 1 }]);
  await closed;
  const took = Date.now() - t0;
  assert.ok(took >= 200, 'close() waited for the run in flight');
  assert.ok(took < 3000, `close() took ${took} ms: keep-alive sockets kept it waiting`);
  assert.equal(runner.disposed, true);
  assert.deepEqual(runner.batches.flat(), ['abc', 'hello', 'x']);
});
