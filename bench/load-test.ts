// Load test of `deberta serve`, on loopback only: for each worker configuration (--configs, workers x
// threads per worker), starts the server as a child process on 127.0.0.1, sends rounds of concurrent
// POST /v1/text-classification requests (a fixed count per round, within a time bound) while a probe
// GETs /health every 50 ms, and reports per round the throughput, p50/p99 latency, failed requests, mean
// batch size, /health latency and the server's resident memory (from its /metrics; worker threads are
// part of the process). Fails (exit 1) on any failed request, on a round cut short by the time bound, or
// when the server's memory grows by more than --max-growth-mb between the first measured round and the
// last. Ends each configuration with SIGTERM and checks the server exits cleanly.
//
//   npm run load-test -- [--model DIR] [--configs 1x2,2x1] [--rounds 4] [--requests 300] [--concurrency 16]
//                        [--items 1] [--max-batch 16] [--max-seconds 180] [--max-growth-mb 40]
//                        [--hidden 256 --layers 4]
// Without --model, a random DeBERTa-v3-shaped float32 classifier (--hidden, --layers, on the fixture
// tokenizer) is written to a temporary folder. Memory is also read from /proc (Linux): resident, and the
// process's anonymous (private, not file-backed) memory, so that the cost of each extra worker shows apart
// from the weights file that ONNX Runtime maps.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import '../src/platform/node.ts';
import { writeTinyCheckpoint } from '../test/helpers/tiny-checkpoint.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    rounds: { type: 'string', default: '4' },
    requests: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '16' },
    items: { type: 'string', default: '1' },
    'max-batch': { type: 'string', default: '16' },
    'max-seconds': { type: 'string', default: '180' },
    'max-growth-mb': { type: 'string', default: '40' },
    configs: { type: 'string', default: '1x2,2x1' },
    hidden: { type: 'string', default: '256' },
    layers: { type: 'string', default: '4' },
  },
});
const CONFIGS = args.configs!.split(',').map((c) => {
  const m = /^(\d+)x(\d+)$/.exec(c.trim());
  if (!m) throw new Error(`--configs: expected WORKERSxTHREADS[,...], e.g. 1x2,2x1; got ${c}`);
  return { workers: Number(m[1]), threads: Number(m[2]) };
});
const num = (k: keyof typeof args) => {
  const n = Number(args[k]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${k}: expected a positive integer, got ${args[k]}`);
  return n;
};
const ROUNDS = num('rounds'), REQUESTS = num('requests'), CONCURRENCY = num('concurrency'), ITEMS = num('items');
const MAX_SECONDS = num('max-seconds');
let DEADLINE = 0;
const MAX_GROWTH_MB = num('max-growth-mb');

const WORDS = ('the jury said trial was over free entry call now to win a prize weather city today market rose sharply '
  + 'after news report quiet river morning train late again meeting moved to friday please reply soon').split(' ');

/** Deterministic sentences of 4 to 40 words. */
function sentences(n: number, seed = 7): string[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, () => Array.from({ length: 4 + Math.floor(rand() * 37) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' '));
}

async function startServer(modelDir: string, workers: number, threads: number): Promise<{ child: ChildProcess; base: string; exited: Promise<number | null> }> {
  const flags = ['--model', `cls=${modelDir}`, '--port', '0', '--host', '127.0.0.1', '--max-batch', args['max-batch']!,
    '--max-queue', String(CONCURRENCY * ITEMS * 4), '--log-level', 'warn', '--no-static', '--workers', String(workers), '--threads', String(threads)];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...flags], { stdio: ['ignore', 'inherit', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const base = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (d: string) => {
      stderr += d;
      process.stderr.write(d);
      const m = /ready on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr); // listening, and every model loaded
      if (m) { clearTimeout(timer); res(m[1]!); }
    });
    child.on('exit', () => rej(new Error(`server exited:\n${stderr}`)));
  });
  return { child, base, exited };
}

interface Round { sent: number; failed: number; seconds: number; latencies: number[]; health: number[]; firstError?: string }

/** GETs /health every 50 ms until stopped; returns the latencies. */
function healthProbe(base: string): { stop: () => Promise<number[]> } {
  const out: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await (await fetch(`${base}/health`)).text();
        out.push(performance.now() - t0);
      } catch {
        out.push(Infinity);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { stop: async () => { running = false; await loop; return out; } };
}

async function round(base: string, texts: string[], requests: number): Promise<Round> {
  const probe = healthProbe(base);
  const latencies: number[] = [];
  let next = 0, failed = 0, firstError: string | undefined;
  const t0 = performance.now();
  const worker = async () => {
    while (next < requests && Date.now() < DEADLINE) {
      const k = next++;
      const inputs = Array.from({ length: ITEMS }, (_, j) => texts[(k * ITEMS + j) % texts.length]!);
      const start = performance.now();
      try {
        const res = await fetch(`${base}/v1/text-classification`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }),
        });
        const body = (await res.json()) as { results?: unknown[]; message?: string };
        if (res.status !== 200 || body.results?.length !== ITEMS) throw new Error(`${res.status}: ${body.message ?? 'wrong result count'}`);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
        continue;
      }
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { sent: next, failed, seconds, latencies, health: await probe.stop(), firstError };
}

/** Nearest-rank percentile. */
function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]! : NaN;
}

async function scrape(base: string): Promise<{ rssMb: number; batches: number; items: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    rssMb: read(/^process_resident_memory_bytes (\S+)$/m) / 2 ** 20,
    batches: read(/^deberta_batch_size_count\{model="cls",task="text-classification"\} (\S+)$/m),
    items: read(/^deberta_batch_size_sum\{model="cls",task="text-classification"\} (\S+)$/m),
  };
}

interface Summary {
  config: string; reqPerS: number; p50: number; p99: number; healthP99: number; healthMax: number; idleRssMb: number; idleAnonMb: number; lastRssMb: number;
}

/** Anonymous (private) memory of a process in MB, from /proc/PID/smaps_rollup; NaN elsewhere. */
function anonMb(pid: number | undefined): number {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Anonymous:\s+(\d+) kB$/m.exec(text)?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

async function runConfig(modelDir: string, workers: number, threads: number, summaries: Summary[]): Promise<boolean> {
  DEADLINE = Date.now() + MAX_SECONDS * 1000;
  const { child, base, exited } = await startServer(modelDir, workers, threads);
  let ok = true;
  const config = `${workers} worker${workers > 1 ? 's' : ''} x ${threads} thread${threads > 1 ? 's' : ''}`;
  try {
    const idleRss = (await scrape(base)).rssMb;
    const idleAnon = anonMb(child.pid);
    const texts = sentences(500);
    await round(base, texts, CONCURRENCY * 4); // warm-up, not reported
    let prev = await scrape(base);
    const firstRss = prev.rssMb;
    console.log(`\nload test, ${config}: ${ROUNDS} rounds x ${REQUESTS} requests, ${CONCURRENCY} concurrent, ${ITEMS} input(s) each, loopback ${base}`);
    console.log('round  requests  failed   req/s  inputs/s   p50 ms   p99 ms  mean batch  health p99 ms  health max ms  server RSS MB');
    const rss: number[] = [];
    const all: number[] = [], health: number[] = [];
    let done = 0, seconds = 0;
    for (let r = 1; r <= ROUNDS; r++) {
      const res = await round(base, texts, REQUESTS);
      const m = await scrape(base);
      rss.push(m.rssMb);
      const lat = [...res.latencies].sort((a, b) => a - b);
      const h = [...res.health].sort((a, b) => a - b);
      all.push(...lat);
      health.push(...h);
      const ok200 = res.sent - res.failed;
      done += ok200;
      seconds += res.seconds;
      const meanBatch = (m.items - prev.items) / (m.batches - prev.batches);
      prev = m;
      console.log([String(r).padStart(5), String(res.sent).padStart(9), String(res.failed).padStart(7), (ok200 / res.seconds).toFixed(1).padStart(7),
        (ok200 * ITEMS / res.seconds).toFixed(1).padStart(9), percentile(lat, 0.5).toFixed(1).padStart(8), percentile(lat, 0.99).toFixed(1).padStart(8),
        meanBatch.toFixed(1).padStart(11), percentile(h, 0.99).toFixed(1).padStart(14), h.at(-1)!.toFixed(1).padStart(14), m.rssMb.toFixed(1).padStart(14)].join(' '));
      if (res.failed > 0) { ok = false; console.log(`  failed requests: first error: ${res.firstError}`); }
      if (res.sent < REQUESTS) { ok = false; console.log(`  cut short by --max-seconds after ${res.sent} requests`); break; }
    }
    const growth = rss.at(-1)! - rss[0]!;
    console.log(`server RSS: ${idleRss.toFixed(1)} MB loaded and idle (anonymous ${idleAnon.toFixed(1)} MB), ${firstRss.toFixed(1)} MB after warm-up; ${rss.map((x) => x.toFixed(1)).join(' -> ')} MB over the rounds; growth first->last ${growth.toFixed(1)} MB (limit ${MAX_GROWTH_MB} MB)`);
    if (growth > MAX_GROWTH_MB) { ok = false; console.log('FAIL: memory grows across rounds'); }
    all.sort((a, b) => a - b);
    health.sort((a, b) => a - b);
    summaries.push({ config, reqPerS: done / seconds, p50: percentile(all, 0.5), p99: percentile(all, 0.99), healthP99: percentile(health, 0.99),
      healthMax: health.at(-1)!, idleRssMb: idleRss, idleAnonMb: idleAnon, lastRssMb: rss.at(-1)! });
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    console.log(`server exit after SIGTERM: ${code}`);
    if (code !== 0) ok = false;
  }
  return ok;
}

async function main(): Promise<void> {
  const tmp = args.model ? undefined : mkdtempSync(join(tmpdir(), 'deberta-load-'));
  const modelDir = args.model ? resolve(args.model)
    : writeTinyCheckpoint(join(tmp!, 'cls'), {
      architecture: 'DebertaV2ForSequenceClassification', labels: ['ham', 'spam'], hiddenSize: num('hidden'), layers: num('layers'),
    });
  let ok = true;
  const summaries: Summary[] = [];
  try {
    for (const c of CONFIGS) ok = (await runConfig(modelDir, c.workers, c.threads, summaries)) && ok;
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  console.log('\nsummary (all rounds together):');
  console.log('| workers x threads | req/s | p50 ms | p99 ms | /health p99 ms | /health max ms | RSS idle MB | anonymous idle MB | RSS under load MB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const x of summaries) {
    console.log(`| ${x.config} | ${x.reqPerS.toFixed(1)} | ${x.p50.toFixed(0)} | ${x.p99.toFixed(0)} | ${x.healthP99.toFixed(1)} | ${x.healthMax.toFixed(1)} | ${x.idleRssMb.toFixed(1)} | ${x.idleAnonMb.toFixed(1)} | ${x.lastRssMb.toFixed(1)} |`);
  }
  console.log(ok ? 'load test passed: no failed requests, memory flat' : 'load test FAILED');
  process.exitCode = ok ? 0 : 1;
}

await main();
