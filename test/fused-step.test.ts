// GradientModel.trainStep: loss, gradients, clipping and AdamW in one ONNX Runtime run, writing the
// parameters and moments back in place. It must follow the recorded torch trajectory as the two-call path
// (computeGradients + applyUpdate) does, and agree with that path on every parameter, moment and norm.
// trainSteps: several such steps in one run (an ONNX Loop), equal to trainStep called for each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { toFloat64, type Tensor } from '../src/tensor.ts';
import { AdamW, applyUpdate, type AdamWOptions } from '../src/train/optim.ts';
import { gradientModelFromTensors, loadGradientModel, type GradientModelOptions, type TrainBatch } from '../src/train/step.ts';

const dir = join(import.meta.dirname, 'fixtures', 'training', 'v3-buckets-seqcls-adamw');
const settings = JSON.parse(readFileSync(join(dir, 'trajectory.json'), 'utf8')) as { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_grad_norm: number; steps: number };
const traj = readSafetensors(join(dir, 'trajectory.safetensors')).tensors;
const start = () => readSafetensors(join(dir, 'model.safetensors')).tensors;
const config = readDebertaConfig(dir);
const batchAt = (k: number): TrainBatch => ({
  inputIds: traj.get(`step${k}.input_ids`)!, attentionMask: traj.get(`step${k}.attention_mask`)!, labels: traj.get(`step${k}.labels`)!,
});

function relL2(a: Tensor, b: Tensor): number {
  const x = toFloat64(a), y = toFloat64(b);
  let d = 0, n = 0;
  for (let i = 0; i < x.length; i++) { d += (x[i]! - y[i]!) ** 2; n += y[i]! ** 2; }
  return n === 0 ? Math.sqrt(d) : Math.sqrt(d) / Math.sqrt(n);
}

/** The recorded torch run: each step's loss within 1e-4, a finite norm, and every final parameter within 1e-4. */
function followsTrajectory(results: { loss: number; gradNorm: number }[], opt: AdamW, params: Map<string, Tensor>) {
  const ref = Array.from(toFloat64(traj.get('losses')!));
  assert.equal(results.length, settings.steps);
  results.forEach((r, k) => {
    const rel = Math.abs(r.loss - ref[k]!) / ref[k]!;
    assert.ok(rel <= 1e-4, `step ${k}: loss ${r.loss} vs ${ref[k]} (relative error ${rel.toExponential(2)})`);
    assert.ok(r.gradNorm > 0 && Number.isFinite(r.gradNorm), `step ${k}: gradient norm ${r.gradNorm}`);
  });
  assert.equal(opt.stepCount, settings.steps);
  for (const [name, p] of params) {
    const err = relL2(p, traj.get(`final.${name}`)!);
    assert.ok(err <= 1e-4, `${name}: relative L2 error ${err.toExponential(2)}`);
  }
}

for (const dtype of ['float64', 'float32'] as const) {
  test(`trainStep follows the torch AdamW trajectory in ${dtype}: five losses and every final parameter within 1e-4`, async () => {
    const gm = await gradientModelFromTensors(config, start(), 'sequence-classification', { dtype, threads: 1 });
    try {
      const opt = new AdamW(gm.params, { lr: settings.lr, betas: settings.betas, eps: settings.eps, weightDecay: settings.weight_decay, decay: 'all' });
      const results = [];
      for (let k = 0; k < settings.steps; k++) {
        const r = await gm.trainStep(batchAt(k), opt, settings.lr, settings.clip_grad_norm);
        assert.deepEqual(r.logits?.logits?.dims, [batchAt(k).inputIds.dims[0], 3]);
        results.push(r);
      }
      followsTrajectory(results, opt, gm.params);
    } finally {
      await gm.dispose();
    }
  });
}

/** Runs `steps` updates both ways from the same start and returns the two models' states. */
async function bothWays(opts: GradientModelOptions, adam: AdamWOptions, maxGradNorm: number, steps: number, cfg = config) {
  const run = async (fused: boolean) => {
    const gm = await gradientModelFromTensors(cfg, start(), 'sequence-classification', { threads: 1, ...opts });
    try {
      const opt = new AdamW(gm.params, adam);
      const losses: number[] = [], norms: number[] = [];
      for (let k = 0; k < steps; k++) {
        const b = batchAt(k % settings.steps);
        if (fused) {
          const r = await gm.trainStep(b, opt, adam.lr, maxGradNorm);
          losses.push(r.loss); norms.push(r.gradNorm);
        } else {
          const r = await gm.computeGradients(b);
          losses.push(r.loss); norms.push(applyUpdate(opt, r.grads, adam.lr, maxGradNorm));
        }
      }
      return { losses, norms, params: new Map(gm.params), state: opt.stateTensors(), stepCount: opt.stepCount, dropoutStep: gm.step };
    } finally {
      await gm.dispose();
    }
  };
  return { fused: await run(true), split: await run(false) };
}

test('trainStep equals computeGradients + applyUpdate: decay rule, dropout, parameters, moments, norms (float64)', async () => {
  const { fused, split } = await bothWays({ dtype: 'float64', dropout: true, seed: 3 },
    { lr: 3e-3, betas: [0.8, 0.99], eps: 1e-7, weightDecay: 0.1, decay: 'no-bias-norm' }, 0.5, 6,
    { ...config, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
  assert.equal(fused.stepCount, 6);
  assert.equal(fused.dropoutStep, split.dropoutStep);
  assert.ok(fused.dropoutStep > 0, 'dropout is on, so masks were drawn');
  fused.losses.forEach((l, k) => assert.ok(Math.abs(l - split.losses[k]!) <= 1e-10 * Math.abs(l), `loss ${k}: ${l} vs ${split.losses[k]}`));
  fused.norms.forEach((n, k) => assert.ok(Math.abs(n - split.norms[k]!) <= 1e-9 * n, `norm ${k}: ${n} vs ${split.norms[k]}`));
  for (const [name, p] of fused.params) assert.ok(relL2(p, split.params.get(name)!) <= 1e-9, `${name}: ${relL2(p, split.params.get(name)!)}`);
  for (const [name, t] of fused.state) assert.ok(relL2(t, split.state.get(name)!) <= 1e-9, `${name}: ${relL2(t, split.state.get(name)!)}`);
});

test('trainStep without clipping returns a NaN norm and equals the two-call path (float32)', async () => {
  const { fused, split } = await bothWays({ dtype: 'float32' }, { lr: 1e-3, weightDecay: 0.01, decay: 'all' }, 0, 3);
  assert.ok(fused.norms.every(Number.isNaN) && split.norms.every(Number.isNaN));
  fused.losses.forEach((l, k) => assert.ok(Math.abs(l - split.losses[k]!) <= 1e-5 * Math.abs(l), `loss ${k}: ${l} vs ${split.losses[k]}`));
  for (const [name, p] of fused.params) assert.ok(relL2(p, split.params.get(name)!) <= 1e-5, `${name}: ${relL2(p, split.params.get(name)!)}`);
});

test('trainStep rejects an optimizer over other parameters, and a bad clipping threshold', async () => {
  const gm = await gradientModelFromTensors(config, start(), 'sequence-classification', { threads: 1 });
  try {
    const other = new AdamW(new Map(gm.params), { lr: 1e-3 });
    await assert.rejects(gm.trainStep(batchAt(0), other, 1e-3, 1), /trainStep: the optimizer was made over other parameters/);
    await assert.rejects(gm.trainStep(batchAt(0), new AdamW(gm.params, { lr: 1e-3 }), 1e-3, -1), /trainStep: invalid maxGradNorm -1/);
  } finally {
    await gm.dispose();
  }
});

test('trainStep equals the two-call path on other heads and layouts (v1 QA and token classification, v2 conv, v3 multiple choice)', async () => {
  const root = join(import.meta.dirname, 'fixtures', 'models');
  for (const name of ['v1-base-qa', 'v1-base-tokcls', 'v2-conv-seqcls', 'v3-buckets-mc', 'v3-buckets-tokcls']) {
    const fx = join(root, name);
    const t = readSafetensors(join(fx, 'expected.safetensors')).tensors;
    const batch: TrainBatch = {
      inputIds: t.get('input.input_ids')!, attentionMask: t.get('input.attention_mask')!, tokenTypeIds: t.get('input.token_type_ids'),
      labels: t.get('label.labels'), startPositions: t.get('label.start_positions'), endPositions: t.get('label.end_positions'),
    };
    const states: Map<string, Tensor>[] = [];
    // Gradients zero by symmetry (QA: anything that shifts every position's logit alike, e.g. the last
    // LayerNorm's bias) are rounding noise on both paths, which Adam then scales up: left out.
    const noise = new Set<string>();
    for (const fused of [true, false]) {
      const gm = await loadGradientModel(fx, 'auto', { dtype: 'float64', threads: 1 });
      try {
        const opt = new AdamW(gm.params, { lr: 1e-2, weightDecay: 0.05, decay: 'no-bias-norm' });
        for (let k = 0; k < 2; k++) {
          if (fused) await gm.trainStep(batch, opt, 1e-2, 0.3);
          else {
            const { grads } = await gm.computeGradients(batch);
            const sq = new Map([...grads].map(([n, g]) => [n, toFloat64(g).reduce((a, x) => a + x * x, 0)]));
            const total = [...sq.values()].reduce((a, b) => a + b, 0);
            for (const [n, v] of sq) if (v <= 1e-20 * total) noise.add(n);
            applyUpdate(opt, grads, 1e-2, 0.3);
          }
        }
        states.push(new Map([...gm.params, ...opt.stateTensors()]));
      } finally {
        await gm.dispose();
      }
    }
    assert.ok(noise.size < states[0]!.size / 6, `${name}: ${noise.size} parameters without a real gradient`);
    for (const [k, v] of states[0]!) {
      if ([...noise].some((n) => k === n || k.endsWith(`.${n}`))) continue;
      assert.ok(relL2(v, states[1]!.get(k)!) <= 1e-9, `${name} ${k}: ${relL2(v, states[1]!.get(k)!)}`);
    }
  }
});

test('trainSteps runs the five-step torch AdamW trajectory in one call: losses and every final parameter within 1e-4 (float32)', async () => {
  const gm = await gradientModelFromTensors(config, start(), 'sequence-classification', { threads: 1 });
  try {
    const opt = new AdamW(gm.params, { lr: settings.lr, betas: settings.betas, eps: settings.eps, weightDecay: settings.weight_decay, decay: 'all' });
    const batches = Array.from({ length: settings.steps }, (_, k) => batchAt(k));
    followsTrajectory(await gm.trainSteps(batches, opt, settings.lr, settings.clip_grad_norm), opt, gm.params);
  } finally {
    await gm.dispose();
  }
});

test('trainSteps gives what trainStep gives step by step, bit for bit: learning rate per step, dropout, decay rule, moments', async () => {
  const cfg = { ...config, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 };
  const adam: AdamWOptions = { lr: 3e-3, betas: [0.8, 0.99], eps: 1e-7, weightDecay: 0.1, decay: 'no-bias-norm' };
  const lrs = [3e-3, 2e-3, 1e-3, 5e-4];
  const batches = lrs.map((_, k) => batchAt(k));
  const run = async (together: boolean) => {
    const gm = await gradientModelFromTensors(cfg, start(), 'sequence-classification', { threads: 1, dropout: true, seed: 5 });
    try {
      const opt = new AdamW(gm.params, adam);
      let results: { loss: number; gradNorm: number }[] = [];
      if (together) results = await gm.trainSteps(batches, opt, lrs, 0.5);
      else for (let k = 0; k < lrs.length; k++) results.push(await gm.trainStep(batches[k]!, opt, lrs[k]!, 0.5));
      return { losses: results.map((r) => r.loss), norms: results.map((r) => r.gradNorm), state: new Map([...gm.params, ...opt.stateTensors()]), step: gm.step, stepCount: opt.stepCount };
    } finally {
      await gm.dispose();
    }
  };
  const one = await run(false), all = await run(true);
  assert.deepEqual(all.losses, one.losses);
  assert.deepEqual(all.norms, one.norms);
  assert.equal(all.step, one.step, 'as many dropout steps drawn');
  assert.ok(all.step > 0);
  assert.equal(all.stepCount, lrs.length);
  assert.equal(all.state.size, one.state.size);
  for (const [k, v] of one.state) assert.deepEqual(all.state.get(k)!.data, v.data, k);
});

test('trainSteps rejects batches of other dims, a learning rate count that does not match, and a foreign optimizer', async () => {
  const gm = await gradientModelFromTensors(config, start(), 'sequence-classification', { threads: 1 });
  try {
    const opt = new AdamW(gm.params, { lr: 1e-3 });
    const b = batchAt(0);
    const shorter: TrainBatch = {
      inputIds: { ...b.inputIds, dims: [3, 20], data: b.inputIds.data.slice(0, 60) },
      attentionMask: { ...b.attentionMask, dims: [3, 20], data: b.attentionMask.data.slice(0, 60) },
      labels: b.labels,
    };
    await assert.rejects(gm.trainSteps([b, shorter], opt, 1e-3, 1), /trainSteps: batch 1 has inputIds \[3, 20\], batch 0 \[3, 40\]: the batches of one call share their dims/);
    await assert.rejects(gm.trainSteps([b, b], opt, [1e-3], 1), /trainSteps: 1 learning rates for 2 batches/);
    await assert.rejects(gm.trainSteps([b, b], new AdamW(new Map(gm.params), { lr: 1e-3 }), 1e-3, 1), /trainSteps: the optimizer was made over other parameters/);
    const twoLabels: TrainBatch = { ...b, labels: { ...b.labels!, dims: [1, 3] } };
    await assert.rejects(gm.trainSteps([b, twoLabels], opt, 1e-3, 1), /trainSteps: batch 1 has labels \[1, 3\], batch 0 \[3\]/);
    assert.equal(gm.stackable(b, twoLabels), false);
    assert.equal(gm.stackable(b, { ...b, tokenTypeIds: b.inputIds }), false);
    assert.equal(gm.stackable(b, batchAt(1)), true);
    // A second batch of the same dims whose labels are not class ids: refused on its way in, after the first
    // batch's feeds (and its optimizer step) were made; the counts below show they were taken back.
    const fractional: TrainBatch = { ...b, labels: { dtype: 'float32', dims: [3], data: Float32Array.of(0.5, 1, 0) } };
    assert.equal(gm.stackable(b, fractional), true);
    await assert.rejects(gm.trainSteps([b, fractional], opt, 1e-3, 1), /batch\.labels: expected integer class ids \(int64\), got float32/);
    assert.equal(opt.stepCount, 0, 'nothing was updated');
    assert.equal(gm.step, 0, 'no dropout step taken');
  } finally {
    await gm.dispose();
  }
});

test('computeGradients after fused steps: the gradient graph the model let go of is compiled again and gives the two-call path\'s loss', async () => {
  const adam: AdamWOptions = { lr: 1e-3, weightDecay: 0.01, decay: 'all' };
  const losses: number[] = [];
  for (const fused of [true, false]) {
    const gm = await gradientModelFromTensors(config, start(), 'sequence-classification', { threads: 1 });
    try {
      const opt = new AdamW(gm.params, adam);
      if (fused) await gm.trainSteps([batchAt(0), batchAt(1)], opt, 1e-3, 1);
      else for (const k of [0, 1]) { const r = await gm.computeGradients(batchAt(k)); applyUpdate(opt, r.grads, 1e-3, 1, r.gradNorm); }
      losses.push((await gm.computeGradients(batchAt(2))).loss);
    } finally {
      await gm.dispose();
    }
  }
  assert.ok(Math.abs(losses[0]! - losses[1]!) <= 1e-5 * losses[1]!, `${losses[0]} vs ${losses[1]}`);
});
