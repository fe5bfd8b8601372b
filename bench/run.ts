// `npm run bench`: this project against the peer (the graphs transformers.js runs, through onnxruntime-node,
// and transformers.js itself end to end), in one process, interleaved, medians. See docs/perf.md.
//
//   npm run bench -- [--quick] [--json] [--shapes v3-xsmall,v3-base] [--runs N] [--threads T] [--batches 1x128,8x128]
//                    [--save FILE (the JSON, besides the table)] [--markdown (Markdown tables)]
//                    [--settle-ms MS (idle before each timed run, default 100; 0: back to back)]
//                    [--no-int8] [--no-token] [--no-corpus] [--corpus-texts N] [--corpus-runs N]
//                    [--long 1x2048,1x4096 | --no-long] [--no-load] [--no-cases (no forward-pass cases)] [--no-tokenization]
//                    [--big-model [--big-model-root DIR] (the xxlarge load rows of bench/load-memory.ts; minutes, ~12 GB of disk)]
//
// Rows from other parts of the benchmark, through what those modules export (nothing else is assumed):
//  - bench/training.ts and bench/load-memory.ts may export `benchRows(context: BenchContext): Promise<BenchRow[]>`
//    (types in bench/report.ts): called once per shape, its rows printed with their targets;
//  - bench/load-memory.ts' `bigModelRows({ root, threads })` (rows with what, loadS, forwardS, peakRssMiB,
//    targetMiB, verdict): called once with --big-model.
import '../src/platform/node.ts';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { brownSentences } from './corpus.ts';
import { measureCorpusEndToEnd, measureEndToEnd, mixedTexts } from './end-to-end.ts';
import { machineMatmulRates } from './flops.ts';
import { checkProbe, openSides, runCase } from './inference.ts';
import { createModel } from '../src/models/auto.ts';
import { AutoTokenizer } from '../src/tokenizers/index.ts';
import { measureLoad, stageFiles } from './load-memory.ts';
import { measureLong } from './long-inputs.ts';
import { loadPeerModel, quantizeDynamicPeer, tokenClassificationPeer, writeTempModel } from './peer-graphs.ts';
import { peerSession } from './peer-session.ts';
import { loadPeer, SHAPES, type Peer, type ShapeName } from './peer-weights.ts';
import { formatReport, type BenchContext, type BenchResult, type BenchRow, type ShapeResult } from './report.ts';
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
    'no-token': { type: 'boolean', default: false },
    'no-corpus': { type: 'boolean', default: false },
    'corpus-texts': { type: 'string' },
    'corpus-runs': { type: 'string' },
    'no-cases': { type: 'boolean', default: false },
    'no-tokenization': { type: 'boolean', default: false },
    'no-load': { type: 'boolean', default: false },
    long: { type: 'string' },
    'no-long': { type: 'boolean', default: false },
    'big-model': { type: 'boolean', default: false },
    'big-model-root': { type: 'string' },
  },
});

const quick = args.quick!;
const threads = Number(args.threads);
const runs = args.runs ? Number(args.runs) : undefined;
const shapes = (args.shapes ?? (quick ? 'v3-xsmall' : SHAPES.join(','))).split(',').map((s) => (s.startsWith('v3-') ? s : `v3-${s}`).replace(/-shape$/, '')) as ShapeName[];
for (const s of shapes) if (!SHAPES.includes(s)) throw new Error(`--shapes: unknown shape '${s}' (known: ${SHAPES.join(', ')})`);
const parseCases = (flag: string, text: string) => text.split(',').map((b) => {
  const [x, y] = b.split('x').map(Number);
  if (!Number.isInteger(x) || !Number.isInteger(y) || x! < 1 || y! < 2) throw new Error(`${flag}: '${b}' is not BxN (e.g. 8x128)`);
  return [x!, y!] as [number, number];
});
const batches = args['no-cases'] ? [] : parseCases('--batches', args.batches ?? '1x128,8x128,8x512');
const longCases = args['no-long'] ? [] : parseCases('--long', args.long ?? (quick ? '1x2048' : '1x2048,1x4096'));
/** Without --runs: enough rounds for about targetMs of timed work per case, at least 3 (quick) or 7, after the check run (+1 warm-up). */
const settleMs = Number(args['settle-ms']);
const timing = { warmup: quick ? 0 : 1, runs, targetMs: quick ? 2_000 : 20_000, minRuns: quick ? 3 : 7, settleMs };
const log = (msg: string) => process.stderr.write(`[${((Date.now() - started) / 1e3).toFixed(0).padStart(3)} s] ${msg}\n`);

// Temporary folders (transformers.js' Hub-style folders, derived peer graphs, checkpoints), removed at the end.
const folders = new Map<ShapeName, { dir: string; remove: () => void }>();
function tjsFolderFor(peer: Peer): string {
  if (!folders.has(peer.shape)) folders.set(peer.shape, tjsFolder(peer));
  return folders.get(peer.shape)!.dir;
}
const cleanups = new Set<() => void>();
process.on('exit', () => { for (const f of folders.values()) f.remove(); for (const rm of cleanups) rm(); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
const temp = <T extends { remove: () => void }>(x: T): T => { cleanups.add(x.remove); return x; };

/** The hooks: an optional `benchRows` export of these modules. */
async function hookRows(context: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [name, load] of [['training', () => import('./training.ts')], ['load-memory', () => import('./load-memory.ts')]] as const) {
    const mod = (await load()) as Record<string, unknown>;
    if (typeof mod.benchRows !== 'function') continue;
    try {
      rows.push(...(await (mod.benchRows as (c: BenchContext) => Promise<BenchRow[]>)(context)));
    } catch (e) {
      rows.push({ source: name, label: `${name} rows`, value: `failed: ${(e as Error).message.split('\n')[0]}`, pass: false });
    }
  }
  return rows;
}

/** bench/load-memory.ts' big-model rows, when it exports `bigModelRows` (--big-model). */
async function bigModelRows(root: string | undefined): Promise<BenchRow[]> {
  const mod = (await import('./load-memory.ts')) as Record<string, unknown>;
  if (typeof mod.bigModelRows !== 'function') return [{ source: 'load-memory', label: 'big-model rows', value: 'bench/load-memory.ts exports no bigModelRows' }];
  try {
    const rows = (await (mod.bigModelRows as (o: { root?: string; threads?: number }) => Promise<Record<string, unknown>[]>)({ root, threads })) ?? [];
    const num = (x: unknown, d = 1) => (typeof x === 'number' ? x.toFixed(d) : '?');
    return rows.map((r) => ({
      source: 'load-memory', label: String(r.what ?? '?'),
      value: `${num(r.loadS)} s${r.forwardS === undefined ? '' : `, forward ${num(r.forwardS, 2)} s`}, peak ${num(r.peakRssMiB, 0)} MiB`,
      target: r.targetMiB === undefined ? undefined : `peak ≤ ${num(r.targetMiB, 0)} MiB`,
      pass: r.verdict === undefined ? undefined : r.verdict === 'PASS',
    }));
  } catch (e) {
    return [{ source: 'load-memory', label: 'big-model rows', value: `failed: ${(e as Error).message.split('\n')[0]}`, pass: false }];
  }
}

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
/** With --save, what is measured so far is written after every part (a long run cut short keeps its rows). */
const saveSoFar = (sr?: ShapeResult) => {
  if (args.save) writeFileSync(args.save, `${JSON.stringify({ ...result, shapes: sr && !result.shapes.includes(sr) ? [...result.shapes, sr] : result.shapes }, null, 2)}\n`);
};

const sentences = brownSentences(quick ? 5_000 : Infinity);
const tokenizer = await tjsTokenizer(tjsFolderFor(loadPeer(shapes[0]!)));
const oursEncode = await ourTokenizer(TOKENIZER_DIR);
const oursTok = await AutoTokenizer.fromPretrained(TOKENIZER_DIR, { use: 'tokenizer.json' });
const longText = sentences.slice(0, 20).join(' ');
const corpus = mixedTexts(sentences, args['corpus-texts'] ? Number(args['corpus-texts']) : quick ? 64 : 256);

for (const shape of shapes) {
  log(`${shape}: loading`);
  const peer = loadPeer(shape);
  const sides = await openSides(peer, threads);
  const sr: ShapeResult = { shape, probeDiff: await checkProbe(peer, sides.peer), createMs: { ours: sides.oursCreateMs, peer: sides.peerCreateMs }, cases: [], loadavg: [loadavg()] };
  for (const [b, n] of batches) {
    log(`${shape}: ${b}×${n}`);
    sr.cases.push(await runCase(peer, sides.ours, sides.peer, { head: 'sequence-classification', precision: 'float32', batch: b, seq: n }, timing));
    saveSoFar(sr);
  }
  const peerModel = !args['no-cases'] && (!args['no-token'] || !args['no-int8']) ? loadPeerModel(peer) : undefined;
  if (!args['no-token'] && !args['no-cases']) {
    log(`${shape}: token classification 8×128`);
    const file = temp(writeTempModel(tokenClassificationPeer(peerModel!), `${shape}-token`));
    const peerTok = await peerSession(file.path, threads);
    const oursTokModel = await createModel(peer.config, sides.weights, 'token-classification', { threads });
    sr.token = await runCase(peer, oursTokModel, peerTok, { head: 'token-classification', precision: 'float32', batch: 8, seq: 128 }, timing);
    await oursTokModel.dispose();
    await peerTok.release();
    file.remove();
    saveSoFar(sr);
  }
  if (!args['no-int8'] && !args['no-cases']) {
    log(`${shape}: int8 8×128 (the peer quantised as transformers.js' q8 conversion does)`);
    const q = quantizeDynamicPeer(peerModel!);
    const file = temp(writeTempModel(q.model, `${shape}-q8`));
    const peerInt8 = await peerSession(file.path, threads);
    const oursInt8 = await createModel(peer.config, sides.weights, 'sequence-classification', { threads, quantize: 'int8' });
    sr.int8 = await runCase(peer, oursInt8, peerInt8, { head: 'sequence-classification', precision: 'int8', batch: 8, seq: 128 }, timing, sides.peer);
    sr.int8Peer = { matmuls: q.matmuls, gathers: q.gathers };
    await oursInt8.dispose();
    await peerInt8.release();
    file.remove();
    saveSoFar(sr);
  }
  sr.loadavg!.push(loadavg());
  log(`${shape}: transformers.js end to end`);
  sr.endToEnd = await measureEndToEnd(tjsFolderFor(peer), tokenizer, sides.ours, sides.peer, oursEncode, [longText], { threads, seq: 128, ...timing });
  if (!args['no-corpus']) {
    log(`${shape}: end to end over ${corpus.length} texts`);
    sr.corpus = await measureCorpusEndToEnd(tjsFolderFor(peer), tokenizer, sides.ours, (t, o) => oursTok(t, o), corpus,
      { threads, batchSize: 8, maxLength: 128, ...timing, runs: args['corpus-runs'] ? Number(args['corpus-runs']) : quick ? 1 : 3 });
    saveSoFar(sr);
  }

  const { weights } = sides;
  const needFiles = !args['no-load'] || longCases.length > 0;
  const staged = needFiles ? temp(stageFiles(peer, weights)) : undefined;
  for (const [b, n] of longCases) {
    log(`${shape}: long input ${b}×${n}`);
    (sr.long ??= []).push(await measureLong(peer, sides.ours, sides.peer, staged!, n, { ...timing, threads, memory: true }));
    saveSoFar(sr);
  }
  sr.loadavg!.push(loadavg());
  await sides.ours.dispose();
  await sides.peer.release();

  if (!args['no-load']) {
    log(`${shape}: load time and peak memory (child processes)`);
    sr.load = await measureLoad(staged!, { threads, reps: quick ? 1 : 5, batch: 1, seq: 128 });
  }
  staged?.remove();
  if (shape === 'v3-xsmall') {
    log(`${shape}: training step`);
    result.training = await measureTrainingStep(peer.config, weights, { ...timing, threads, batch: 8, seq: 128 });
  }
  sr.extra = await hookRows({ shape, peer, config: peer.config, weights, threads, quick, timing, log });
  result.shapes.push(sr);
}

if (args['big-model']) {
  log('big model: load and memory rows (bench/load-memory.ts)');
  result.extra = await bigModelRows(args['big-model-root']);
}
if (!args['no-tokenization']) {
  log(`tokenisation: ${sentences.length} Brown sentences`);
  result.tokenization = await measureTokenization(sentences, oursEncode, tjsEncode(tokenizer));
}
result.matmul.end = await machineMatmulRates(threads);
result.matmul.gflops = Math.max(...[...result.matmul.start, ...result.matmul.end].map((x) => x.gflops));
result.machine.loadavgEnd = loadavg();
result.seconds = (Date.now() - started) / 1e3;

const json = `${JSON.stringify(result, null, 2)}\n`;
if (args.save) writeFileSync(args.save, json);
process.stdout.write(args.json ? json : formatReport(result, args.markdown));
