// Every gradient rule against central finite differences, in float64 on small random inputs.
// Each case builds a tiny graph; the loss weighs its outputs with fixed random weights (so no output's
// gradient is trivially zero), and the analytic gradient of every float input is compared with
// (L(x + h) - L(x - h)) / 2h, element by element.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../src/graph/autodiff.ts';
import * as F from '../src/graph/functional.ts';
import { Graph } from '../src/graph/graph.ts';
import type { Shape, Value } from '../src/graph/value.ts';
import { Session } from '../src/runtime/session.ts';
import { tensor, type Tensor } from '../src/tensor.ts';
import { Rng } from '../src/util/random.ts';

interface FloatInput {
  dims: number[];
  /** Declared shape when some dims should be symbolic. */
  shape?: Shape;
  /** Maps a uniform [-1, 1) draw to the value used (e.g. keep a Log input positive). */
  map?: (u: number) => number;
}

interface Case {
  name: string;
  inputs: FloatInput[];
  build: (g: Graph, xs: Value[]) => Value | Value[];
  /** Inputs that must get no gradient (e.g. a Where branch constant), by index. */
  noGrad?: number[];
  tol?: number;
  step?: number;
  dtype?: 'float32' | 'float64';
}

/**
 * Float64 cases with the default step (1e-5): measured 3.6e-12 to 5.8e-10 (worst 'MatMul 1-D operands'; the same at
 * 1 and 2 threads), the central difference's own error. 2.6× the worst.
 */
const DEFAULT_TOL = 1.5e-9;
const rng = new Rng(1234);
const positive = (u: number) => 0.5 + Math.abs(u);
const awayFromZero = (u: number) => (u < 0 ? u - 0.2 : u + 0.2);
const i64 = (g: Graph, values: number[], dims = [values.length]) => g.constant(tensor('int64', dims, BigInt64Array.from(values, BigInt)));
const bools = (g: Graph, values: number[], dims: number[]) => g.constant(tensor('bool', dims, Uint8Array.from(values)));
const f64 = (g: Graph, values: number[], dims: number[]) => g.constant(tensor('float64', dims, Float64Array.from(values)));
const op = (g: Graph, type: string, xs: (Value | null)[], attrs = {}) => g.op1(type, xs, attrs);

const CASES: Case[] = [
  // Elementwise, with numpy broadcasting summed back.
  { name: 'Add broadcast', inputs: [{ dims: [2, 3, 4] }, { dims: [3, 1] }], build: (_g, [a, b]) => a!.add(b!) },
  { name: 'Sub broadcast', inputs: [{ dims: [3, 1] }, { dims: [2, 1, 4] }], build: (_g, [a, b]) => a!.sub(b!) },
  { name: 'Mul broadcast', inputs: [{ dims: [2, 1, 4] }, { dims: [3, 1] }], build: (_g, [a, b]) => a!.mul(b!) },
  { name: 'Div broadcast', inputs: [{ dims: [2, 3] }, { dims: [3], map: positive }], build: (_g, [a, b]) => a!.div(b!) },
  { name: 'Pow', inputs: [{ dims: [2, 3], map: positive }, { dims: [3] }], build: (g, [a, b]) => op(g, 'Pow', [a!, b!]) },
  { name: 'Pow constant exponent', inputs: [{ dims: [4], map: positive }], build: (g, [a]) => op(g, 'Pow', [a!, g.scalar(3, 'float64')]) },
  { name: 'Max/Min broadcast', inputs: [{ dims: [2, 3] }, { dims: [3] }], build: (g, [a, b]) => [op(g, 'Max', [a!, b!]), op(g, 'Min', [a!, b!])] },
  { name: 'Neg Exp Tanh Sigmoid', inputs: [{ dims: [5] }], build: (_g, [x]) => [x!.neg(), F.exp(x!), F.tanh(x!), F.sigmoid(x!)] },
  { name: 'Log Sqrt Reciprocal', inputs: [{ dims: [5], map: positive }], build: (g, [x]) => [F.log(x!), F.sqrt(x!), op(g, 'Reciprocal', [x!])] },
  { name: 'Relu Abs', inputs: [{ dims: [6], map: awayFromZero }], build: (g, [x]) => [F.relu(x!), op(g, 'Abs', [x!])] },
  { name: 'Identity', inputs: [{ dims: [2, 2] }], build: (g, [x]) => op(g, 'Identity', [x!]) },
  { name: 'Clip', inputs: [{ dims: [8] }], build: (g, [x]) => op(g, 'Clip', [x!, g.scalar(-0.5, 'float64'), g.scalar(0.6, 'float64')]) },
  {
    name: 'Where broadcast', inputs: [{ dims: [2, 3] }, { dims: [3] }],
    build: (g, [a, b]) => F.where(bools(g, [1, 0, 1, 0, 0, 1], [2, 3]), a!, b!),
  },
  {
    name: 'Where with a constant branch', inputs: [{ dims: [2, 3] }],
    build: (g, [a]) => F.where(bools(g, [1, 0, 1, 0, 0, 1], [2, 3]), a!, g.scalar(-3.4e38, 'float64')).mul(0).add(F.where(bools(g, [1, 0, 1, 0, 0, 1], [2, 3]), a!, g.scalar(0, 'float64'))),
  },
  // Erf (and the float64 GELU) run through float32 in ONNX Runtime, so these compare at float32 precision.
  // Measured 4.5e-6 and 9.0e-7 (1 and 2 threads).
  { name: 'Erf via float32, Cast', inputs: [{ dims: [6] }], build: (_g, [x]) => F.erf(x!), tol: 1.2e-5, step: 3e-3 },
  { name: 'GELU (float64 graph)', inputs: [{ dims: [6] }], build: (_g, [x]) => F.gelu(x!), tol: 2.5e-6, step: 3e-3 },
  { name: 'GELU tanh', inputs: [{ dims: [6] }], build: (_g, [x]) => F.geluTanh(x!) },

  // Matrix products.
  { name: 'MatMul shared weight', inputs: [{ dims: [2, 3, 4] }, { dims: [4, 5] }], build: (_g, [a, b]) => a!.matmul(b!) },
  { name: 'MatMul batch broadcast', inputs: [{ dims: [2, 1, 3, 4] }, { dims: [3, 4, 2] }], build: (_g, [a, b]) => a!.matmul(b!) },
  { name: 'MatMul rank-2 by batched', inputs: [{ dims: [3, 4] }, { dims: [2, 4, 5] }], build: (_g, [a, b]) => a!.matmul(b!) },
  { name: 'MatMul 1-D operands', inputs: [{ dims: [4] }, { dims: [4, 3] }, { dims: [2, 3, 4] }], build: (_g, [v, m, t]) => [v!.matmul(m!), t!.matmul(v!), v!.matmul(v!)] },
  {
    name: 'FusedMatMul transA, transB, alpha', inputs: [{ dims: [2, 4, 3] }, { dims: [5, 4] }, { dims: [2, 3, 4] }],
    build: (g, [a, b, c]) => [
      op(g, 'FusedMatMul', [a!, b!], { transA: 1, transB: 1, alpha: 0.5 }),
      op(g, 'FusedMatMul', [c!, b!], { transB: 1, alpha: 2 }),
    ],
  },
  {
    name: 'Gemm transA, transB, alpha, beta, broadcast C', inputs: [{ dims: [4, 3] }, { dims: [5, 4] }, { dims: [5] }, { dims: [3, 4] }, { dims: [4, 2] }],
    build: (g, [a, b, c, a2, b2]) => [
      op(g, 'Gemm', [a!, b!, c!], { transA: 1, transB: 1, alpha: 0.5, beta: 1.5 }),
      op(g, 'Gemm', [a2!, b2!]),
    ],
  },
  {
    name: 'MatMul symbolic batch', inputs: [{ dims: [3, 2, 4], shape: ['b', 2, 4] }, { dims: [4, 2] }],
    build: (_g, [a, b]) => a!.matmul(b!),
  },

  // Data movement.
  { name: 'Reshape', inputs: [{ dims: [2, 3, 4] }], build: (_g, [x]) => x!.reshape([6, 4]) },
  { name: 'Reshape symbolic', inputs: [{ dims: [3, 2, 4], shape: ['b', 2, 4] }], build: (_g, [x]) => x!.reshape([0, -1]) },
  { name: 'Transpose', inputs: [{ dims: [2, 3, 4] }], build: (_g, [x]) => x!.transpose([2, 0, 1]) },
  { name: 'Unsqueeze Squeeze', inputs: [{ dims: [2, 3] }, { dims: [2, 1, 3] }], build: (_g, [a, b]) => [F.unsqueeze(a!, [0, 2]), F.squeeze(b!, [1])] },
  { name: 'Concat', inputs: [{ dims: [2, 1, 3] }, { dims: [2, 2, 3] }, { dims: [2, 3, 3] }], build: (_g, xs) => F.concat(xs, 1) },
  {
    name: 'Concat symbolic', inputs: [{ dims: [2, 3], shape: ['b', 'n'] }, { dims: [2, 4], shape: ['b', 'm'] }, { dims: [2, 1] }],
    build: (_g, xs) => F.concat(xs, 1),
  },
  {
    name: 'Slice constant', inputs: [{ dims: [3, 5, 2] }],
    build: (_g, [x]) => [F.slice(x!, [1, -4], [3, -1], [0, 1]), F.slice(x!, [0], [Number.MAX_SAFE_INTEGER], [2]), F.slice(x!, [2], [10], [1])],
  },
  {
    // Runtime starts and ends on a symbolic dim, as the model's relative-position shift slices.
    name: 'Slice runtime bounds', inputs: [{ dims: [2, 6], shape: ['b', 'n'] }],
    build: (g, [x]) => {
      const n = F.dimOf(x!, 1);
      return [F.slice(x!, n.sub(4), n.sub(1), [1]), F.slice(x!, g.constInt64([-2]), n.add(5), [1])];
    },
  },
  { name: 'Pad', inputs: [{ dims: [2, 3] }], build: (g, [x]) => op(g, 'Pad', [x!, g.constInt64([1, 0, 0, 2])]) },
  { name: 'Expand', inputs: [{ dims: [3, 1] }], build: (g, [x]) => F.expand(x!, g.constInt64([2, 3, 4])) },
  {
    name: 'Gather axis 0, repeated and negative indices', inputs: [{ dims: [5, 3] }],
    build: (g, [x]) => [F.gather(x!, i64(g, [0, 2, 2, -1, 4, 0], [2, 3])), F.gather(x!, g.scalar(3, 'int64'))],
  },
  { name: 'Gather axis 1', inputs: [{ dims: [3, 4, 2] }], build: (g, [x]) => F.gather(x!, i64(g, [1, 3, 1], [3]), 1) },
  {
    name: 'Gather runtime indices on a symbolic table', inputs: [{ dims: [6, 2], shape: ['v', 2] }],
    build: (g, [x]) => F.gather(x!, F.arange(F.dimOf(x!, 0)).sub(g.scalar(2, 'int64'))), // -2, -1, 0, ...
  },
  {
    name: 'GatherElements axis 1, repeated indices', inputs: [{ dims: [3, 4] }],
    build: (g, [x]) => F.gatherElements(x!, i64(g, [0, 3, 3, 1, 2, 2, 2, 0, 1, 1, -1, 0, 3, 3, 2], [3, 5]), 1),
  },

  // Reductions (and broadcasting through them).
  {
    name: 'ReduceSum', inputs: [{ dims: [2, 3, 4] }],
    build: (g, [x]) => [F.reduceSum(x!, [1], false), F.reduceSum(x!, [0, 2], true), op(g, 'ReduceSum', [x!], { keepdims: 0 })],
  },
  { name: 'ReduceMean', inputs: [{ dims: [2, 3, 4] }], build: (_g, [x]) => [F.reduceMean(x!, [-1], false), F.reduceMean(x!, [0, 1], true)] },
  { name: 'ReduceMean symbolic', inputs: [{ dims: [2, 3, 4], shape: ['b', 'n', 4] }], build: (_g, [x]) => F.reduceMean(x!, [0, 1], false) },
  {
    name: 'ReduceMax ReduceLogSumExp', inputs: [{ dims: [2, 5] }],
    build: (g, [x]) => [op(g, 'ReduceMax', [x!, g.constInt64([1])], { keepdims: 0 }), op(g, 'ReduceLogSumExp', [x!, g.constInt64([0])], { keepdims: 1 })],
  },
  { name: 'Expand then ReduceSum', inputs: [{ dims: [1, 3] }], build: (g, [x]) => F.reduceSum(F.expand(x!, g.constInt64([4, 3])).mul(x!), [0], false) },

  // Neural-network ops.
  { name: 'Softmax', inputs: [{ dims: [2, 3, 4] }], build: (_g, [x]) => [F.softmax(x!), F.softmax(x!, 1)] },
  { name: 'LogSoftmax', inputs: [{ dims: [3, 4] }], build: (_g, [x]) => [F.logSoftmax(x!), F.logSoftmax(x!, 0)] },
  {
    name: 'LayerNormalization', inputs: [{ dims: [2, 3, 4] }, { dims: [4] }, { dims: [4] }, { dims: [3, 4] }, { dims: [3, 4] }],
    build: (g, [x, w, b, w2, b2]) => [F.layerNorm(x!, w!, b!, 1e-5), op(g, 'LayerNormalization', [x!, w2!, b2!], { axis: 1, epsilon: 1e-3 })],
  },
  // ONNX Runtime has Conv in float32 only: the Conv rule is checked in float32 (it is linear, so the
  // differences are exact up to rounding), and the float64 model's convolution (a matrix product over
  // shifted copies) in float64.
  {
    name: 'Conv 1-D, padded (float32)', inputs: [{ dims: [2, 3, 5] }, { dims: [4, 3, 3] }, { dims: [4] }],
    build: (_g, [x, w, b]) => F.conv1d(x!, w!, b!, 1, 1), dtype: 'float32', step: 1e-2, tol: 3.5e-5, // measured 1.25e-5
  },
  {
    name: 'Conv 1-D, groups (float32)', inputs: [{ dims: [2, 4, 6] }, { dims: [6, 2, 3] }],
    build: (g, [x, w]) => [F.conv1d(x!, w!, undefined, 1, 2), op(g, 'Conv', [x!, w!], { pads: [2, 0], group: 2, kernel_shape: [3] })],
    dtype: 'float32', step: 1e-2, tol: 5e-5, // measured 1.98e-5 (1 and 2 threads)
  },
  {
    name: 'conv1d in a float64 graph, groups', inputs: [{ dims: [2, 4, 6], shape: ['b', 4, 'n'] }, { dims: [6, 2, 3] }, { dims: [6] }],
    build: (_g, [x, w, b]) => F.conv1d(x!, w!, b!, 1, 2),
  },
  {
    name: 'Gelu, BiasGelu contrib ops (float32)', inputs: [{ dims: [2, 3] }, { dims: [3] }],
    build: (g, [x, b]) => [op(g, 'Gelu', [x!]), op(g, 'BiasGelu', [x!, b!])], dtype: 'float32', step: 1e-2, tol: 1.2e-4, // measured 4.3e-5
  },
  {
    name: 'Dropout in inference mode', inputs: [{ dims: [2, 3] }],
    build: (g, [x]) => [op(g, 'Dropout', [x!]), op(g, 'Dropout', [x!, g.scalar(0.3, 'float64'), g.scalar(0, 'bool')])],
  },
  {
    name: 'SoftmaxCrossEntropyLoss mean, ignore_index, log_prob', inputs: [{ dims: [4, 5] }],
    build: (g, [s]) => {
      const [loss, logp] = g.op('SoftmaxCrossEntropyLoss', [s!, i64(g, [1, -100, 4, 0])], { ignore_index: -100 });
      return [loss!, logp!];
    },
  },
  {
    name: 'SoftmaxCrossEntropyLoss sum and none, [N, C, d]', inputs: [{ dims: [2, 3, 4] }],
    build: (g, [s]) => {
      const labels = i64(g, [0, 2, 1, -1, 1, 1, 0, 2], [2, 4]);
      return [
        op(g, 'SoftmaxCrossEntropyLoss', [s!, labels], { reduction: 'sum', ignore_index: -1 }),
        op(g, 'SoftmaxCrossEntropyLoss', [s!, labels], { reduction: 'none', ignore_index: -1 }),
      ];
    },
  },
  {
    // Classes counted at run time, as in question answering (the sequence length) and multiple choice.
    name: 'SoftmaxCrossEntropyLoss with a symbolic class count', inputs: [{ dims: [3, 5], shape: ['b', 'n'] }],
    build: (g, [s]) => op(g, 'SoftmaxCrossEntropyLoss', [s!, i64(g, [4, 0, 5])], { ignore_index: 5 }),
  },
  {
    name: 'SoftmaxCrossEntropyLoss with class weights', inputs: [{ dims: [5, 3] }],
    build: (g, [s]) => op(g, 'SoftmaxCrossEntropyLoss', [s!, i64(g, [0, 2, 1, 1, 2]), f64(g, [0.5, 2, 1.5], [3])]),
  },
  {
    // Last, so the cases above keep their random draws. The attention mask: masked scores are absorbed by
    // the lowest value, so finite differences see no dependence on them, and a fully masked row (the
    // second) gets a uniform softmax and no gradient.
    name: 'AddMask, then Softmax with a fully masked row', inputs: [{ dims: [2, 3] }],
    build: (g, [a]) => F.softmax(op(g, 'AddMask', [a!, f64(g, [0, -3.4028234663852886e38, 0, -3.4028234663852886e38, -3.4028234663852886e38, -3.4028234663852886e38], [2, 3])])),
  },
];

/** Checks one case; returns the worst relative L2 error over its inputs. */
async function check(c: Case): Promise<{ worst: number; inputs: number }> {
  const dtype = c.dtype ?? 'float64';
  const g = new Graph();
  const xs = c.inputs.map((spec, i) => g.input(`x${i}`, dtype, spec.shape ?? spec.dims));
  const feeds: Record<string, Tensor> = {};
  c.inputs.forEach((spec, i) => {
    const n = spec.dims.reduce((p, q) => p * q, 1);
    const data = Float64Array.from({ length: n }, () => (spec.map ?? ((u: number) => u))(2 * rng.uniform() - 1));
    feeds[`x${i}`] = tensor(dtype, spec.dims, dtype === 'float64' ? data : Float32Array.from(data));
  });
  const built = c.build(g, xs);
  const outs = Array.isArray(built) ? built : [built];

  // Weights of the outputs' run-time sizes, so the loss is a generic linear functional of every output.
  const probe = await Session.fromGraph(g, { outputs: Object.fromEntries(outs.map((o, k) => [`y${k}`, o])) }, { threads: 1 });
  const ys = await probe.run(feeds);
  await probe.release();
  let loss: Value | undefined;
  outs.forEach((o, k) => {
    const dims = ys[`y${k}`]!.dims;
    const w = Float64Array.from({ length: dims.reduce((p, q) => p * q, 1) }, () => 2 * rng.uniform() - 1);
    const weight = g.constant(tensor(dtype, dims, dtype === 'float64' ? w : Float32Array.from(w)));
    const term = g.op1('ReduceSum', [o.mul(weight)], { keepdims: 0 });
    loss = loss ? loss.add(term) : term;
  });
  const grads = gradients(loss!, xs);
  const outputs: Record<string, Value> = { loss: loss! };
  grads.forEach((d, i) => {
    if (c.noGrad?.includes(i)) assert.equal(d, null, `${c.name}: input #${i} should get no gradient`);
    else {
      assert.ok(d, `${c.name}: input #${i} got no gradient`);
      outputs[`d${i}`] = d;
    }
  });
  const session = await Session.fromGraph(g, { outputs }, { threads: 1 });
  const analytic = await session.run(feeds);
  const lossAt = async () => Number((await session.run(feeds, ['loss'])).loss!.data[0]);

  let worst = 0;
  const h = c.step ?? 1e-5;
  for (let i = 0; i < xs.length; i++) {
    if (c.noGrad?.includes(i)) continue;
    const x = feeds[`x${i}`]!.data as Float64Array | Float32Array;
    const ours = analytic[`d${i}`]!;
    assert.deepEqual(ours.dims, feeds[`x${i}`]!.dims, `${c.name}: dims of the gradient of input #${i}`);
    let diff = 0, norm = 0;
    for (let k = 0; k < x.length; k++) {
      const keep = x[k]!;
      x[k] = keep + h;
      const up = await lossAt();
      x[k] = keep - h;
      const down = await lossAt();
      x[k] = keep;
      const numeric = (up - down) / (2 * h);
      diff += (Number(ours.data[k]) - numeric) ** 2;
      norm += numeric ** 2;
    }
    const err = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-12);
    worst = Math.max(worst, err);
    assert.ok(err <= (c.tol ?? DEFAULT_TOL), `${c.name}: input #${i}: relative L2 error ${err.toExponential(2)} > ${c.tol ?? DEFAULT_TOL}`);
  }
  await session.release();
  return { worst, inputs: xs.length };
}

for (const c of CASES) {
  test(`gradient of ${c.name} matches finite differences`, async (t) => {
    const { worst } = await check(c);
    t.diagnostic(`worst relative L2 error ${worst.toExponential(2)}`);
  });
}

test('training-mode Dropout: gradient is dy * mask / (1 - ratio)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float64', [4, 5]);
  const [y, mask] = g.op('Dropout', [x, g.scalar(0.25, 'float64'), g.scalar(1, 'bool')], { seed: 7 });
  const w = f64(g, Array.from({ length: 20 }, (_, i) => i - 7), [4, 5]);
  const loss = g.op1('ReduceSum', [y!.mul(w)], { keepdims: 0 });
  const [dx] = gradients(loss, [x]);
  const s = await Session.fromGraph(g, { outputs: { mask: mask!, dx: dx! } }, { threads: 1 });
  const out = await s.run({ x: tensor('float64', [4, 5], Float64Array.from({ length: 20 }, (_, i) => i / 10)) });
  const m = out.mask!.data as Uint8Array, d = out.dx!.data as Float64Array;
  assert.ok(m.some((v) => v === 0) && m.some((v) => v === 1), 'mask should drop some and keep some');
  // Measured 1.8e-15 (1 ulp of float64 at these values): a floor of a few ulp.
  for (let i = 0; i < 20; i++) assert.ok(Math.abs(d[i]! - (m[i] ? (i - 7) / 0.75 : 0)) < 1e-14, `dx[${i}] = ${d[i]}`);
  await s.release();
});

test('values the loss does not depend on get a null gradient', () => {
  const g = new Graph();
  const a = g.input('a', 'float64', [3]);
  const b = g.input('b', 'float64', [3]);
  const unused = g.input('c', 'float64', [3]);
  const ints = g.op1('Cast', [b], { to: 'int64' }); // a path through integers carries no gradient
  const loss = g.op1('ReduceSum', [a.mul(a).add(ints.cast('float64'))], { keepdims: 0 });
  const [da, db, dc] = gradients(loss, [a, b, unused]);
  assert.ok(da);
  assert.equal(db, null);
  assert.equal(dc, null);
});

test('an op without a gradient rule on the path names the op', () => {
  const g = new Graph();
  const a = g.input('a', 'float64', [3]);
  const loss = g.op1('ReduceSum', [g.op1('Tile', [a, g.constInt64([2])])], { keepdims: 0 });
  assert.throws(() => gradients(loss, [a]), /Tile .* has no gradient rule/);
});
