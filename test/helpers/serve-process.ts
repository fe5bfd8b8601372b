// `deberta serve` as a child process on 127.0.0.1 (port 0), for the tests that need a real process: signals,
// sockets reset mid-request, a load balancer in front. The caller stops it (stop() or kill()).
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';

export interface ServeProcess {
  child: ChildProcess;
  base: string;
  port: number;
  /** Everything the server wrote on stderr so far. */
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGKILL if still running; resolves when it has exited. */
  kill(): Promise<void>;
}

export const SPAM_MODEL = 'models/deberta-v3-brown-small-spam';

/** Resolves once the server listens and (unless `untilReady` is false) every model has loaded. */
export async function startServe(args: string[], startMs = 120_000, untilReady = true): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0', '--host', '127.0.0.1',
    '--log-level', 'silent', '--no-static', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within ${startMs} ms:\n${stderr}`)), startMs);
    const check = () => {
      const m = (untilReady ? /ready on (http:\/\/127\.0\.0\.1:\d+)/ : /listening on (http:\/\/127\.0\.0\.1:\d+)/).exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stderr!.on('data', check);
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`serve exited early:\n${stderr}`)); });
  });
  return {
    child, base, port: Number(new URL(base).port), stderr: () => stderr, exited,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A free TCP port on 127.0.0.1 (bound and released; fine for a test's own processes). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** GET over a fresh connection; resolves with the status and the milliseconds it took. */
export function timedGet(url: string, timeoutMs = 10_000): Promise<{ status: number; ms: number; body: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deterministic text of about `chars` characters from a small vocabulary. */
export function text(chars: number, seed = 1): string {
  const words = 'free entry win prize call now meeting notes draft reply tomorrow patch build review account bank details offer click here'.split(' ');
  let s = seed;
  const out: string[] = [];
  let n = 0;
  while (n < chars) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const w = words[s % words.length]!;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ').slice(0, chars);
}
