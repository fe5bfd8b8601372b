// `npm run bench`: this project against the peer (the graphs transformers.js runs, through onnxruntime-node,
// and transformers.js itself end to end), in one process, interleaved, medians. See docs/perf.md.
//
//   npm run bench -- [--quick] [--json] [--shapes v3-xsmall,v3-base] [--runs N] [--threads T] [--batches 1x128,8x128]
//                    [--save FILE (the JSON, besides the table)] [--markdown (Markdown tables)]
//                    [--settle-ms MS (idle before each timed run, default 100; 0: back to back)] [--no-int8]
import '../src/platform/node.ts';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { brownSentences } from './corpus.ts';
import { measureEndToEnd } from './end-to-end.ts';
import { machineMatmulRates } from './flops.ts';
import { checkProbe, openSides, runCase } from './inference.ts';
import { createModel } from '../src/models/auto.ts';
import { measureLoad, stageFiles } from './load-memory.ts';
import { loadPeer, SHAPES, type Peer, type ShapeName } from './peer-weights.ts';
import { formatReport, type BenchResult, type ShapeResult } from './report.ts';
import { measureTokenization, ourTokenizer, tjsEncode } from './tokenization.ts';
import { measureTrainingStep } from './training.ts';
import { TOKENIZER_DIR, tjsFolder, tjsTokenizer } from './transformersjs.ts';

const started = Date.now();
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    shapes: { type: 'string' },
    runs: { type: 'string' },
    threads: { type: 'string', default: '2' },
    batches: { type: 'string' },
    save: { type: 'string' },
    markdown: { type: 'boolean', default: false },
    'settle-ms': { type: 'string', default: '100' },
    'no-int8': { type: 'boolean', default: false },
  },
});

const quick = args.quick!;
const threads = Number(args.threads);
const runs = args.runs ? Number(args.runs) : undefined;
const shapes = (args.shapes ?? (quick ? 'v3-xsmall' : SHAPES.join(','))).split(',').map((s) => (s.startsWith('v3-') ? s : `v3-${s}`).replace(/-shape$/, '')) as ShapeName[];
for (const s of shapes) if (!SHAPES.includes(s)) throw new Error(`--shapes: unknown shape '${s}' (known: ${SHAPES.join(', ')})`);
const batches = (args.batches ?? '1x128,8x128,8x512').split(',').map((b) => b.split('x').map(Number) as [number, number]);
/** Without --runs: enough rounds for about targetMs of timed work per case, at least 3 (quick) or 7, after the check run (+1 warm-up). */
const settleMs = Number(args['settle-ms']);
const timing = { warmup: quick ? 0 : 1, runs, targetMs: quick ? 2_000 : 20_000, minRuns: quick ? 3 : 7, settleMs };
const log = (msg: string) => process.stderr.write(`[${((Date.now() - started) / 1e3).toFixed(0).padStart(3)} s] ${msg}\n`);

// transformers.js needs a Hub-style folder per shape; made once, removed at the end.
const folders = new Map<ShapeName, { dir: string; remove: () => void }>();
function tjsFolderFor(peer: Peer): string {
  if (!folders.has(peer.shape)) folders.set(peer.shape, tjsFolder(peer));
  return folders.get(peer.shape)!.dir;
}
const checkpoints = new Set<() => void>();
process.on('exit', () => { for (const f of folders.values()) f.remove(); for (const rm of checkpoints) rm(); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

const result: BenchResult = {
  date: new Date().toISOString(),
  command: `npm run bench --${process.argv.slice(2).map((a) => ` ${a}`).join('')}`,
  machine: { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? '?', node: process.version, onnxruntime: ort.env.versions.common, loadavgStart: loadavg() },
  threads,
  settleMs,
  matmul: { start: await machineMatmulRates(threads), gflops: 0 },
  shapes: [],
};
log(`matmul: ${result.matmul.start.map((x) => x.gflops.toFixed(1)).join(', ')} GFLOP/s`);

const sentences = brownSentences(quick ? 5_000 : Infinity);
const tokenizer = await tjsTokenizer(tjsFolderFor(loadPeer(shapes[0]!)));
const oursEncode = await ourTokenizer(TOKENIZER_DIR);
const longText = sentences.slice(0, 20).join(' ');

for (const shape of shapes) {
  log(`${shape}: loading`);
  const peer = loadPeer(shape);
  const sides = await openSides(peer, threads);
  const sr: ShapeResult = { shape, probeDiff: await checkProbe(peer, sides.peer), createMs: { ours: sides.oursCreateMs, peer: sides.peerCreateMs }, cases: [] };
  for (const [b, n] of batches) {
    log(`${shape}: ${b}×${n}`);
    sr.cases.push(await runCase(peer, sides, b, n, timing));
  }
  if (!args['no-int8']) {
    log(`${shape}: int8 8×128`);
    const int8 = await createModel(peer.config, sides.weights, 'sequence-classification', { threads, quantize: 'int8' });
    sr.int8 = await runCase(peer, { ...sides, ours: int8 }, 8, 128, timing);
    await int8.dispose();
  }
  log(`${shape}: transformers.js end to end`);
  sr.endToEnd = await measureEndToEnd(tjsFolderFor(peer), tokenizer, sides.ours, sides.peer, oursEncode, [longText], { threads, seq: 128, ...timing });
  await sides.ours.dispose();
  await sides.peer.release();

  log(`${shape}: load time and peak memory (child processes)`);
  const { weights } = sides;
  const staged = stageFiles(peer, weights);
  checkpoints.add(staged.remove);
  try {
    sr.load = await measureLoad(staged, { threads, reps: quick ? 1 : 5, batch: 1, seq: 128 });
  } finally { staged.remove(); checkpoints.delete(staged.remove); }
  if (shape === 'v3-xsmall') {
    log(`${shape}: training step`);
    result.training = await measureTrainingStep(peer.config, weights, { ...timing, threads, batch: 8, seq: 128 });
  }
  result.shapes.push(sr);
}

log(`tokenisation: ${sentences.length} Brown sentences`);
result.tokenization = await measureTokenization(sentences, oursEncode, tjsEncode(tokenizer));
result.matmul.end = await machineMatmulRates(threads);
result.matmul.gflops = Math.max(...[...result.matmul.start, ...result.matmul.end].map((x) => x.gflops));
result.machine.loadavgEnd = loadavg();
result.seconds = (Date.now() - started) / 1e3;

const json = `${JSON.stringify(result, null, 2)}\n`;
if (args.save) writeFileSync(args.save, json);
process.stdout.write(args.json ? json : formatReport(result, args.markdown));
