// The benchmark's result object (what --json prints) and the readable table, with the targets judged.
import type { EndToEndResult } from './end-to-end.ts';
import type { MatmulRate } from './flops.ts';
import type { CaseResult } from './inference.ts';
import type { LoadResult } from './load-memory.ts';
import type { TokResult } from './tokenization.ts';
import type { TrainResult } from './training.ts';

export interface ShapeResult {
  shape: string;
  /** The peer's logits on manifest.json's probe against the recorded ones. */
  probeDiff: number;
  /** createModel from weights in memory / InferenceSession.create, in the bench process (first time). */
  createMs: { ours: number; peer: number };
  cases: CaseResult[];
  /** `quantize: 'int8'` against the peer's float32, at 8 × 128. */
  int8?: CaseResult;
  endToEnd?: EndToEndResult;
  load?: LoadResult;
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
  seconds?: number;
}

/** The performance targets, for the v3-base shape. */
const TIME_TARGETS: Record<string, number> = { '1x128': 0.85, '8x128': 0.85, '8x512': 0.9 };
const EQUAL_WITHIN = 1e-4;
const INT8_TARGET = 0.45;

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
  out.push(' per-round ratios; cpu ratio: of the median process CPU times; diff = max|ours − peer| / max(1, max|peer|) on the logits)');
  const rows: string[][] = [];
  for (const s of r.shapes) {
    for (const [label, c] of [...s.cases.map((c) => [s.shape, c] as const), ...(s.int8 ? [[`${s.shape} int8`, s.int8] as const] : [])]) {
      const cpuRatio = c.ours.cpuMedianMs && c.peer.cpuMedianMs ? (c.ours.cpuMedianMs / c.peer.cpuMedianMs).toFixed(3) : '';
      rows.push([label, `${c.batch}×${c.seq}`, String(c.ours.runs), ms(c.ours.medianMs), ms(c.peer.medianMs), c.ratio.toFixed(3), c.pairedRatio?.toFixed(3) ?? '', cpuRatio,
        c.gflop.toFixed(1), `${c.oursGflops.toFixed(0)} (${pct(c.oursGflops / rate)})`, `${c.peerGflops.toFixed(0)} (${pct(c.peerGflops / rate)})`, c.maxDiff.toExponential(1)]);
    }
  }
  out.push(table(['shape', 'batch', 'runs', 'ours', 'peer', 'ratio', 'paired', 'cpu ratio', 'GFLOP', 'ours GFLOP/s (of matmul)', 'peer GFLOP/s', 'diff'], rows));
  if (r.shapes.some((s) => s.int8)) out.push('(int8: ours with quantize: \'int8\' against the peer in float32; diff is the quantisation error)');
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
  const base = r.shapes.find((s) => s.shape === 'v3-base');
  const res: [boolean | undefined, string][] = [];
  if (!base) return [[undefined, 'v3-base not measured in this run']];
  for (const c of base.cases) {
    const goal = TIME_TARGETS[`${c.batch}x${c.seq}`];
    if (goal) res.push([c.ratio <= goal, `${c.batch}×${c.seq}: ours/peer ${c.ratio.toFixed(3)} ≤ ${goal}`]);
    res.push([c.maxDiff <= EQUAL_WITHIN, `${c.batch}×${c.seq}: outputs within ${EQUAL_WITHIN} (${c.maxDiff.toExponential(1)})`]);
  }
  if (base.int8) res.push([base.int8.ratio <= INT8_TARGET, `int8 ${base.int8.batch}×${base.int8.seq}: ours int8 / peer float32 ${base.int8.ratio.toFixed(3)} ≤ ${INT8_TARGET}`]);
  if (base.load) {
    const l = base.load;
    res.push([l.ours.load.medianMs <= l.peer.load.medianMs, `load time ${ms(l.ours.load.medianMs)} ≤ peer ${ms(l.peer.load.medianMs)}`]);
    res.push([l.ours.peakRssMiB <= l.peer.peakRssMiB, `peak memory ${l.ours.peakRssMiB.toFixed(0)} MiB ≤ peer ${l.peer.peakRssMiB.toFixed(0)} MiB`]);
  }
  const t = r.tokenization;
  if (t) res.push([t.ratio >= 1.5, `tokenisation ≥ 1.5× transformers.js (${t.ratio.toFixed(2)}×)`]);
  return res;
}
