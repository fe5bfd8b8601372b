// Training gradients against transformers: every fixture with `grad.*` tensors (test/fixtures/README.md)
// runs one forward + backward pass in float64 and is compared with PyTorch's float64 loss and gradients.
// Also: dropout masks from a seed, the loss's special cases, and `deberta grad` through the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../src/cli/main.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { tensor, toFloat64, type Tensor } from '../src/tensor.ts';
import { Graph } from '../src/graph/graph.ts';
import { DropoutMasks } from '../src/train/dropout.ts';
import { gradientModelFromTensors, loadGradientModel, type TrainBatch } from '../src/train/step.ts';
import { Rng } from '../src/util/random.ts';

const root = join(import.meta.dirname, 'fixtures', 'models');
const expectedOf = (name: string) => readSafetensors(join(root, name, 'expected.safetensors')).tensors;

function batchOf(t: Map<string, Tensor>): TrainBatch {
  return {
    inputIds: t.get('input.input_ids')!, attentionMask: t.get('input.attention_mask')!, tokenTypeIds: t.get('input.token_type_ids'),
    labels: t.get('label.labels'), startPositions: t.get('label.start_positions'), endPositions: t.get('label.end_positions'),
  };
}

const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
const diffNorm = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));

/**
 * Compares our gradients with the reference: relative L2 error <= tol; a reference of exact zeros must be
 * matched exactly. Gradients that are zero by symmetry (the key bias, and the QA / multiple-choice output
 * bias: softmax ignores a shift shared by all its inputs) come out as rounding noise in both (~1e-16 of
 * the whole gradient's norm); they pass when both lie below `floor` times that norm.
 */
function compareGradients(name: string, ours: Map<string, Tensor>, ref: Map<string, Tensor>, tol: number, floor: number) {
  const refGrads = [...ref].filter(([k]) => k.startsWith('grad.')).map(([k, v]) => [k.slice(5), toFloat64(v)] as const);
  assert.deepEqual([...ours.keys()].sort(), refGrads.map(([k]) => k).sort(), `${name}: parameters with gradients`);
  const total = norm(refGrads.flatMap(([, v]) => Array.from(v)));
  let worst = 0, worstName = '';
  const symmetric: string[] = [];
  for (const [k, r] of refGrads) {
    const o = toFloat64(ours.get(k)!);
    assert.deepEqual(ours.get(k)!.dims, ref.get(`grad.${k}`)!.dims, `${name}: dims of grad.${k}`);
    const rn = norm(r);
    if (rn === 0) {
      assert.ok(o.every((x) => x === 0), `${name}: grad.${k} should be exactly zero (the loss does not reach it)`);
      continue;
    }
    if (rn <= floor * total && norm(o) <= floor * total) {
      symmetric.push(k);
      continue;
    }
    const err = diffNorm(o, r) / rn;
    if (err > worst) { worst = err; worstName = k; }
    assert.ok(err <= tol, `${name}: grad.${k}: relative L2 error ${err.toExponential(2)} > ${tol}`);
  }
  return { worst, worstName, symmetric };
}

const fixtures = readdirSync(root).sort().filter((n) => [...expectedOf(n).keys()].some((k) => k.startsWith('grad.')));

test('fixtures with reference gradients exist', () => assert.ok(fixtures.length >= 20, fixtures.join(', ')));

for (const name of fixtures) {
  test(`gradients of ${name} match transformers (float64)`, async (t) => {
    const ref = expectedOf(name);
    const model = await loadGradientModel(join(root, name), 'auto', { dtype: 'float64', threads: 1 });
    const { loss, grads, logits } = await model.computeGradients(batchOf(ref));
    const refLoss = Number(ref.get('f64.train_loss')!.data[0]);
    const lossErr = Math.abs(loss - refLoss) / Math.abs(refLoss);
    // Measured 2.5e-10 to 2.3e-7 (worst v1-base-seqcls; float32 Erf inside GELU), the same at 1 and 2 threads.
    assert.ok(lossErr <= 6e-7, `${name}: loss ${loss} vs ${refLoss} (relative error ${lossErr.toExponential(2)})`);
    assert.ok(logits && Object.keys(logits).length > 0, `${name}: training outputs`);
    for (const g of grads.values()) assert.equal(g.dtype, 'float64');
    // Worst relative L2 error per fixture measured 7.8e-8 to 1.3e-6 (worst v1-base-mlm), the same at 1 and 2 threads.
    const r = compareGradients(name, grads, ref, 3e-6, 1e-12);
    t.diagnostic(`loss relative error ${lossErr.toExponential(2)}; worst gradient ${r.worst.toExponential(2)} (${r.worstName})` +
      (r.symmetric.length ? `; zero by symmetry: ${r.symmetric.join(', ')}` : ''));
    await model.dispose();
  });
}

// Sequence classification's evaluation skips padding (the fixtures' batches have padded rows).
for (const [name, keys] of [['v3-buckets-qa', ['start_logits', 'end_logits']], ['v3-buckets-seqcls', ['logits']], ['v2-conv-seqcls', ['logits']]] as const) {
  test(`eval-mode forward of the gradient model matches the reference logits (${name})`, async () => {
    const ref = expectedOf(name);
    const model = await loadGradientModel(join(root, name), 'auto', { dtype: 'float64', threads: 1 });
    const out = await model.forward(batchOf(ref));
    for (const k of keys) {
      const err = diffNorm(toFloat64(out[k]!), toFloat64(ref.get(`f64.${k}`)!)) / norm(toFloat64(ref.get(`f64.${k}`)!));
      assert.ok(err < 1.5e-7, `${k}: relative error ${err}`); // measured 5.5e-8 (1 and 2 threads)
    }
    await model.dispose();
  });
}

/** A fixture model with dropout switched on and tanh-only activations (an all-float64 graph, for finite differences). */
async function droppingModel(seed: number) {
  const dir = join(root, 'v2-conv-seqcls');
  const config = readDebertaConfig(dir);
  Object.assign(config, { hidden_dropout_prob: 0.2, attention_probs_dropout_prob: 0.15, pooler_dropout: 0.1, hidden_act: 'gelu_new', pooler_hidden_act: 'tanh', conv_act: 'tanh' });
  return gradientModelFromTensors(config, (await loadCheckpointTensors(dir)).tensors, 'sequence-classification', { dtype: 'float64', dropout: true, seed, threads: 1 });
}

test('dropout: masks repeat for a (seed, step), and the gradient is that of the loss with those masks', async () => {
  const batch = batchOf(expectedOf('v2-conv-seqcls'));
  const a = await droppingModel(7), b = await droppingModel(7);
  const first = await a.computeGradients(batch);
  const second = await a.computeGradients(batch);
  assert.equal(a.step, 2);
  const again = await b.computeGradients(batch);
  assert.equal(again.loss, first.loss, 'same seed and step: same masks');
  for (const [k, g] of first.grads) assert.deepEqual(again.grads.get(k)!.data, g.data, `grad.${k}`);
  assert.notEqual(second.loss, first.loss, 'the next step draws new masks');
  b.step = 0;
  assert.equal((await b.computeGradients(batch)).loss, first.loss, 'setting step replays its masks');

  // Directional derivative along a random direction, with the masks of step 0.
  const rng = new Rng(3);
  const dirs = new Map([...a.params].map(([k, p]) => [k, Float64Array.from(p.data as Float64Array, () => rng.normal())]));
  // The step: central differences lose O(h²); measured relative errors 5.6e-5 (h 1e-4), 8.5e-7 (1e-5), 3.5e-7 (3e-6),
  // 3.0e-7 (1e-6). Below 3e-6 a floor of ~3e-7 remains that the step does not explain.
  const h = 3e-6;
  const shift = (by: number) => { for (const [k, p] of a.params) { const d = p.data as Float64Array, v = dirs.get(k)!; for (let i = 0; i < d.length; i++) d[i] = d[i]! + by * v[i]!; } };
  const lossAtStep0 = async () => { a.step = 0; return (await a.computeGradients(batch)).loss; };
  shift(h); const up = await lossAtStep0();
  shift(-2 * h); const down = await lossAtStep0();
  shift(h);
  let analytic = 0;
  for (const [k, g] of first.grads) { const d = g.data as Float64Array, v = dirs.get(k)!; for (let i = 0; i < d.length; i++) analytic += d[i]! * v[i]!; }
  const numeric = (up - down) / (2 * h);
  // Measured 3.5e-7 (1 and 2 threads).
  assert.ok(Math.abs(numeric - analytic) <= 1e-6 * Math.abs(analytic), `directional derivative ${analytic} vs finite difference ${numeric}`);

  const eval1 = await a.forward(batch), eval2 = await a.forward(batch);
  assert.deepEqual(eval1.logits!.data, eval2.logits!.data, 'forward is eval mode: no dropout');
  await Promise.all([a.dispose(), b.dispose()]);
});

test('dropout: zero rates put no dropout in the graph', async () => {
  const masks = new DropoutMasks({ hidden: 0, attention: 0, pooler: 0, classifier: 0 }, 1);
  const x = new Graph().input('x', 'float32', [2, 3]);
  for (const site of ['hidden', 'attention', 'pooler', 'classifier'] as const) assert.equal(masks.hook(x, site), x);
  assert.equal(masks.count, 0);
  // The fixtures' configs have all rates 0: with dropout on, no masks are drawn and steps repeat exactly.
  const dir = join(root, 'v3-buckets-seqcls');
  const m = await gradientModelFromTensors(readDebertaConfig(dir), (await loadCheckpointTensors(dir)).tensors, 'sequence-classification', { dropout: true, threads: 1 });
  const batch = batchOf(expectedOf('v3-buckets-seqcls'));
  assert.equal((await m.computeGradients(batch)).loss, (await m.computeGradients(batch)).loss);
  assert.equal(m.step, 0, 'no masks drawn');
  await m.dispose();
});

test('question answering: positions outside the sequence are clamped and ignored, as transformers does', async () => {
  const ref = expectedOf('v3-buckets-qa');
  const model = await loadGradientModel(join(root, 'v3-buckets-qa'), 'auto', { dtype: 'float64', threads: 1 });
  const n = ref.get('input.input_ids')!.dims[1]!;
  const batch = { ...batchOf(ref), startPositions: tensor('int64', [3], BigInt64Array.of(0n, 100n, 5n)), endPositions: tensor('int64', [3, 1], BigInt64Array.of(3n, -2n, 100n)) };
  const { loss, logits } = await model.computeGradients(batch);
  const ce = (l: Float64Array, rows: number[]) => {
    const kept = rows.map((p, i) => [p, i] as const).filter(([p]) => p !== n);
    return kept.reduce((s, [p, i]) => {
      const row = l.subarray(i * n, (i + 1) * n);
      const max = Math.max(...row);
      return s + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0)) + max - row[p]!;
    }, 0) / kept.length;
  };
  const expected = (ce(logits!.start_logits!.data as Float64Array, [0, n, 5]) + ce(logits!.end_logits!.data as Float64Array, [3, 0, n])) / 2;
  // Measured 0 (1 and 2 threads); the floor allows ~20 float64 ulp at the loss's scale for another CPU's exp and sums.
  assert.ok(Math.abs(loss - expected) < 1e-14, `${loss} vs ${expected}`);
  await model.dispose();
});

test('sequence classification: negative labels are left out; none left gives loss 0 and zero gradients', async () => {
  const ref = expectedOf('v3-buckets-seqcls');
  const model = await loadGradientModel(join(root, 'v3-buckets-seqcls'), 'auto', { dtype: 'float64', threads: 1 });
  const some = await model.computeGradients({ ...batchOf(ref), labels: tensor('int64', [3], BigInt64Array.of(2n, -1n, 0n)) });
  const l = some.logits!.logits!.data as Float64Array;
  const ce = (i: number, y: number) => { const row = Array.from(l.subarray(i * 3, i * 3 + 3)); return Math.log(row.reduce((a, x) => a + Math.exp(x), 0)) - row[y]!; };
  assert.ok(Math.abs(some.loss - (ce(0, 2) + ce(2, 0)) / 2) < 1e-14); // measured 0; a float64 floor as above
  const none = await model.computeGradients({ ...batchOf(ref), labels: tensor('int64', [3], BigInt64Array.of(-1n, -100n, -1n)) });
  assert.ok(none.loss === 0, `loss ${none.loss}`); // -0 allowed
  for (const [k, g] of none.grads) assert.ok((g.data as Float64Array).every((x) => x === 0), k);
  await model.dispose();
});

test('deberta grad writes the loss and every gradient (float32)', async () => {
  const name = 'v3-buckets-mlm';
  const dir = mkdtempSync(join(tmpdir(), 'deberta-grad-'));
  try {
    const out = join(dir, 'grads.safetensors');
    const inputs = join(root, name, 'expected.safetensors');
    await buildProgram().exitOverride().parseAsync(['node', 'deberta', 'grad', '--model', join(root, name), '--inputs', inputs, '--out', out, '--threads', '1']);
    const written = readSafetensors(out).tensors;
    const ref = expectedOf(name);
    const loss = written.get('loss')!;
    assert.equal(loss.dtype, 'float32');
    const refLoss = Number(ref.get('f64.train_loss')!.data[0]);
    // Measured 1.4e-7 (1 and 2 threads).
    assert.ok(Math.abs(Number(loss.data[0]) - refLoss) / refLoss < 4e-7, `loss ${loss.data[0]} vs ${refLoss}`);
    const grads = new Map([...written].filter(([k]) => k.startsWith('grad.')).map(([k, v]) => [k.slice(5), v]));
    for (const g of grads.values()) assert.equal(g.dtype, 'float32');
    // float32 gradients: worst relative L2 error measured 3.0e-6 (1 and 2 threads); noise-level gradients are
    // relative to 1e-6 of the whole.
    compareGradients(`deberta grad ${name}`, grads, ref, 8e-6, 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a bare checkpoint trains a new head: missing weights initialised from the seed, encoder renamed deberta.*', async () => {
  const dir = join(root, 'v3-buckets-base');
  const ref = expectedOf('v3-buckets-base');
  const load = () => loadGradientModel(dir, 'sequence-classification', { initMissing: true, seed: 3, threads: 1 });
  const a = await load(), b = await load();
  assert.deepEqual(a.initialized, ['pooler.dense.weight', 'pooler.dense.bias', 'classifier.weight', 'classifier.bias']);
  assert.ok(a.paramNames.filter((k) => !a.initialized.includes(k)).every((k) => k.startsWith('deberta.')));
  assert.deepEqual(a.params.get('classifier.weight')!.data, b.params.get('classifier.weight')!.data, 'same seed, same initialisation');
  const batch = { ...batchOf(ref), labels: tensor('int64', [3], BigInt64Array.of(0n, 1n, 1n)) };
  const r = await a.computeGradients(batch);
  assert.ok(Number.isFinite(r.loss) && norm(r.grads.get('classifier.weight')!.data as Float32Array) > 0);
  await Promise.all([a.dispose(), b.dispose()]);
});
