// One training step (forward + backward, gradients of every weight) at batch 8 × 128.
//
// SLOT — src/train/step.ts (`gradientModelFromTensors` / `loadGradientModel` with `computeGradients(batch)`)
// is being written by another engineer. Until it exists the row reports "not available"; it is looked up at
// run time so the bench type-checks either way. The call below follows the API as announced; adjust it here
// once the module lands.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DebertaConfig } from '../src/models/deberta/config.ts';
import type { Tensor } from '../src/tensor.ts';
import { forwardFlops } from './flops.ts';
import { makeInputs } from './inputs.ts';
import { interleaved, type Timing } from './stats.ts';

const STEP_MODULE = '../src/train/step.ts';

interface GradientModel {
  computeGradients(batch: Record<string, unknown>): Promise<unknown>;
  dispose?(): Promise<void> | void;
}
type FromTensors = (config: DebertaConfig, tensors: Map<string, Tensor>, head: string, opts: { threads: number }) => Promise<GradientModel>;

export interface TrainResult { batch: number; seq: number; step?: Timing; gflopPerStep?: number; gflops?: number; note?: string }

export async function measureTrainingStep(config: DebertaConfig, weights: Map<string, Tensor>,
  opts: { threads: number; batch: number; seq: number; runs?: number; targetMs: number }): Promise<TrainResult> {
  const base = { batch: opts.batch, seq: opts.seq };
  const path = join(dirname(fileURLToPath(import.meta.url)), STEP_MODULE);
  if (!existsSync(path)) return { ...base, note: `not available yet (${STEP_MODULE} does not exist)` };
  const mod = (await import(STEP_MODULE)) as { gradientModelFromTensors?: FromTensors };
  if (typeof mod.gradientModelFromTensors !== 'function') return { ...base, note: `${STEP_MODULE} exports no gradientModelFromTensors` };
  try {
    const model = await mod.gradientModelFromTensors(config, weights, 'sequence-classification', { threads: opts.threads });
    const { ids, mask, dims } = makeInputs(config.vocab_size, opts.batch, opts.seq);
    const labels = BigInt64Array.from({ length: opts.batch }, (_, i) => BigInt(i % config.num_labels));
    const batch = { inputIds: { data: ids, dims }, attentionMask: { data: mask, dims }, labels: { data: labels, dims: [opts.batch] } };
    const t = await interleaved({ step: () => model.computeGradients(batch) }, { warmup: 1, runs: opts.runs, targetMs: opts.targetMs, minRuns: 3, maxRuns: 10 });
    await model.dispose?.();
    // Backward ≈ 2 × forward in matrix products: a step ≈ 3 forward passes.
    const gflop = (3 * forwardFlops(config, opts.batch, opts.seq)) / 1e9;
    return { ...base, step: t.step!, gflopPerStep: gflop, gflops: gflop / (t.step!.medianMs / 1e3) };
  } catch (err) {
    return { ...base, note: `failed: ${(err as Error).message.split('\n')[0]}` };
  }
}
