// The benchmark's result object (what --json prints) and the readable table, with the targets judged.
import type { Tensor } from '../src/tensor.ts';
import type { DebertaConfig } from '../src/models/deberta/config.ts';
import type { CorpusResult, EndToEndResult } from './end-to-end.ts';
import type { MatmulRate } from './flops.ts';
import type { CaseResult } from './inference.ts';
import type { LoadResult } from './load-memory.ts';
import type { LongResult } from './long-inputs.ts';
import type { Peer } from './peer-weights.ts';
import type { TimingOptions } from './stats.ts';
import type { TokResult } from './tokenization.ts';
import type { TrainResult } from './training.ts';

export interface ShapeResult {
  shape: string;
  /** The peer's logits on manifest.json's probe against the recorded ones. */
  probeDiff: number;
  /** createModel from weights in memory / InferenceSession.create, in the bench process (first time). */
  createMs: { ours: number; peer: number };
  cases: CaseResult[];
  /** Token classification (every layer in full on both sides), float32, 8 × 128. */
  token?: CaseResult;
  /**
   * int8 at 8 × 128: `quantize: 'int8'` against the peer's own int8 model (bench/peer-graphs.ts). Runs saved
   * before that compared against the peer's float32 (no `precision` field).
   */
  int8?: CaseResult;
  /** What the replayed quantize_dynamic changed in the peer graph. */
  int8Peer?: { matmuls: number; gathers: number };
  endToEnd?: EndToEndResult;
  corpus?: CorpusResult;
  long?: LongResult[];
  load?: LoadResult;
  /** Rows from the hooks (bench/training.ts, bench/load-memory.ts `benchRows`). */
  extra?: BenchRow[];
  /** Load average when the shape started, after its forward-pass cases, and after its long inputs. */
  loadavg?: number[][];
}

/** What a hook's `benchRows` gets: the shape being measured, its weights (by Hugging Face name) and the run's settings. */
export interface BenchContext {
  shape: string;
  peer: Peer;
  config: DebertaConfig;
  weights: Map<string, Tensor>;
  threads: number;
  quick: boolean;
  timing: TimingOptions & { targetMs?: number; minRuns?: number };
  log: (msg: string) => void;
}

/** A row a hook adds: printed under its source with its value, target and PASS / FAIL (when it has a target). */
export interface BenchRow {
  /** e.g. 'training', 'load-memory'. */
  source: string;
  label: string;
  value: string;
  target?: string;
  /** undefined: no target. */
  pass?: boolean;
}

export interface BenchResult {
  date: string;
  command: string;
  machine: { nproc: number; cpu: string; node: string; onnxruntime: string; loadavgStart: number[]; loadavgEnd?: number[] };
  threads: number;
  /** Idle ms before each timed run (absent in runs saved before it existed: back to back). */
  settleMs?: number;
  /** The best of the rates measured at the start and the end of the run. */
  matmul: { start: MatmulRate[]; end?: MatmulRate[]; gflops: number };
  shapes: ShapeResult[];
  tokenization?: TokResult;
  training?: TrainResult;
  /** Rows from the hooks that are not per shape (bench/load-memory.ts' big-model rows). */
  extra?: BenchRow[];
  seconds?: number;
}

/** The performance targets (v3-base shape): ours / peer of the median times, by head, precision and batch. */
const TIME_TARGETS: Record<string, number> = {
  'sequence-classification float32 1x128': 0.75,
  'sequence-classification float32 8x128': 0.75,
  'sequence-classification float32 8x512': 0.75,
  'token-classification float32 8x128': 0.85,
  // Ours int8 against the peer's own int8 model (transformers.js' q8 conversion, replayed).
  'sequence-classification int8 8x128': 0.85,
};
const EQUAL_WITHIN = 1e-4;
const TARGET_SHAPE = 'v3-base';

/** The case's time target, for the target shape; int8 rows saved before the peer had an int8 model have none. */
function caseTarget(shape: string, c: CaseResult): number | undefined {
  if (shape !== TARGET_SHAPE || (c.precision === undefined && c.maxDiff > EQUAL_WITHIN)) return undefined;
  return TIME_TARGETS[`${c.head ?? 'sequence-classification'} ${c.precision ?? 'float32'} ${c.batch}x${c.seq}`];
}

/** PASS when the time ratio meets its target and (float32) the outputs agree within 1e-4. */
function casePass(shape: string, c: CaseResult): boolean | undefined {
  const goal = caseTarget(shape, c);
  if (goal === undefined) return undefined;
  return c.ratio <= goal && (c.precision === 'int8' || c.maxDiff <= EQUAL_WITHIN);
}
const verdict = (ok: boolean | undefined) => (ok === undefined ? 'no target' : ok ? 'PASS' : 'FAIL');

/** A duration for the tables: seconds from 1 s up, else milliseconds. */
export const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(x < 10 ? 2 : 1)} ms`);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/** A plain-text table, or with `markdown` a Markdown one (first column left, the rest right-aligned). */
function makeTable(markdown: boolean) {
  return (header: string[], rows: string[][]): string => {
    const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const cells = (r: string[]) => r.map((c, i) => (i === 0 ? pad(c, w[i]!) : lpad(c, w[i]!)));
    if (!markdown) return [cells(header).join('  '), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map((r) => cells(r).join('  '))].join('\n');
    const line = (r: string[]) => `| ${cells(r).join(' | ')} |`;
    const rule = `|${w.map((n, i) => (i === 0 ? ` ${'-'.repeat(n)} ` : ` ${'-'.repeat(n - 1)}: `)).join('|')}|`;
    return ['', line(header), rule, ...rows.map(line), ''].join('\n');
  };
}

/** The readable report; `markdown` gives the same content with Markdown tables (for docs/perf.md). */
export function formatReport(r: BenchResult, markdown = false): string {
  const table = makeTable(markdown);
  const out: string[] = [];
  const rate = r.matmul.gflops;
  out.push(`deberta-ts benchmark — ${r.date}`);
  out.push(`${r.machine.cpu}, ${r.machine.nproc} cores; node ${r.machine.node}, onnxruntime-node ${r.machine.onnxruntime}; ${r.threads} threads; ${r.settleMs ? `${r.settleMs} ms idle before each timed run` : 'runs back to back'}`);
  out.push(`load average ${r.machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at start${r.machine.loadavgEnd ? `, ${r.machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} at end` : ''}`);
  const rates = (xs: MatmulRate[]) => xs.map((x) => `${x.m}×${x.k}×${x.n} ${x.gflops.toFixed(0)}`).join(', ');
  out.push(`float32 matmul rate (onnxruntime, ${r.threads} threads, best): ${rate.toFixed(1)} GFLOP/s — start ${rates(r.matmul.start)}${r.matmul.end ? `; end ${rates(r.matmul.end)}` : ''}`);
  out.push('');

  out.push('Forward pass (median wall time; ratio = ours / peer of the medians, lower is better; paired: median of the');
  out.push(' per-round ratios; cpu ratio: of the median process CPU times; GFLOP: the matrix products each side computes, ours / peer;');
  out.push(' diff = max|ours − peer| / max(1, max|peer|) on the logits; target: ratio, and diff ≤ 1e-4 for float32)');
  const rows: string[][] = [];
  for (const s of r.shapes) {
    const cases = [...s.cases, ...(s.token ? [s.token] : []), ...(s.int8 ? [s.int8] : [])];
    for (const c of cases) {
      const cpuRatio = c.ours.cpuMedianMs && c.peer.cpuMedianMs ? (c.ours.cpuMedianMs / c.peer.cpuMedianMs).toFixed(3) : '';
      const head = c.head === 'token-classification' ? 'token cls' : 'seq cls';
      const precision = c.precision ?? (c === s.int8 ? 'int8 (peer fp32)' : 'float32');
      const goal = caseTarget(s.shape, c);
      const diff = c.peerQuantDiff === undefined ? c.maxDiff.toExponential(1) : `${c.maxDiff.toExponential(1)} (peer ${c.peerQuantDiff.toExponential(1)})`;
      rows.push([s.shape, head, precision, `${c.batch}×${c.seq}`, String(c.ours.runs), ms(c.ours.medianMs), ms(c.peer.medianMs), c.ratio.toFixed(3), c.pairedRatio?.toFixed(3) ?? '', cpuRatio,
        `${(c.oursGflop ?? c.gflop).toFixed(1)} / ${c.gflop.toFixed(1)}`, `${c.oursGflops.toFixed(0)} (${pct(c.oursGflops / rate)})`, `${c.peerGflops.toFixed(0)} (${pct(c.peerGflops / rate)})`, diff,
        goal === undefined ? '–' : `≤ ${goal}`, verdict(casePass(s.shape, c))]);
    }
  }
  out.push(table(['shape', 'head', 'precision', 'batch', 'runs', 'ours', 'peer', 'ratio', 'paired', 'cpu ratio', 'GFLOP', 'ours GFLOP/s (of matmul)', 'peer GFLOP/s', 'diff', 'target', 'result'], rows));
  if (r.shapes.some((s) => s.int8?.precision === 'int8')) {
    out.push('(int8: ours with quantize: \'int8\' against the peer\'s float32 graph quantised as transformers.js\' q8 conversion does');
    out.push(` (${r.shapes.filter((s) => s.int8Peer).map((s) => `${s.shape}: ${s.int8Peer!.matmuls} MatMul → MatMulInteger, ${s.int8Peer!.gathers} Gather on int8`).join('; ')});`);
    out.push(' diff: ours int8 against the peer\'s float32 logits, and the peer\'s int8 against its float32)');
  }
  const loadavgs = r.shapes.filter((s) => s.loadavg).map((s) => `${s.shape} ${s.loadavg!.map((l) => l[0]!.toFixed(2)).join(' → ')}`);
  if (loadavgs.length) out.push(`1-minute load average during the cases: ${loadavgs.join('; ')}`);
  out.push(`peer vs manifest probe: ${r.shapes.map((s) => `${s.shape} ${s.probeDiff.toExponential(1)}`).join(', ')}`);
  out.push('');

  const e2e = r.shapes.filter((s) => s.endToEnd);
  if (e2e.length) {
    out.push('End to end, text → logits (median; ratio = ours / transformers.js)');
    out.push(table(['shape', 'batch', 'transformers.js', 'ours', 'ratio', 'peer graph alone', 'tjs load', 'diff', 'same ids'],
      e2e.map((s) => { const e = s.endToEnd!; return [s.shape, `${e.batch}×${e.seq}`, ms(e.tjs.medianMs), ms(e.ours.medianMs), e.ratio.toFixed(3), ms(e.peerOnly.medianMs), ms(e.tjsLoadMs), e.maxDiff.toExponential(1), e.sameIds === undefined ? '' : e.sameIds ? 'yes' : 'no']; })));
    if (e2e.some((s) => s.endToEnd!.sameIds === false)) out.push('(ids differ: transformers.js drops the final [SEP] when it truncates; Python transformers and this project keep it. diff: both models on transformers.js\' ids)');
    out.push('');
  }

  const corpora = r.shapes.filter((s) => s.corpus);
  if (corpora.length) {
    out.push('End to end over a corpus: text → label and score (tokenise in batches, pad to the longest, truncate, run, softmax), all texts, median of the runs');
    out.push(table(['shape', 'texts', 'batch', 'max length', 'runs', 'transformers.js', 'ours', 'ratio', 'tokens ours / tjs', 'same label'],
      corpora.map((s) => { const c = s.corpus!; return [s.shape, String(c.texts), String(c.batchSize), String(c.maxLength), String(c.ours.runs), ms(c.tjs.medianMs), ms(c.ours.medianMs), c.ratio.toFixed(3), `${c.tokens.ours} / ${c.tokens.tjs}`, `${c.sameLabel} / ${c.texts}`]; })));
    out.push('(no target; transformers.js drops the final [SEP] of a truncated text, so a few rows differ by a token)');
    out.push('');
  }

  const longs = r.shapes.filter((s) => s.long?.length);
  if (longs.length) {
    out.push('Long inputs, sequence classification (time: median, interleaved; peak: fresh process per side, load + one run at that length;');
    out.push(' [B,H,n,n]: one float32 tensor of the attention\'s size; no target)');
    out.push(table(['shape', 'batch', 'runs', 'ours', 'peer', 'ratio', 'ours peak', 'peer peak', 'peak ratio', 'one [B,H,n,n] f32', 'diff'],
      longs.flatMap((s) => s.long!.map((l) => l.error ? [s.shape, `${l.batch}×${l.seq}`, 'failed', l.error, '', '', '', '', '', '', '']
        : [s.shape, `${l.batch}×${l.seq}`, String(l.time!.ours.runs), ms(l.time!.ours.medianMs), ms(l.time!.peer.medianMs), l.time!.ratio.toFixed(3),
          l.peakMiB ? `${l.peakMiB.ours.toFixed(0)} MiB` : '', l.peakMiB ? `${l.peakMiB.peer.toFixed(0)} MiB` : '', l.peakMiB ? (l.peakMiB.ours / l.peakMiB.peer).toFixed(2) : '',
          `${l.scoreTensorMiB.toFixed(0)} MiB`, l.time!.maxDiff.toExponential(1)]))));
    out.push('');
  }

  const extra = [...r.shapes.flatMap((s) => (s.extra ?? []).map((x) => [x.source, s.shape, x.label, x.value, x.target ?? '–', verdict(x.pass)])),
    ...(r.extra ?? []).map((x) => [x.source, '', x.label, x.value, x.target ?? '–', verdict(x.pass)])];
  if (extra.length) {
    out.push('Other rows (bench/training.ts, bench/load-memory.ts)');
    out.push(table(['from', 'shape', 'row', 'value', 'target', 'result'], extra));
    out.push('');
  }

  const loads = r.shapes.filter((s) => s.load);
  if (loads.length) {
    const l0 = loads[0]!.load!;
    out.push(`Load and peak memory (fresh child process per side, ${l0.reps} each, medians; peak RSS after load + one ${l0.batch}×${l0.seq} run;`);
    out.push(' ours: loadModel(checkpoint folder) — peer: InferenceSession.create(model.onnx); base = RSS before loading)');
    out.push(table(['shape', 'ours load', 'peer load', 'ratio', 'ours peak', 'peer peak', 'ratio', 'base', 'weights'],
      loads.map((s) => { const l = s.load!; return [s.shape, ms(l.ours.load.medianMs), ms(l.peer.load.medianMs), (l.ours.load.medianMs / l.peer.load.medianMs).toFixed(2),
        `${l.ours.peakRssMiB.toFixed(0)} MiB`, `${l.peer.peakRssMiB.toFixed(0)} MiB`, (l.ours.peakRssMiB / l.peer.peakRssMiB).toFixed(2), `${l.ours.baseRssMiB.toFixed(0)} MiB`, `${l.checkpointMiB.toFixed(0)} MiB`]; })));
    out.push(`in-process creation, weights already in memory: ${r.shapes.map((s) => `${s.shape} ours ${ms(s.createMs.ours)}, peer ${ms(s.createMs.peer)}`).join('; ')}`);
    out.push('');
  }

  const t = r.tokenization;
  if (t) {
    out.push(`Tokenisation (Brown corpus, ${t.tjs.sentences} sentences, ${(t.tjs.chars / 1e6).toFixed(1)} M chars, one sentence per call)`);
    const row = (name: string, x: TokResult['tjs']) => [name, `${(x.sentencesPerS / 1e3).toFixed(1)} k/s`, `${(x.tokensPerS / 1e6).toFixed(3)} M/s`, `${x.mbPerS.toFixed(2)} MB/s`, ms(x.ms)];
    out.push(table(['tokenizer', 'sentences', 'tokens', 'text', 'total'], [row('ours', t.ours), row('transformers.js', t.tjs)]));
    out.push(`rate ours / transformers.js: ${t.ratio.toFixed(2)}×; ids differ on ${t.mismatches} of ${t.checked} sentences checked`);
    out.push('');
  }

  const tr = r.training;
  if (tr) {
    out.push(`Training step (v3-xsmall, forward + backward, batch ${tr.batch}×${tr.seq}): ${tr.step
      ? `${ms(tr.step.medianMs)} median of ${tr.step.runs}; ≈${tr.gflopPerStep!.toFixed(0)} GFLOP → ${tr.gflops!.toFixed(0)} GFLOP/s (${pct(tr.gflops! / rate)} of matmul); graph + session built in ${ms(tr.createMs!)}`
      : tr.note}`);
    out.push('');
  }

  out.push('Targets (v3-base shape)');
  if (markdown) out.push('');
  out.push(...targets(r).map(([ok, text]) => `${markdown ? '-' : ' '} ${ok === undefined ? '  -' : ok ? 'PASS' : 'FAIL'}  ${text}`));
  if (r.seconds) out.push(`\n(${r.seconds.toFixed(0)} s)`);
  const text = out.join('\n');
  // Markdown: a hard line break at the end of each line of a paragraph.
  return `${markdown ? text.replace(/([^\n|])\n(?=[^\n|-])/g, '$1  \n') : text}\n`;
}

function targets(r: BenchResult): [boolean | undefined, string][] {
  const base = r.shapes.find((s) => s.shape === TARGET_SHAPE);
  const res: [boolean | undefined, string][] = [];
  if (!base) return [[undefined, `${TARGET_SHAPE} not measured in this run`]];
  for (const c of [...base.cases, ...(base.token ? [base.token] : []), ...(base.int8 ? [base.int8] : [])]) {
    const goal = caseTarget(base.shape, c);
    const what = `${c.head === 'token-classification' ? 'token classification' : 'sequence classification'} ${c.precision ?? 'float32'} ${c.batch}×${c.seq}`;
    if (goal !== undefined) res.push([c.ratio <= goal, `${what}: ours/peer ${c.ratio.toFixed(3)} ≤ ${goal}${c.precision === 'int8' ? ' (the peer\'s int8 model)' : ''}`]);
    if (c.precision !== 'int8' && !(c === base.int8 && c.precision === undefined)) res.push([c.maxDiff <= EQUAL_WITHIN, `${what}: outputs within ${EQUAL_WITHIN} (${c.maxDiff.toExponential(1)})`]);
  }
  if (base.load) {
    const l = base.load;
    res.push([l.ours.load.medianMs <= l.peer.load.medianMs, `load time ${ms(l.ours.load.medianMs)} ≤ peer ${ms(l.peer.load.medianMs)}`]);
    res.push([l.ours.peakRssMiB <= l.peer.peakRssMiB, `peak memory ${l.ours.peakRssMiB.toFixed(0)} MiB ≤ peer ${l.peer.peakRssMiB.toFixed(0)} MiB`]);
  }
  for (const x of [...(base.extra ?? []), ...(r.extra ?? [])]) if (x.pass !== undefined) res.push([x.pass, `${x.source}: ${x.label}: ${x.value} (${x.target ?? 'no target'})`]);
  const t = r.tokenization;
  if (t) res.push([t.ratio >= 1.5, `tokenisation ≥ 1.5× transformers.js (${t.ratio.toFixed(2)}×)`]);
  return res;
}
