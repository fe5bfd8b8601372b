// One training step: loss and the gradient of every weight (forward + backward, dropout off) for a
// sequence-classification batch, through src/train/step.ts (measureTrainingStep: no optimizer update).
// The fine-tuning targets (trainingRows, and bench/run.ts's hook benchRows): the whole fused step
// (gradients + clipping + AdamW) of bench/train-step.ts in a child process, its peak RSS, and its share
// of the machine's matmul rate. `node --import tsx bench/training.ts` prints those rows alone.
import '../src/platform/node.ts';
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import type { DebertaConfig } from '../src/models/deberta/config.ts';
import { tensor, type Tensor } from '../src/tensor.ts';
import { gradientModelFromTensors } from '../src/train/step.ts';
import { forwardFlops, machineMatmulRates, oursPlan } from './flops.ts';
import type { BenchContext, BenchRow } from './report.ts';
import { makeInputs } from './inputs.ts';
import { interleaved, timeMs, type Timing, type TimingOptions } from './stats.ts';

export interface TrainResult {
  batch: number;
  seq: number;
  /** Building the training graph and its session. */
  createMs?: number;
  step?: Timing;
  gflopPerStep?: number;
  gflops?: number;
  loss?: number;
  note?: string;
}

export async function measureTrainingStep(config: DebertaConfig, weights: Map<string, Tensor>,
  opts: TimingOptions & { threads: number; batch: number; seq: number }): Promise<TrainResult> {
  const base = { batch: opts.batch, seq: opts.seq };
  try {
    let model!: Awaited<ReturnType<typeof gradientModelFromTensors>>;
    const createMs = await timeMs(async () => { model = await gradientModelFromTensors(config, weights, 'sequence-classification', { threads: opts.threads }); });
    const { ids, mask, dims } = makeInputs(config.vocab_size, opts.batch, opts.seq);
    const labels = BigInt64Array.from({ length: opts.batch }, (_, i) => BigInt(i % config.num_labels));
    const batch = { inputIds: tensor('int64', dims, ids), attentionMask: tensor('int64', dims, mask), labels: tensor('int64', [opts.batch], labels) };
    let loss = NaN;
    const roundMsHint = await timeMs(async () => { loss = (await model.computeGradients(batch)).loss; });
    const t = await interleaved({ step: () => model.computeGradients(batch) }, { ...opts, roundMsHint, maxRuns: 10 });
    await model.dispose();
    // The backward pass costs about twice the forward's matrix products: a step ≈ 3 forward passes.
    const gflop = (3 * forwardFlops(config, opts.batch, opts.seq)) / 1e9;
    return { ...base, createMs, step: t.step!, gflopPerStep: gflop, gflops: gflop / (t.step!.medianMs / 1e3), loss };
  } catch (err) {
    return { ...base, note: `failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

/**
 * Matrix-product FLOPs of one training step (forward + backward) of a sequence classifier at batch B, length n:
 * three times the forward's products as this project's graph computes them (the backward multiplies by each
 * product's two operands' gradients; the last layer for the first token only), plus the projections of the
 * relative-embedding table, which training computes every step (inference folds them): of the rows the
 * length uses, min(2n, 2 * span) (training graphs gather the rows, then project them).
 */
export function trainingFlops(config: DebertaConfig, batch: number, n: number): number {
  const H = config.hidden_size;
  const span = config.position_buckets > 0 ? config.position_buckets
    : config.max_relative_positions >= 1 ? config.max_relative_positions : config.max_position_embeddings;
  const terms = config.relative_attention ? config.pos_att_type.filter((t) => t === 'c2p' || t === 'p2c').length : 0;
  const table = config.num_hidden_layers * terms * 2 * Math.min(2 * n, 2 * span) * H * H;
  return 3 * (forwardFlops(config, batch, n, oursPlan(config, n)) + table);
}

/** The fine-tuning step's targets (v3-xsmall shape, batch 8 x 128, 2 threads). */
export const TRAINING_TARGETS = { stepMs: 1000, peakRssBytes: 1.6e9 };

export type TrainingMode = 'fused' | 'split' | 'repeated';

export interface TrainingStepFigures {
  /**
   * fused: GradientModel.trainStep (gradients, clipping and AdamW in one ONNX Runtime run); split:
   * computeGradients then applyUpdate (AdamW in TypeScript), the trainers' path; repeated:
   * GradientModel.trainSteps, eight fused steps in one run (an ONNX Loop).
   */
  mode: TrainingMode;
  /** Median of the timed steps, gradients and update. */
  stepMs: number;
  steps: number;
  peakRssBytes: number;
  gflopPerStep: number;
  /** The best float32 MatMul rate measured in this process (bench/flops.ts), and the step's share of it. */
  matmulGflops: number;
  fraction: number;
  /** Load average before and after the child ran. */
  load: number[][];
  stepPass: boolean;
  rssPass: boolean;
}

/**
 * Runs bench/train-step.ts in a child process, so that its peak RSS is the training step's own, and
 * measures the machine's matmul rate here. `steps` timed steps after two warm-up ones.
 */
export async function measureTrainingTargets(opts: { steps?: number; threads?: number; mode?: TrainingMode } = {}): Promise<TrainingStepFigures> {
  const threads = opts.threads ?? 2, steps = opts.steps ?? 7, mode = opts.mode ?? 'fused';
  const before = loadavg();
  const script = new URL('./train-step.ts', import.meta.url).pathname;
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--mode', mode, '--steps', String(steps), '--threads', String(threads), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`bench/train-step.ts exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))));
  });
  const after = loadavg();
  const r = JSON.parse(out.trim().split('\n').pop()!) as Record<TrainingMode, { medianStepMs: number }> & { peakRssMiB: number; gflopPerStep: number };
  const rates = await machineMatmulRates(threads);
  const matmulGflops = Math.max(...rates.map((x) => x.gflops));
  const stepMs = r[mode].medianStepMs, peakRssBytes = r.peakRssMiB * 2 ** 20;
  return {
    mode, stepMs, steps, peakRssBytes, gflopPerStep: r.gflopPerStep, matmulGflops,
    fraction: r.gflopPerStep / (stepMs / 1e3) / matmulGflops, load: [before, after],
    stepPass: stepMs <= TRAINING_TARGETS.stepMs, rssPass: peakRssBytes <= TRAINING_TARGETS.peakRssBytes,
  };
}

/**
 * The training rows of the benchmark's table, for each mode (default both, each in its own child process):
 * step time and peak RSS, each with its target, and the step's share of the matmul rate.
 */
export async function trainingRows(opts: { steps?: number; threads?: number; modes?: TrainingMode[] } = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const whats: Record<TrainingMode, string> = {
    fused: 'trainStep, AdamW in ONNX Runtime', split: 'computeGradients + applyUpdate: deberta train', repeated: 'trainSteps, 8 fused steps a run: deberta train --steps-per-run 8',
  };
  for (const mode of opts.modes ?? ['fused', 'repeated', 'split'] as const) {
    // Repeated: STEPS counts runs of eight steps.
    const f = await measureTrainingTargets({ ...opts, mode, ...(mode === 'repeated' ? { steps: Math.max(2, Math.ceil((opts.steps ?? 7) / 2)) } : {}) });
    const load = `load ${f.load.map((l) => l[0]!.toFixed(1)).join(' -> ')}`;
    const what = whats[mode];
    rows.push(
      { source: 'training', label: `fine-tuning step, v3-xsmall 8 x 128 (${what})`, value: `${f.stepMs.toFixed(0)} ms (median of ${f.steps}${mode === 'repeated' ? ' runs' : ''}, ${load})`, target: `<= ${TRAINING_TARGETS.stepMs} ms`, pass: f.stepPass },
      { source: 'training', label: `  peak RSS (child process, ${mode})`, value: `${(f.peakRssBytes / 1e9).toFixed(2)} GB`, target: `<= ${TRAINING_TARGETS.peakRssBytes / 1e9} GB`, pass: f.rssPass },
      { source: 'training', label: `  share of the matmul rate (${mode})`, value: `${f.gflopPerStep.toFixed(0)} GFLOP in ${f.stepMs.toFixed(0)} ms = ${(f.gflopPerStep / f.stepMs * 1e3).toFixed(0)} GFLOP/s, ${(100 * f.fraction).toFixed(0)} % of ${f.matmulGflops.toFixed(0)} GFLOP/s` },
    );
  }
  return rows;
}

/** bench/run.ts's hook: the training rows, measured once (with the v3-xsmall shape). */
export async function benchRows(context: BenchContext): Promise<BenchRow[]> {
  if (context.shape !== 'v3-xsmall') return [];
  context.log('training step targets (child process)');
  return trainingRows({ threads: context.threads, steps: context.quick ? 3 : 7 });
}

// `node --import tsx bench/training.ts`: the rows alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await trainingRows()) console.log(`${r.label}: ${r.value}${r.target ? `  [target ${r.target}: ${r.pass ? 'PASS' : 'FAIL'}]` : ''}`);
}
