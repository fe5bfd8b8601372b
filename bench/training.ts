// One training step: loss and the gradient of every weight (forward + backward, dropout off) for a
// sequence-classification batch, through src/train/step.ts. The optimizer update is not included.
import type { DebertaConfig } from '../src/models/deberta/config.ts';
import { tensor, type Tensor } from '../src/tensor.ts';
import { gradientModelFromTensors } from '../src/train/step.ts';
import { forwardFlops } from './flops.ts';
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
