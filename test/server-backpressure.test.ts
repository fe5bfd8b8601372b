// Bounded work on a real loopback port: with the queue full, a request is refused 503 from its headers,
// before its body is read, and its connection closed; a client that goes away takes its request out of
// the queue before the model sees it.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { it } from 'node:test';
import { createServer } from '../src/server/app.ts';
import { fakeRunner } from './helpers/fake-runner.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a full queue answers 503 before the body is read; a reset client leaves the queue', { timeout: 30_000 }, async () => {
  const runner = fakeRunner();
  const app = createServer({ models: [{ name: 'tiny', runners: [runner] }], maxBatch: 2, maxQueue: 2, maxWaitMs: 1 });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const port = Number(new URL(base).port);
  const post = (inputs: string[]) => fetch(`${base}/v1/text-classification`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }),
  });
  const queued = async () => ((await (await fetch(`${base}/health`)).json()) as { queued: number }).queued;
  try {
    runner.hold();
    const running = post(['a', 'b']); // the one batch the model runs
    for (let i = 0; i < 200 && runner.batches.length === 0; i++) await sleep(5);
    const waiting = post(['c', 'd']); // fills the queue
    for (let i = 0; i < 200 && (await queued()) !== 2; i++) await sleep(5);
    assert.equal(await queued(), 2);

    // Headers promising a body that never comes: the answer does not wait for it.
    const sock = connect(port, '127.0.0.1');
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => { got += d; });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write('POST /v1/text-classification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"inputs":');
    await closed;
    assert.match(got, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(got, /\r\nconnection: close\r\n/i);
    assert.match(got, /\r\nretry-after: \d+\r\n/i);
    assert.match(got, /server busy: 2 items already queued/);

    // A client that resets its connection while queued takes its inputs out of the queue.
    const gone = connect(port, '127.0.0.1');
    await new Promise<void>((r) => gone.once('connect', () => r()));
    const body = JSON.stringify({ inputs: ['e'] });
    // Make room: the first batch finishes and the waiting one runs; then the model is held busy again.
    runner.release();
    assert.equal((await running).status, 200);
    assert.equal((await waiting).status, 200);
    runner.hold();
    const blocker = post(['x', 'y']); // the model is busy again
    for (let i = 0; i < 200 && runner.batches.length < 3; i++) await sleep(5);
    gone.write(`POST /v1/text-classification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    for (let i = 0; i < 200 && (await queued()) !== 1; i++) await sleep(5);
    assert.equal(await queued(), 1, 'the request is queued');
    gone.resetAndDestroy();
    for (let i = 0; i < 200 && (await queued()) !== 0; i++) await sleep(5);
    assert.equal(await queued(), 0, 'the reset request left the queue');
    runner.release();
    assert.equal((await blocker).status, 200);
    await sleep(20);
    assert.deepEqual(runner.batches.flat(), ['a', 'b', 'c', 'd', 'x', 'y'], 'the model never saw the reset request');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /deberta_requests_cancelled_total\{model="tiny",task="text-classification"\} 1\n/);
    assert.match(metrics, /deberta_queue_rejections_total\{model="tiny",task="text-classification"\} 1\n/);
  } finally {
    runner.release();
    await app.close();
  }
});
