// `deberta serve` as a process with the embedded spam model on its worker threads, on 127.0.0.1:
// /health stays fast while the model is saturated; requests whose clients reset their connection leave
// the queue; SIGTERM finishes every request received and answers a request on a kept-alive connection
// 503 with `Connection: close`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { SPAM_MODEL, sleep, startServe, text, timedGet, type ServeProcess } from './helpers/serve-process.ts';

const running: ServeProcess[] = [];
after(async () => {
  await Promise.all(running.map((s) => s.kill()));
});

async function serve(args: string[]): Promise<ServeProcess> {
  const s = await startServe(['--model', `spam=${SPAM_MODEL}`, ...args]);
  running.push(s);
  return s;
}

const classify = (base: string, inputs: string[]) => fetch(`${base}/v1/text-classification`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }),
});

/** Nearest-rank percentile of sorted values. */
const percentile = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;

async function metric(base: string, name: string): Promise<number> {
  const body = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
}

describe('deberta serve under load', () => {
  it('/health p99 stays within 50 ms while 4 clients keep the model busy with 64 x 2,000-character requests', { timeout: 180_000 }, async (t) => {
    const s = await serve(['--workers', '2', '--threads', '1', '--max-items', '64']);
    const inputs = Array.from({ length: 64 }, (_, i) => text(2000, i + 1));
    // The 4 clients run in a process of their own, so that this process only probes /health (its event
    // loop adds nothing to the latencies it measures). Each answer is a line on stdout: status, results.
    const script = `
      const base = process.argv[1];
      let body = '';
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (d) => { body += d; });
      const client = async () => {
        for (let k = 0; k < 1000; k++) {
          const res = await fetch(base + '/v1/text-classification', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const n = (await res.json()).results?.length;
          process.stdout.write(res.status + ' ' + n + '\\n');
        }
      };
      process.stdin.on('end', () => Promise.all([client(), client(), client(), client()]));`;
    const clients = spawn(process.execPath, ['-e', script, s.base], { stdio: ['pipe', 'pipe', 'inherit'] });
    clients.stdin!.end(JSON.stringify({ inputs }));
    const clientsExited = new Promise<void>((r) => clients.on('exit', () => r()));
    let out = '';
    clients.stdout!.setEncoding('utf8');
    clients.stdout!.on('data', (d: string) => { out += d; });
    // Probe once the model is busy: a batch is running.
    for (let i = 0; i < 500 && (await metric(s.base, 'deberta_batches_running')) === 0; i++) await sleep(20);
    const health: number[] = [];
    const until = performance.now() + 8000;
    let busy = 0;
    while (performance.now() < until) {
      const h = await timedGet(`${s.base}/health`);
      assert.equal(h.status, 200);
      health.push(h.ms);
      if ((JSON.parse(h.body) as { queued: number }).queued > 0) busy++;
      await sleep(20);
    }
    clients.kill('SIGKILL');
    await clientsExited;
    const answers = out.split('\n').filter(Boolean);
    const answered = answers.length;
    assert.deepEqual([...new Set(answers)], ['200 64'], 'every saturating request answered 200 with 64 results');
    health.sort((a, b) => a - b);
    assert.ok(health.length >= 100, `${health.length} probes`);
    assert.ok(busy / health.length > 0.5, `the model was saturated (work queued) during ${busy} of ${health.length} probes`);
    assert.ok(answered >= 2, `${answered} requests answered`);
    const p99 = percentile(health, 0.99);
    t.diagnostic(`/health over ${health.length} probes: p50 ${percentile(health, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${health.at(-1)!.toFixed(1)} ms; ${answered} saturating requests answered`);
    assert.ok(p99 <= 50, `/health p99 ${p99.toFixed(1)} ms (max ${health.at(-1)!.toFixed(1)} ms over ${health.length} probes)`);
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  });

  it('600 requests sent whole and then reset leave the queue: /health within 1 s, the queue empty within 2 s', { timeout: 180_000 }, async (t) => {
    const s = await serve(['--workers', '2', '--threads', '1']);
    const body = JSON.stringify({ inputs: Array.from({ length: 8 }, (_, i) => text(1000, i + 7)) });
    const raw = `POST /v1/text-classification HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const sendAndReset = () => new Promise<void>((resolve) => {
      const sock = connect(s.port, '127.0.0.1', () => {
        sock.write(raw, () => {
          setTimeout(() => {
            sock.resetAndDestroy();
            resolve();
          }, 5);
        });
      });
      sock.on('error', () => resolve());
    });
    // 600 in waves of 50 connections at a time.
    for (let wave = 0; wave < 12; wave++) await Promise.all(Array.from({ length: 50 }, sendAndReset));
    const t0 = performance.now();
    const h = await timedGet(`${s.base}/health`, 5000);
    assert.equal(h.status, 200);
    assert.ok(h.ms <= 1000, `/health answered after ${h.ms.toFixed(0)} ms`);
    let queued = -1;
    for (let i = 0; i < 400 && performance.now() - t0 < 2000; i++) {
      queued = (JSON.parse((await timedGet(`${s.base}/health`)).body) as { queued: number }).queued;
      if (queued === 0) break;
      await sleep(10);
    }
    const emptyAfter = performance.now() - t0;
    assert.equal(queued, 0, `still ${queued} inputs queued after ${emptyAfter.toFixed(0)} ms`);
    assert.ok(emptyAfter <= 2000, `the queue emptied after ${emptyAfter.toFixed(0)} ms`);
    // The server has not run (most of) the abandoned work and still answers.
    const ran = await metric(s.base, 'deberta_batch_size_sum');
    t.diagnostic(`/health after ${h.ms.toFixed(0)} ms, queue empty after ${emptyAfter.toFixed(0)} ms; ${ran} of ${600 * 8} abandoned inputs ran, `
      + `${await metric(s.base, 'deberta_requests_cancelled_total')} requests cancelled, ${await metric(s.base, 'deberta_queue_rejections_total')} refused early`);
    assert.ok(ran < 600 * 8, `${ran} of ${600 * 8} abandoned inputs ran`);
    const res = await classify(s.base, ['Make money fast! Click here now to claim your FREE offer']);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { results: { label: string }[][] }).results[0]![0]!.label, 'spam');
    s.child.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  });
});

describe('deberta serve on SIGTERM', () => {
  it('answers 16/16 requests in flight, and 503 + Connection: close on a kept-alive connection; exits 0', { timeout: 180_000 }, async () => {
    const s = await serve(['--workers', '2', '--threads', '1', '--shutdown-grace-ms', '1000']);
    // A kept-alive connection, idle when SIGTERM comes.
    const sock = connect(s.port, '127.0.0.1');
    let got = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => { got += d; });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    for (let i = 0; i < 500 && !got.includes('"status":"ok"'); i++) await sleep(10);
    assert.match(got, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(got, /\r\nconnection: keep-alive\r\n/i);

    const inputs = Array.from({ length: 16 }, (_, i) => text(1500, i + 100));
    const t0 = performance.now();
    const inFlight = Array.from({ length: 16 }, () => classify(s.base, inputs));
    await sleep(500);
    s.child.kill('SIGTERM');
    const answers = await Promise.all(inFlight.map((p) => p.then(async (r) => ({ status: r.status, n: ((await r.json()) as { results?: unknown[] }).results?.length }), (e: Error) => ({ status: 0, n: e.message }))));
    assert.deepEqual(answers, Array.from({ length: 16 }, () => ({ status: 200, n: 16 })), 'every request sent before SIGTERM is answered');
    assert.ok(performance.now() - t0 > 500, 'the requests were still in flight at SIGTERM');

    got = '';
    sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await closed;
    assert.match(got, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(got, /\r\nconnection: close\r\n/i);
    assert.match(got, /server is shutting down/);
    assert.equal(await s.exited, 0);
    assert.match(s.stderr(), /SIGTERM: finishing requests in flight, then exiting\n[\s\S]*stopped\n/);
  });
});
