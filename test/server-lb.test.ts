// Two `deberta serve` replicas behind a real load balancer (Debian's haproxy, started here; .ci/run installs
// it), all on 127.0.0.1: one replica is stopped with SIGTERM in the middle of a bounded load loop, and no
// request fails. haproxy checks /ready (503 once a replica begins shutting down), and retries a request a
// stopping replica refused (503, a refused or closed connection) on the other one.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { freePort, sleep, SPAM_MODEL, startServe, timedGet, type ServeProcess } from './helpers/serve-process.ts';

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => spawnSync(p, ['-v']).status === 0);
const tmp = mkdtempSync(join(tmpdir(), 'deberta-lb-'));
const replicas: ServeProcess[] = [];
let proxy: ChildProcess | undefined;
after(async () => {
  proxy?.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.kill()));
  rmSync(tmp, { recursive: true, force: true });
});

function config(port: number, a: number, b: number): string {
  return `global
  maxconn 256
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  # A request a replica refused or dropped goes to the other replica.
  retries 3
  retry-on conn-failure empty-response response-timeout 503
  option redispatch 1
  option http-buffer-request
frontend api
  bind 127.0.0.1:${port}
  default_backend replicas
backend replicas
  balance roundrobin
  option httpchk GET /ready
  default-server inter 200ms fall 1 rise 2
  server a 127.0.0.1:${a} check
  server b 127.0.0.1:${b} check
`;
}

it('a replica stopped with SIGTERM under load behind haproxy: no request fails', { timeout: 240_000, skip: HAPROXY ? false : 'haproxy is not installed (.ci/run installs it with apt)' }, async (t) => {
  const args = ['--model', `spam=${SPAM_MODEL}`, '--workers', '1', '--threads', '1'];
  replicas.push(await startServe(args), await startServe(args));
  const [a, b] = replicas as [ServeProcess, ServeProcess];
  const port = await freePort();
  const cfg = join(tmp, 'haproxy.cfg');
  writeFileSync(cfg, config(port, a.port, b.port));
  proxy = spawn(HAPROXY!, ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let proxyErr = '';
  proxy.stderr!.setEncoding('utf8');
  proxy.stderr!.on('data', (d: string) => { proxyErr += d; });
  const base = `http://127.0.0.1:${port}`;
  // Both replicas up behind the proxy (bounded wait).
  for (let i = 0; i < 200; i++) {
    try {
      if ((await timedGet(`${base}/ready`, 1000)).status === 200) break;
    } catch {
      // not listening yet
    }
    await sleep(25);
  }
  await sleep(600); // two health checks: both servers marked up

  const texts = ['Subject: Make money fast! Earn $5000 a week from home. Click here now to claim your FREE offer!!!',
    'Subject: Re: patch for the build script. The attached patch fixes the failing test on Linux; can you review it?'];
  // What the model says, asked directly: every answer through the proxy must be the same.
  const want = ((await (await fetch(`${b.base}/v1/text-classification`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: texts }),
  })).json()) as { results: { label: string }[][] }).results.map((r) => r[0]!.label);
  const statuses = new Map<number, number>();
  let sent = 0;
  let firstError: string | undefined;
  const client = async () => {
    for (let k = 0; k < 60; k++) {
      sent++;
      let status = 0;
      try {
        const res = await fetch(`${base}/v1/text-classification`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: texts }),
        });
        const body = (await res.json()) as { results?: { label: string }[][] };
        status = res.status;
        if (status === 200) assert.deepEqual(body.results!.map((r) => r[0]!.label), want);
      } catch (err) {
        status = -1;
        firstError ??= String((err as Error).cause ?? (err as Error).message);
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      await sleep(10);
    }
  };
  const load = Promise.all(Array.from({ length: 4 }, client));
  // Stop replica a while the load runs.
  for (let i = 0; i < 200 && sent < 60; i++) await sleep(10);
  a.child.kill('SIGTERM');
  const before = sent;
  await load;
  t.diagnostic(`${sent} requests, SIGTERM to one replica after ${before}; statuses ${JSON.stringify(Object.fromEntries(statuses))}${firstError ? `; first error: ${firstError}` : ''}`);
  assert.equal(await a.exited, 0, `replica a exit:\n${a.stderr()}`);
  assert.deepEqual(Object.fromEntries(statuses), { 200: 240 }, `haproxy:\n${proxyErr}`);
  assert.ok(before < 200, `the replica was stopped mid-load (after ${before} of 240 requests)`);
  // The surviving replica took the rest.
  const metrics = await (await fetch(`http://127.0.0.1:${b.port}/metrics`)).text();
  const served = Number(/deberta_http_requests_total\{route="\/v1\/text-classification",method="POST",status="200"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(served >= 240 - before, `replica b answered ${served}`);
});
