// AdamW, clipping, schedules and accumulation on plain arrays, against values worked out by hand from
// torch's and transformers' definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, applyUpdate, clipGradNorm, decays, GradientAccumulator, learningRate, lrFactor } from '../src/train/optim.ts';
import { tensor, type Tensor } from '../src/tensor.ts';

const f64 = (xs: number[]): Tensor => tensor('float64', [xs.length], Float64Array.from(xs));
/**
 * Every float64 comparison below measured exactly 0 (plain JavaScript arithmetic, no threads): a floor of 4 ulp
 * (4 · 2⁻⁵² relative), room for a reordered sum, not 0.
 */
const ULP4 = 4 * Number.EPSILON;
const close = (a: number, b: number, tol = ULP4, what = '') => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('AdamW: two steps match torch.optim.AdamW worked by hand', () => {
  const p = f64([1]);
  const opt = new AdamW(new Map([['w', p]]), { lr: 0.1, weightDecay: 0.01, eps: 1e-8 });
  // Step 1: p = 1 * (1 - 0.1 * 0.01) - 0.1 / 0.1 * 0.05 / (sqrt(0.00025) / sqrt(0.001) + 1e-8): the first
  // bias-corrected Adam step moves by lr (less eps), after the decoupled decay.
  opt.step(new Map([['w', f64([0.5])]]));
  close(p.data[0] as number, 0.999 - 0.05 / (0.5 + 1e-8), ULP4, 'step 1');
  close(p.data[0] as number, 0.899000002, ULP4, 'step 1');
  // Step 2, g = -0.25: m = 0.02, v = 0.00031225, bias corrections 0.19 and 0.001999.
  opt.step(new Map([['w', f64([-0.25])]]));
  close(p.data[0] as number, 0.8714672987058463, ULP4, 'step 2');
  assert.equal(opt.stepCount, 2);
});

test('AdamW: float32 parameters are updated in place with float32 moments', () => {
  const p = tensor('float32', [2], Float32Array.of(1, -1));
  const before = p.data;
  const opt = new AdamW(new Map([['w', p]]), { lr: 0.01, weightDecay: 0 });
  opt.step(new Map([['w', tensor('float32', [2], Float32Array.of(3, -3))]]));
  assert.equal(p.data, before);
  // float32: measured exactly the rounded value; 1e-7 is under 2 float32 ulp at 0.99.
  close(p.data[0] as number, Math.fround(1 - 0.01 * 3 / (3 + 1e-8)), 1e-7, 'moves by lr against the gradient');
  close(p.data[1] as number, Math.fround(-1 + 0.01 * 3 / (3 + 1e-8)), 1e-7, 'moves by lr against the gradient');
  const st = opt.stateTensors();
  assert.equal(st.get('exp_avg.w')!.dtype, 'float32');
  assert.deepEqual(Array.from(st.get('exp_avg.w')!.data as Float32Array).map((x) => Math.round(x * 1e6) / 1e6), [0.3, -0.3]);
});

test('AdamW: weight decay on every parameter, or not on biases and LayerNorm (transformers Trainer)', () => {
  assert.equal(decays('all', 'deberta.embeddings.LayerNorm.weight'), true);
  for (const n of ['classifier.bias', 'deberta.embeddings.LayerNorm.weight', 'deberta.encoder.LayerNorm.bias', 'deberta.encoder.layer.0.attention.self.q_bias', 'cls.predictions.bias']) {
    assert.equal(decays('no-bias-norm', n), false, n);
  }
  for (const n of ['classifier.weight', 'deberta.embeddings.word_embeddings.weight', 'deberta.encoder.rel_embeddings.weight']) {
    assert.equal(decays('no-bias-norm', n), true, n);
  }
  // With a zero gradient the Adam term is 0: only the decoupled decay moves a parameter.
  const w = f64([2]), b = f64([2]);
  const opt = new AdamW(new Map([['dense.weight', w], ['dense.bias', b]]), { lr: 0.5, weightDecay: 0.1, decay: 'no-bias-norm' });
  opt.step(new Map([['dense.weight', f64([0])], ['dense.bias', f64([0])]]));
  assert.equal(w.data[0], 2 * (1 - 0.05));
  assert.equal(b.data[0], 2);
});

test('AdamW: a parameter without a gradient is left alone; state survives a save and reload', () => {
  const a = f64([1, 2]), c = f64([5]);
  const opt = new AdamW(new Map([['a', a], ['c', c]]), { lr: 0.1 });
  opt.step(new Map([['a', f64([0.3, -0.7])]]));
  assert.equal(c.data[0], 5);
  const a2 = f64(Array.from(a.data as Float64Array)), c2 = f64([5]);
  const copy = new AdamW(new Map([['a', a2], ['c', c2]]), { lr: 0.1 });
  copy.loadStateTensors(opt.stateTensors(), opt.stepCount, 'test');
  opt.step(new Map([['a', f64([0.1, 0.2])]]));
  copy.step(new Map([['a', f64([0.1, 0.2])]]));
  assert.deepEqual(Array.from(a2.data as Float64Array), Array.from(a.data as Float64Array));
  assert.throws(() => copy.loadStateTensors(new Map(), 1, 'opt.safetensors'), /opt.safetensors: optimizer state lacks 'exp_avg.a'/);
  assert.throws(() => opt.step(new Map([['zzz', f64([1])]])), /unknown parameter 'zzz'/);
});

test('clipGradNorm: global L2 norm over all tensors, coefficient max / (norm + 1e-6)', () => {
  const g1 = f64([3, 0]), g2 = f64([4]);
  const norm = clipGradNorm([g1, g2], 1);
  assert.equal(norm, 5);
  close(g1.data[0] as number, 3 / (5 + 1e-6));
  close(g2.data[0] as number, 4 / (5 + 1e-6));
  const small = f64([0.1, 0.2]);
  clipGradNorm([small], 1);
  assert.deepEqual(Array.from(small.data as Float64Array), [0.1, 0.2]);
});

test('applyUpdate: clipping folded into the AdamW pass equals clipGradNorm then step; a given norm is used as is', () => {
  const run = (how: 'two calls' | 'folded' | 'given norm') => {
    const params = new Map([['a', f64([1, -2])], ['b', f64([0.5])]]);
    const grads = new Map([['a', f64([3, 0])], ['b', f64([4])]]);
    const opt = new AdamW(params, { lr: 0.1, weightDecay: 0.01 });
    let norm: number;
    if (how === 'two calls') { norm = clipGradNorm(grads.values(), 1); opt.step(grads, 0.1); }
    else norm = applyUpdate(opt, grads, 0.1, 1, how === 'given norm' ? 10 : undefined);
    return { norm, p: [...params.values()].flatMap((t) => Array.from(t.data as Float64Array)), g: [...grads.values()].flatMap((t) => Array.from(t.data as Float64Array)), m: Array.from(opt.momentsOf('a').expAvg.data as Float64Array) };
  };
  const two = run('two calls'), folded = run('folded'), given = run('given norm');
  assert.equal(folded.norm, 5);
  two.p.forEach((x, i) => close(folded.p[i]!, x, ULP4, `parameter ${i}`));
  two.m.forEach((x, i) => close(folded.m[i]!, x, ULP4, `first moment ${i}`));
  assert.deepEqual(folded.g, [3, 0, 4], 'the gradients are left as they are');
  // Told the norm is 10, the coefficient is 1 / (10 + 1e-6): the first moment is (1 - 0.9) * 3 / (10 + 1e-6).
  assert.equal(given.norm, 10);
  close(given.m[0]!, 0.1 * 3 / (10 + 1e-6), ULP4, 'first moment with the given norm');
});

test('schedules: linear and cosine with warm-up, as transformers defines them', () => {
  const lin = { kind: 'linear' as const, warmupSteps: 10, totalSteps: 110 };
  assert.deepEqual([0, 5, 10, 60, 110, 200].map((s) => lrFactor(lin, s)), [0, 0.5, 1, 0.5, 0, 0]);
  const cos = { kind: 'cosine' as const, warmupSteps: 10, totalSteps: 110 };
  close(lrFactor(cos, 10), 1);
  close(lrFactor(cos, 35), 0.5 * (1 + Math.cos(Math.PI / 4)));
  close(lrFactor(cos, 60), 0.5);
  close(lrFactor(cos, 110), 0);
  assert.equal(lrFactor({ kind: 'constant', warmupSteps: 4, totalSteps: 10 }, 2), 0.5);
  assert.equal(lrFactor({ kind: 'constant', warmupSteps: 4, totalSteps: 10 }, 9), 1);
  close(learningRate({ kind: 'linear', lr: 2e-5, warmupSteps: 0, totalSteps: 4 }, 1), 1.5e-5); // measured 1.7e-21 absolute
});

test('gradient accumulation: weighted mean equals the gradient of the whole batch', () => {
  const acc = new GradientAccumulator();
  acc.add(new Map([['w', f64([1, 2])]]), 0.5, 2);
  acc.add(new Map([['w', f64([4, 8])]]), 2, 1);
  acc.add(new Map([['w', f64([100, 100])]]), 9, 0); // nothing labelled: ignored
  const { grads, loss, weight } = acc.take();
  assert.deepEqual(Array.from(grads.get('w')!.data as Float64Array), [2, 4]);
  assert.equal(loss, 1);
  assert.equal(weight, 3);
  assert.ok(acc.empty);
  acc.add(new Map([['w', f64([1, 1])]]), 1, 1);
  assert.deepEqual(Array.from(acc.take().grads.get('w')!.data as Float64Array), [1, 1]);
});
