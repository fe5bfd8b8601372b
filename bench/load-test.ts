// Load test of `deberta serve`, on loopback only: starts the server as a child process on 127.0.0.1,
// sends rounds of concurrent POST /v1/text-classification requests (a fixed count per round, within a
// time bound), and reports per round the throughput, p50/p99 latency, failed requests, mean batch size
// and the server's resident memory (from its /metrics). Fails (exit 1) on any failed request, on a round
// cut short by the time bound, or when the server's memory grows by more than --max-growth-mb between
// the first measured round and the last. Ends with SIGTERM and checks the server exits cleanly.
//
//   npm run load-test -- [--model DIR] [--rounds 4] [--requests 300] [--concurrency 16] [--items 1]
//                        [--max-batch 16] [--max-seconds 180] [--max-growth-mb 40] [--threads N]
// Without --model, a random DeBERTa-v3-shaped classifier (hidden 256, 4 layers, on the fixture tokenizer)
// is written to a temporary folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
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
    threads: { type: 'string' },
  },
});
const num = (k: keyof typeof args) => {
  const n = Number(args[k]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${k}: expected a positive integer, got ${args[k]}`);
  return n;
};
const ROUNDS = num('rounds'), REQUESTS = num('requests'), CONCURRENCY = num('concurrency'), ITEMS = num('items');
const DEADLINE = Date.now() + num('max-seconds') * 1000;
const MAX_GROWTH_MB = num('max-growth-mb');

const WORDS = ('the jury said trial was over free entry call now to win a prize weather city today market rose sharply '
  + 'after news report quiet river morning train late again meeting moved to friday please reply soon').split(' ');

/** Deterministic sentences of 4 to 40 words. */
function sentences(n: number, seed = 7): string[] {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: n }, () => Array.from({ length: 4 + Math.floor(rand() * 37) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' '));
}

async function startServer(modelDir: string): Promise<{ child: ChildProcess; base: string; exited: Promise<number | null> }> {
  const flags = ['--model', `cls=${modelDir}`, '--port', '0', '--host', '127.0.0.1', '--max-batch', args['max-batch']!,
    '--max-queue', String(CONCURRENCY * ITEMS * 4), '--log-level', 'warn', '--no-static', ...(args.threads ? ['--threads', args.threads] : [])];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', ...flags], { stdio: ['ignore', 'inherit', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  const base = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`server did not start in 60 s:\n${stderr}`)), 60_000);
    child.stderr!.on('data', (d: string) => {
      stderr += d;
      process.stderr.write(d);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); res(m[1]!); }
    });
    child.on('exit', () => rej(new Error(`server exited:\n${stderr}`)));
  });
  return { child, base, exited };
}

interface Round { sent: number; failed: number; seconds: number; latencies: number[]; firstError?: string }

async function round(base: string, texts: string[], requests: number): Promise<Round> {
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
  return { sent: next, failed, seconds: (performance.now() - t0) / 1000, latencies, firstError };
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

async function main(): Promise<void> {
  const tmp = args.model ? undefined : mkdtempSync(join(tmpdir(), 'deberta-load-'));
  const modelDir = args.model ? resolve(args.model)
    : writeTinyCheckpoint(join(tmp!, 'cls'), { architecture: 'DebertaV2ForSequenceClassification', labels: ['ham', 'spam'], hiddenSize: 256, layers: 4 });
  const { child, base, exited } = await startServer(modelDir);
  let ok = true;
  try {
    const texts = sentences(500);
    await round(base, texts, CONCURRENCY * 4); // warm-up, not reported
    let prev = await scrape(base);
    const firstRss = prev.rssMb;
    console.log(`\nload test: ${ROUNDS} rounds x ${REQUESTS} requests, ${CONCURRENCY} concurrent, ${ITEMS} input(s) each, loopback ${base}`);
    console.log('round  requests  failed   req/s  inputs/s   p50 ms   p99 ms  mean batch  server RSS MB');
    const rss: number[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const res = await round(base, texts, REQUESTS);
      const m = await scrape(base);
      rss.push(m.rssMb);
      const lat = [...res.latencies].sort((a, b) => a - b);
      const done = res.sent - res.failed;
      const meanBatch = (m.items - prev.items) / (m.batches - prev.batches);
      prev = m;
      console.log([String(r).padStart(5), String(res.sent).padStart(9), String(res.failed).padStart(7), (done / res.seconds).toFixed(1).padStart(7),
        (done * ITEMS / res.seconds).toFixed(1).padStart(9), percentile(lat, 0.5).toFixed(1).padStart(8), percentile(lat, 0.99).toFixed(1).padStart(8),
        meanBatch.toFixed(1).padStart(11), m.rssMb.toFixed(1).padStart(13)].join(' '));
      if (res.failed > 0) { ok = false; console.log(`  failed requests: first error: ${res.firstError}`); }
      if (res.sent < REQUESTS) { ok = false; console.log(`  cut short by --max-seconds after ${res.sent} requests`); break; }
    }
    const growth = rss.at(-1)! - rss[0]!;
    console.log(`server RSS: ${firstRss.toFixed(1)} MB after warm-up; ${rss.map((x) => x.toFixed(1)).join(' -> ')} MB over the rounds; growth first->last ${growth.toFixed(1)} MB (limit ${MAX_GROWTH_MB} MB)`);
    if (growth > MAX_GROWTH_MB) { ok = false; console.log('FAIL: memory grows across rounds'); }
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    console.log(`server exit after SIGTERM: ${code}`);
    if (code !== 0) ok = false;
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  console.log(ok ? 'load test passed: no failed requests, memory flat' : 'load test FAILED');
  process.exitCode = ok ? 0 : 1;
}

await main();
