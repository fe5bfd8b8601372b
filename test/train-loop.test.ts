// The training loop shared by fine-tuning and pretraining (src/train/loop.ts), driven by a two-weight
// linear model whose gradients are exact: which evaluation becomes OUT/best (NaN never does; lower or
// higher is better by the metric's name), stopping and resuming, the resume-settings check, gradient
// accumulation and the argument checks. Then a real pretraining run picking OUT/best by perplexity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { applyUpdate, type AdamW } from '../src/train/optim.ts';
import { pretrain } from '../src/pretrain/trainer.ts';
import { emptyStats, statsMetrics } from '../src/pretrain/model.ts';
import { tensor, type Tensor } from '../src/tensor.ts';
import { readResumeState } from '../src/train/checkpoint.ts';
import { improves, lowerIsBetter, runLoop, TrainingRun, type Gradients, type LoopOptions, type LoopSpec, type TrainableModel } from '../src/train/loop.ts';
import { brown, tinyConfig, tinyConfigJson } from './helpers/pretrain.ts';

test('improves: a NaN never becomes the best, a real value after a NaN does; ties do not', () => {
  assert.equal(improves('accuracy', NaN, null), false);
  assert.equal(improves('mse', NaN, null), false);
  assert.equal(improves('accuracy', NaN, 0.5), false);
  assert.equal(improves('accuracy', 0.25, NaN), true);
  assert.equal(improves('mse', 7.5, NaN), true);
  assert.equal(improves('accuracy', 0.25, null), true);
  assert.equal(improves('accuracy', 0.6, 0.5), true);
  assert.equal(improves('accuracy', 0.5, 0.5), false);
  assert.equal(improves('accuracy', 0.4, 0.5), false);
  assert.equal(improves('mse', 0.2, 0.3), true);
  assert.equal(improves('mse', 0.3, 0.3), false);
  assert.equal(improves('mse', 0.4, 0.3), false);
  assert.equal(improves('perplexity', 41.5, 42), true);
  assert.equal(improves('rtd_accuracy', 0.93, 0.92), true);
});

test('lower is better for errors, losses and perplexity, by one rule for fine-tuning and pretraining metrics', () => {
  // Every metric fine-tuning evaluation computes (src/train/evaluate.ts), by task and problem type.
  const fineTuning = {
    accuracy: false, macro_f1: false, micro_f1: false, exact_match: false, mse: true, pearson: false, spearman: false,
    token_accuracy: false, precision: false, recall: false, f1: false, rmse: true, mae: true, loss: true,
  };
  for (const [name, lower] of Object.entries(fineTuning)) assert.equal(lowerIsBetter(name), lower, name);
  // Every metric pretraining evaluation computes, read off statsMetrics itself.
  const pretraining = Object.keys(statsMetrics(emptyStats(), 'rtd', 50)).sort();
  assert.deepEqual(pretraining, ['accuracy', 'loss', 'mlm_loss', 'perplexity', 'replaced', 'rtd_accuracy', 'rtd_loss']);
  assert.deepEqual(pretraining.filter(lowerIsBetter), ['loss', 'mlm_loss', 'perplexity', 'rtd_loss']);
  assert.deepEqual(Object.keys(statsMetrics(emptyStats(), 'mlm')).filter(lowerIsBetter).sort(), ['loss', 'mlm_loss', 'perplexity']);
  // The last word decides: a name merely containing "loss" is not a loss.
  assert.equal(lowerIsBetter('lossless_ratio'), false);
  assert.equal(lowerIsBetter('val_loss'), true);
});

// y = 2a - 3b on 12 points: the model w·x with w from [0, 0], loss the mean squared error.
const X = Array.from({ length: 12 }, (_, i) => [Math.cos(i), Math.sin(2 * i)] as const);
const Y = X.map(([a, b]) => 2 * a - 3 * b);

/** The linear model as the loop sees a model: float32 weights updated in place, exact gradients. */
function linearModel(w: ArrayLike<number> = [0, 0]) {
  const params = new Map<string, Tensor>([['w', tensor('float32', [2], Float32Array.from(w))]]);
  const model = {
    params, step: 0, disposed: false, stepsSeen: [] as number[],
    async computeGradients(idx: number[]): Promise<Gradients> {
      model.stepsSeen.push(model.step++);
      const p = params.get('w')!.data as Float32Array;
      let loss = 0, g0 = 0, g1 = 0;
      for (const i of idx) {
        const [a, b] = X[i]!;
        const r = p[0]! * a + p[1]! * b - Y[i]!;
        loss += r * r; g0 += 2 * r * a; g1 += 2 * r * b;
      }
      const n = idx.length;
      return { loss: loss / n, grads: new Map([['w', tensor('float32', [2], Float32Array.from([g0 / n, g1 / n]))]]) };
    },
    async dispose() { model.disposed = true; },
  };
  return model;
}
type Linear = ReturnType<typeof linearModel>;

/** The loop over the linear model; `scores` are what successive evaluations report, under `metric`. */
function linearSpec(run: TrainingRun, model: Linear & TrainableModel<number[], Gradients>, scores: number[] = [], metric = 'score',
  over: Partial<LoopSpec<number[], Gradients, { metrics: Record<string, number> }>> = {}) {
  const plan = run.plan(X.length);
  let k = 0;
  const spec: LoopSpec<number[], Gradients, { metrics: Record<string, number> }> = {
    plan, args: { ...run.settings(plan), masking: { rate: 0.15, wholeWord: false } }, items: X.length, model,
    batch: (idx) => ({ batch: idx, weight: idx.length, tokens: 3 * idx.length }),
    evaluate: scores.length ? async () => ({ metrics: { [metric]: scores[k++]! } }) : undefined,
    defaultMetric: metric, what: 'the linear model', headline: `fitting ${X.length} points`, unit: 'points', reportBy: 'epoch',
    checkpoint: () => ({ config: tinyConfig(), weights: model.params }),
    ...over,
  };
  return spec;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'train-loop-'));
}

const quiet = { progress: false, log: () => {} };

test('OUT/best: the evaluation the metric ranks best, NaN never, by each metric name\'s direction', async () => {
  const dir = tmp();
  try {
    // 12 points in micro-batches of 6: 2 updates an epoch, 4 epochs, an evaluation after each (updates 2, 4, 6, 8).
    const cases: [string, number[], number | null][] = [
      ['f1', [NaN, 0.5, NaN, 0.25], 1], // a NaN first evaluation is not the best; the real value after it is
      ['mse', [NaN, 0.9, 0.4, 0.6], 2],
      ['perplexity', [12, NaN, 7, 9], 2],
      ['rtd_accuracy', [0.6, 0.55, 0.7, NaN], 2],
      ['mlm_loss', [3, 2, 2, 2.5], 1], // a tie does not replace the best
      ['spearman', [NaN, NaN, NaN, NaN], null], // never a best: no OUT/best at all
    ];
    for (const [metric, scores, best] of cases) {
      const out = join(dir, metric);
      // The first update that finds OUT/best: the one after the first evaluation that is not NaN.
      let bestSeenAt: number | null = null;
      const onStep = ({ step }: { step: number }) => { if (bestSeenAt === null && existsSync(join(out, 'best'))) bestSeenAt = step; };
      const opts: LoopOptions = { out, batchSize: 6, epochs: 4, lr: 0.05, metric, onStep, ...quiet };
      const run = new TrainingRun(opts, { batchSize: 8, epochs: 3, lr: 5e-5, weightDecay: 0 });
      const model = linearModel();
      const r = await runLoop(run, linearSpec(run, model, scores, metric));
      const firstReal = scores.findIndex((x) => !Number.isNaN(x));
      assert.equal(bestSeenAt, firstReal === -1 || firstReal === 3 ? null : 2 * (firstReal + 1) + 1, metric);
      assert.equal(r.state.globalStep, 8, metric);
      assert.equal(model.disposed, true, 'the loop disposes of the model');
      const evals = r.state.logHistory.filter((h) => metric in h);
      assert.deepEqual(evals.map((h) => [h.step, h.epoch]), [[2, 1], [4, 2], [6, 3], [8, 4]], metric);
      assert.deepEqual(evals.map((h) => h[metric]), scores, metric);
      if (best === null) {
        assert.deepEqual([r.state.bestMetric, r.state.bestStep, r.bestDir, r.bestEval], [null, null, null, null], metric);
        assert.equal(existsSync(join(out, 'best')), false, metric);
        continue;
      }
      assert.equal(r.state.bestMetric, scores[best], metric);
      assert.equal(r.state.bestStep, 2 * (best + 1), metric);
      assert.equal(r.bestDir, join(out, 'best'));
      assert.deepEqual(r.bestEval!.metrics, { [metric]: scores[best] });
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'best', 'eval_results.json'), 'utf8')), { step: 2 * (best + 1), epoch: best + 1, [metric]: scores[best] });
      assert.deepEqual(r.lastEval!.metrics[metric], scores[3], metric);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stopped at an update, the run saves OUT/last and says so; resumed, it ends on the uninterrupted run\'s weights', async () => {
  const dir = tmp();
  try {
    const base: LoopOptions = { out: '', batchSize: 4, gradAccum: 2, epochs: 3, lr: 0.05, schedule: 'cosine', warmupSteps: 1, ...quiet };
    const defaults = { batchSize: 8, epochs: 3, lr: 5e-5, weightDecay: 0.01 };
    // 12 points, micro-batches of 4, 2 per update: updates of 8 and 4 points, 2 an epoch, 6 in all.
    const straightModel = linearModel();
    const straight = new TrainingRun({ ...base, out: join(dir, 'straight') }, defaults);
    const full = await runLoop(straight, linearSpec(straight, straightModel, [0.1, 0.2, 0.3]));
    assert.equal(full.state.globalStep, 6);
    assert.equal(full.interrupted, false);
    assert.deepEqual(straightModel.stepsSeen, [0, 1, 2, 3, 4, 5, 6, 7, 8]); // 3 micro-batches an epoch

    const lines: string[] = [];
    const stop = new AbortController();
    const out = join(dir, 'split');
    const part = new TrainingRun({ ...base, out, signal: stop.signal, log: (l) => lines.push(l), onStep: ({ step }) => { if (step === 3) stop.abort(); } }, defaults);
    const first = linearModel();
    const r1 = await runLoop(part, linearSpec(part, first, [0.1, 0.2, 0.3]));
    assert.equal(r1.interrupted, true);
    assert.equal(r1.state.globalStep, 3);
    const last = join(out, 'last');
    assert.deepEqual(lines, [
      'fitting 12 points: 3 epoch(s), 6 updates of 8 points, lr 0.05 (cosine, 1 warm-up)',
      `interrupted: saved ${last} at update 3 (continue with --resume ${last})`,
    ]);
    const saved = readResumeState(last);
    const st = saved.trainerState;
    assert.deepEqual([st.globalStep, st.epoch, st.batchInEpoch, st.dropoutStep, st.totalSteps, saved.optimizer.step], [3, 1, 2, 5, 6, 3]);
    assert.deepEqual([st.bestMetric, st.bestStep], [0.1, 2]);
    const w = readSafetensors(join(last, 'model.safetensors')).tensors.get('w')!;
    assert.deepEqual(w.data, first.params.get('w')!.data);
    assert.deepEqual([...saved.optimizer.tensors.keys()].sort(), ['exp_avg.w', 'exp_avg_sq.w']);

    // Resumed with a fresh model holding the saved weights: the same micro-batches, steps and weights.
    const again = new TrainingRun({ ...base, out, resume: last }, defaults);
    const second = linearModel(w.data as Float32Array);
    const r2 = await runLoop(again, linearSpec(again, second, [0.2, 0.3]));
    assert.equal(r2.state.globalStep, 6);
    assert.deepEqual(second.stepsSeen, [5, 6, 7, 8]);
    assert.deepEqual(second.params.get('w')!.data, straightModel.params.get('w')!.data);
    assert.deepEqual(r2.state.logHistory.filter((h) => 'score' in h).map((h) => [h.step, h.score]), [[2, 0.1], [4, 0.2], [6, 0.3]]);
    assert.deepEqual([r2.state.bestMetric, r2.state.bestStep], [0.3, 6]);

    // Nothing left to do: said, and nothing is written.
    const done: string[] = [];
    const finished = new TrainingRun({ ...base, out: join(dir, 'elsewhere'), resume: last, log: (l) => done.push(l) }, defaults);
    const f = finished.finished(finished.plan(X.length));
    assert.deepEqual([f?.state.globalStep, f?.lastDir, f?.bestDir], [6, last, join(out, 'best')]);
    assert.deepEqual(done, [`nothing to do: ${last} has already done all 6 updates; nothing was trained or written`]);
    assert.equal(existsSync(join(dir, 'elsewhere')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a resumed run must repeat the settings that shape it: the error names the first that differs', async () => {
  const dir = tmp();
  try {
    const base: LoopOptions = { out: join(dir, 'a'), batchSize: 4, maxSteps: 2, lr: 0.05, seed: 7, ...quiet };
    const defaults = { batchSize: 8, epochs: 3, lr: 5e-5, weightDecay: 0 };
    const run = new TrainingRun(base, defaults);
    await runLoop(run, linearSpec(run, linearModel()));
    const last = join(dir, 'a', 'last');
    const resumed = (over: Partial<LoopOptions>) => {
      const r = new TrainingRun({ ...base, ...over, resume: last }, defaults);
      return { run: r, args: { ...r.settings(r.plan(X.length)), masking: { rate: 0.15, wholeWord: false } } };
    };
    const keys = [...TrainingRun.RESUME_KEYS, 'masking'];
    const same = resumed({});
    same.run.checkResume(same.args, keys);
    const cases: [Partial<LoopOptions>, string][] = [
      [{ batchSize: 6 }, 'batchSize 4, this run asks for 6'],
      [{ gradAccum: 2 }, 'gradAccum 1, this run asks for 2'],
      [{ maxSteps: 3 }, 'totalSteps 2, this run asks for 3'],
      [{ seed: 8 }, 'seed 7, this run asks for 8'],
      [{ maxLength: 64 }, 'maxLength 128, this run asks for 64'],
      [{ batchSize: 6, seed: 8 }, 'batchSize 4, this run asks for 6'],
    ];
    for (const [over, what] of cases) {
      const r = resumed(over);
      assert.throws(() => r.run.checkResume(r.args, keys), { message: `${last}: was trained with ${what}; resume with the same settings` });
    }
    // Settings are compared by value, objects included.
    assert.throws(() => same.run.checkResume({ masking: { rate: 0.2, wholeWord: false } }, ['masking']),
      { message: `${last}: was trained with masking {"rate":0.15,"wholeWord":false}, this run asks for {"rate":0.2,"wholeWord":false}; resume with the same settings` });
    same.run.checkResume({ masking: { rate: 0.15, wholeWord: false } }, ['masking']);
    // A setting the earlier run did not record is not checked.
    same.run.checkResume({ docStride: 32 }, ['docStride']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gradient accumulation: micro-batches of 4 and 2 make the update one batch of 6 makes', async () => {
  const dir = tmp();
  try {
    const weights = async (batchSize: number, gradAccum: number) => {
      const run = new TrainingRun({ out: join(dir, `${batchSize}x${gradAccum}`), batchSize, gradAccum, maxSteps: 1, lr: 0.1, seed: 3, ...quiet },
        { batchSize: 8, epochs: 1, lr: 0, weightDecay: 0 });
      const model = linearModel([0.5, -0.5]);
      // 6 points: one micro-batch of 6, or micro-batches of 4 and 2 accumulated into one update.
      const r = await runLoop(run, { ...linearSpec(run, model), items: 6, plan: run.plan(6) });
      return { w: Array.from(model.params.get('w')!.data as Float32Array), loss: r.state.logHistory[0]!.loss as number };
    };
    const one = await weights(6, 1), two = await weights(4, 2);
    // The same 6 points (the shuffled order of epoch 0 does not depend on the batch size).
    assert.ok(Math.abs(one.loss - two.loss) < 1e-6 * one.loss, `loss ${one.loss} vs ${two.loss}`);
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(one.w[i]! - two.w[i]!) < 1e-6, `w ${one.w} vs ${two.w}`);
    assert.notDeepEqual(one.w, [0.5, -0.5]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--steps-per-run: updates run in groups that never cross an evaluation, a save, an epoch or a change of dims, and end where single updates do', async () => {
  const dir = tmp();
  try {
    const fit = async (stepsPerRun: number, batchSize: number) => {
      const run = new TrainingRun({ out: join(dir, `s${stepsPerRun}b${batchSize}`), batchSize, stepsPerRun, epochs: 2, lr: 0.1, saveSteps: 5, seed: 3, ...quiet },
        { batchSize: 8, epochs: 1, lr: 0, weightDecay: 0 });
      const groups: number[] = [];
      // The linear model, several updates a call: each batch's gradients, then the loop's own AdamW step.
      const model = Object.assign(linearModel(), {
        stackable: (a: number[], b: number[]) => a.length === b.length,
        async trainSteps(batches: number[][], opt: AdamW, lrs: number[], maxGradNorm: number) {
          assert.ok(batches.every((b) => b.length === batches[0]!.length));
          groups.push(batches.length);
          const out = [];
          for (const [k, b] of batches.entries()) {
            const r = await model.computeGradients(b);
            applyUpdate(opt, r.grads, lrs[k]!, maxGradNorm);
            out.push({ loss: r.loss });
          }
          return out;
        },
      });
      const r = await runLoop(run, { ...linearSpec(run, model, Array.from({ length: 9 }, (_, i) => i)), evalSteps: 4 });
      const losses = r.state.logHistory.filter((e) => 'loss' in e).map((e) => e.loss);
      return { groups, w: Array.from(model.params.get('w')!.data as Float32Array), losses, steps: r.state.globalStep, dropout: r.state.dropoutStep };
    };
    // 12 points in micro-batches of 2: 6 updates an epoch, 12 in all; evaluations after updates 4, 6, 8 and
    // 12, saves after 5 and 10, so groups of at most 4 stop at 4, 5, 6 | 8, 10, 12.
    const single = await fit(1, 2), grouped = await fit(4, 2);
    assert.deepEqual(single.groups, []);
    assert.deepEqual(grouped.groups, [4, 1, 1, 2, 2, 2]);
    assert.deepEqual(grouped.w, single.w);
    assert.deepEqual(grouped.losses, single.losses);
    assert.deepEqual([grouped.steps, grouped.dropout], [12, 12]);
    // Micro-batches of 5: 5, 5 and 2 points an epoch, 6 updates; the batch of 2 cannot join a batch of 5,
    // and the evaluation after update 4 and the save after 5 cut the second epoch's 5, 5.
    assert.deepEqual((await fit(4, 5)).groups, [2, 1, 1, 1, 1]);
    // A model without several updates a run, and gradient accumulation, say so.
    const run = new TrainingRun({ out: join(dir, 'plain'), batchSize: 2, stepsPerRun: 2, epochs: 1, ...quiet }, { batchSize: 8, epochs: 1, lr: 0.1, weightDecay: 0 });
    await assert.rejects(runLoop(run, linearSpec(run, linearModel())), { message: '--steps-per-run: the linear model takes one update a run' });
    assert.throws(() => new TrainingRun({ out: join(dir, 'acc'), gradAccum: 2, stepsPerRun: 4, ...quiet }, { batchSize: 8, epochs: 1, lr: 0.1, weightDecay: 0 }),
      { message: '--steps-per-run: runs updates of one micro-batch each; it cannot go with --grad-accum 2' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('micro-batches with nothing to learn from are skipped without an update', async () => {
  const dir = tmp();
  try {
    const skipping = async (gradAccum: number) => {
      const run = new TrainingRun({ out: join(dir, `o${gradAccum}`), batchSize: 3, gradAccum, epochs: 1, lr: 0.1, ...quiet },
        { batchSize: 8, epochs: 1, lr: 0, weightDecay: 0 });
      const seen: number[][] = [];
      // The micro-batch holding point 0 teaches nothing (as one whose every label is ignored).
      const r = await runLoop(run, {
        ...linearSpec(run, linearModel()),
        batch: (idx) => {
          if (idx.includes(0)) return null;
          seen.push(idx);
          return { batch: idx, weight: idx.length, tokens: idx.length };
        },
      });
      assert.deepEqual([r.state.epoch, r.state.batchInEpoch], [1, 0]);
      assert.equal(seen.flat().length, 9);
      assert.ok(!seen.flat().includes(0));
      return r.state.globalStep;
    };
    // 12 points, 4 micro-batches of 3: one update fewer when each is an update; with 2 a group, the group
    // holding point 0 still updates on its other micro-batch.
    assert.equal(await skipping(1), 3);
    assert.equal(await skipping(2), 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('options are checked naming the flag, before anything is read', () => {
  const dir = tmp();
  try {
    const defaults = { batchSize: 8, epochs: 3, lr: 5e-5, weightDecay: 0 };
    const make = (over: Partial<LoopOptions>) => () => new TrainingRun({ out: join(dir, 'o'), ...quiet, ...over }, defaults);
    assert.throws(make({ batchSize: 0 }), { message: '--batch-size: must be a positive integer, got 0' });
    assert.throws(make({ gradAccum: 1.5 }), { message: '--grad-accum: must be a positive integer, got 1.5' });
    assert.throws(make({ seed: 2 ** 32 }), { message: '--seed: must be an integer in [0, 2^32), got 4294967296' });
    assert.throws(make({ maxLength: 3 }), { message: '--max-length: must be an integer >= 4, got 3' });
    assert.throws(make({ maxGradNorm: -1 }), { message: '--max-grad-norm: must be >= 0, got -1' });
    writeFileSync(join(dir, 'file'), 'x');
    assert.throws(make({ out: join(dir, 'file') }), { message: `--out: ${join(dir, 'file')} is a file, not a folder` });
    assert.throws(make({ resume: join(dir, 'nowhere') }), { message: `${join(dir, 'nowhere')}: not a resumable checkpoint (no trainer_state.json)` });
    assert.throws(() => make({ maxSteps: 0 })().plan(12), { message: '--max-steps: gives 0 updates' });
    assert.throws(() => make({ epochs: 0 })().plan(12), { message: '--epochs: gives 0 updates' });
    const plan = make({ batchSize: 5, gradAccum: 2, epochs: 2, warmupRatio: 0.1 })().plan(12);
    // 12 items in micro-batches of 5: 3 micro-batches, 2 updates an epoch; warm-up ceil(0.1 x 4).
    assert.deepEqual(plan, { stepsPerEpoch: 2, epochs: 2, schedule: { kind: 'linear', lr: 5e-5, warmupSteps: 1, totalSteps: 4 } });
    assert.equal(make({ batchSize: 5, maxSteps: 5 })().plan(12).epochs, 2); // 3 updates an epoch
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pretraining keeps as OUT/best the evaluation of lowest perplexity', async () => {
  const dir = tmp();
  try {
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify(tinyConfigJson({ max_position_embeddings: 32 })));
    const r = await pretrain({
      config, objective: 'mlm', train: brown('ca01'), eval: brown('ca02'), out: join(dir, 'out'), maxLength: 32, batchSize: 8, maxSteps: 6,
      evalSteps: 2, lr: 5e-3, warmupSteps: 0, seed: 4, threads: 1, metric: 'perplexity', ...quiet,
    });
    const evals = r.history.filter((h) => h.perplexity !== undefined).map((h) => ({ step: h.step as number, perplexity: h.perplexity as number }));
    assert.deepEqual(evals.map((e) => e.step), [2, 4, 6]);
    const lowest = evals.reduce((a, b) => (b.perplexity < a.perplexity ? b : a));
    assert.equal(r.metricName, 'perplexity');
    assert.equal(r.bestMetric, lowest.perplexity);
    const results = JSON.parse(readFileSync(join(dir, 'out', 'best', 'eval_results.json'), 'utf8'));
    assert.deepEqual([results.step, results.perplexity], [lowest.step, lowest.perplexity]);
    assert.ok(evals[0]!.perplexity > 1 && evals[0]!.perplexity < 2 * 8001, `perplexity ${evals.map((e) => e.perplexity).join(' -> ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
