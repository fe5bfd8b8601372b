// The backward-pass rewrites of src/graph/autodiff.ts: the exact GELU differentiated as one unit (its
// inner values unread by the backward pass), a linear layer's weight gradient as B^T A^T (no transpose of
// the product), and zero-gradient shapes read off small ancestors. Each gives the generic rules' numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradients } from '../src/graph/autodiff.ts';
import * as F from '../src/graph/functional.ts';
import { Graph } from '../src/graph/graph.ts';
import type { Value } from '../src/graph/value.ts';
import { Session } from '../src/runtime/session.ts';
import { tensor, toFloat64 } from '../src/tensor.ts';

const xs = [-4, -1.5, -0.3, 0, 0.2, 0.7, 1.3, 3.1];

async function run(g: Graph, outputs: Record<string, Value>, feeds = {}) {
  const s = await Session.fromGraph(g, { outputs, paramsAs: 'inputs' }, { threads: 1 });
  try {
    const params = Object.fromEntries([...g.params].map(([k, v]) => [k, v.constValue!]));
    return await s.run({ ...params, ...feeds });
  } finally {
    await s.release();
  }
}

/** d/dx sum(w * gelu(x)) for the xs, in the given dtype. */
async function geluGrad(dtype: 'float32' | 'float64') {
  const g = new Graph();
  const make = (v: number[]) => (dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v));
  const x = g.param('x', tensor(dtype, [xs.length], make(xs)));
  const w = g.constant(tensor(dtype, [xs.length], make(xs.map((_, i) => 1 + i / 4))));
  const y = F.gelu(x);
  const loss = F.reduceSum(y.mul(w), [0], false);
  const before = g.nodes.length;
  const [dx] = gradients(loss, [x]);
  const out = await run(g, { dx: dx! });
  return { dx: Array.from(toFloat64(out.dx!)), g, before, y };
}

test('float32 GELU is differentiated as a whole: same gradient as the generic rules, inner values unread', async () => {
  const f32 = await geluGrad('float32');
  const f64 = await geluGrad('float64'); // float64 GELU casts around Erf: the generic rules apply
  f32.dx.forEach((d, i) => assert.ok(Math.abs(d - f64.dx[i]!) <= 2e-6 * Math.max(1, Math.abs(f64.dx[i]!)), `x = ${xs[i]}: ${d} vs ${f64.dx[i]}`));
  // d/dx gelu at 0 is 1/2; far right it tends to 1, far left to 0 (times w = 1 + i/4).
  assert.ok(Math.abs(f64.dx[3]! - 0.5 * 1.75) < 1e-12);
  // The forward chain's inner values (Div, Erf, Add, Mul(x, .)) feed no backward node.
  const inner = new Set<Value>();
  for (let v = f32.y.producer!.inputs[0]!; v.producer && v.producer.type !== 'Div';) {
    inner.add(v);
    const p = v.producer;
    v = p.type === 'Mul' ? p.inputs[1]! : p.inputs[0]!;
    if (p.type === 'Erf') { inner.add(v); break; }
  }
  assert.equal(inner.size, 4, 'Mul(x, a), Add, Erf and Div outputs');
  const readers = f32.g.nodes.slice(f32.before).filter((n) => n.inputs.some((v) => v && inner.has(v)));
  assert.deepEqual(readers.map((n) => n.type), []);
});

test("a linear layer's weight gradient comes out as a product in the weight's layout, equal to x^T d", async () => {
  const g = new Graph();
  const [B, T, I, O] = [2, 3, 4, 5];
  const xv = Float64Array.from({ length: B * T * I }, (_, i) => Math.sin(i + 1));
  const wv = Float64Array.from({ length: O * I }, (_, i) => Math.cos(i) / 2);
  const x = g.param('x', tensor('float64', [B, T, I], xv));
  const W = g.param('W', tensor('float64', [O, I], wv));
  const c = Float64Array.from({ length: O }, (_, i) => i - 2);
  const loss = F.reduceSum(F.linear(x, W).mul(g.constant(tensor('float64', [O], c))), [0, 1, 2], false);
  const [dW] = gradients(loss, [W]);
  assert.equal(dW!.producer!.type, 'MatMul');
  assert.deepEqual(dW!.shape, [O, I]);
  const out = await run(g, { dW: dW! });
  // dL/dW[o][i] = c[o] * sum over rows of x[., i]
  const expected = Array.from({ length: O * I }, (_, k) => {
    const o = Math.floor(k / I), i = k % I;
    let s = 0;
    for (let r = 0; r < B * T; r++) s += xv[r * I + i]!;
    return c[o]! * s;
  });
  Array.from(toFloat64(out.dW!)).forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) <= 1e-12 * (1 + Math.abs(expected[k]!)), `dW[${k}]: ${v} vs ${expected[k]}`));
});

test('the gradient of gathered-from data takes its runtime shape from a small ancestor, not from the data', async () => {
  const g = new Graph();
  const ids = g.input('ids', 'int64', ['batch', 'sequence']);
  const table = g.param('table', tensor('float32', [6, 3], Float32Array.from({ length: 18 }, (_, i) => i / 10)));
  // big: [batch, sequence, 3], a forward activation; small: ids (a graph input) has batch and sequence.
  const big = F.gather(table, ids).mul(2);
  const picked = F.gatherElements(big, F.concat([F.unsqueeze(ids, [2]), F.unsqueeze(ids, [2]), F.unsqueeze(ids, [2])], 2).cast('int64'), 2);
  const loss = F.reduceSum(picked, [0, 1, 2], false);
  const before = g.nodes.length;
  const [dt] = gradients(loss, [table]);
  const shapeReaders = g.nodes.slice(before).filter((n) => n.type === 'Shape').map((n) => n.inputs[0]);
  assert.ok(shapeReaders.includes(ids), 'the zeros take batch and sequence from the ids');
  assert.ok(!shapeReaders.includes(big), 'no backward Shape reads the gathered-from activation');
  const idv = BigInt64Array.from([0n, 1n, 2n, 2n, 1n, 0n]);
  const out = await run(g, { dt: dt! }, { ids: tensor('int64', [2, 3], idv) });
  // Each position gathers row ids[p] (x2), then picks column ids[p] of it three times: d table[r][r] = 6 * #{p: ids[p] = r}.
  const expected = new Array(18).fill(0);
  for (const id of idv) expected[Number(id) * 3 + Number(id)] += 6;
  assert.deepEqual(Array.from(toFloat64(out.dt!)), expected);
});

test('the gradients of Reshape and of a mean over symbolic axes read no Shape of the forward activation', async () => {
  const g = new Graph();
  const ids = g.input('ids', 'int64', ['batch', 'sequence']);
  const table = g.param('table', tensor('float32', [6, 3], Float32Array.from({ length: 18 }, (_, i) => i / 10)));
  const big = F.gather(table, ids).mul(2); // [batch, sequence, 3], a forward activation
  const flat = big.reshape([-1, 3]); // [batch * sequence, 3]
  const squares = flat.mul(flat);
  const loss = F.reduceSum(F.reduceMean(squares, [0], false), [0], false);
  const before = g.nodes.length;
  const [dt] = gradients(loss, [table]);
  // The Reshape's gradient takes batch and sequence from the ids; the mean's count, from the reshaped
  // value (an ancestor, which the backward reads anyway), never from the squares it averages.
  const shapeReaders = g.nodes.slice(before).filter((n) => n.type === 'Shape').map((n) => n.inputs[0]);
  assert.ok(shapeReaders.includes(ids), 'batch and sequence come from the ids');
  assert.ok(!shapeReaders.includes(big) && !shapeReaders.includes(squares), 'no backward Shape reads the activations');
  const idv = BigInt64Array.from([0n, 1n, 2n, 2n, 1n, 5n]);
  const out = await run(g, { dt: dt! }, { ids: tensor('int64', [2, 3], idv) });
  // loss = mean over the 6 rows of sum_c (2 table[id][c])^2, so d table[r][c] = #{p: ids[p] = r} * 8 table[r][c] / 6.
  const expected = Array.from({ length: 18 }, (_, k) => {
    const r = Math.floor(k / 3);
    const count = [...idv].filter((x) => Number(x) === r).length;
    return (count * 8 * (k / 10)) / 6;
  });
  Array.from(toFloat64(out.dt!)).forEach((v, k) => assert.ok(Math.abs(v - expected[k]!) <= 1e-6 * (1 + Math.abs(expected[k]!)), `dt[${k}]: ${v} vs ${expected[k]}`));
});

test("a GELU's output is recomputed for the next layer's weight gradient: the backward reads its input, never its output", async () => {
  const g = new Graph();
  const x = g.param('x', tensor('float32', [2, xs.length / 2], Float32Array.from(xs)));
  const w = g.param('w', tensor('float32', [xs.length / 2, 3], Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 7)));
  const y = F.gelu(x);
  const loss = F.reduceSum(y.matmul(w).mul(y.matmul(w)), [0, 1], false);
  const before = g.nodes.length;
  const [dw] = gradients(loss, [w]);
  const readers = g.nodes.slice(before).filter((n) => n.inputs.includes(y));
  assert.deepEqual(readers.map((n) => n.type), [], 'no backward node reads the GELU output');
  const out = await run(g, { dw: dw! });
  // dL/dw = 2 y^T (y w), with y = gelu(x) in float64.
  const erf = (t: number) => { // its Maclaurin series, to about 1e-13 for the |t| < 3 of these xs
    let sum = 0, term = t;
    for (let n = 0; n < 60; n++) { sum += term / (2 * n + 1); term *= -t * t / (n + 1); }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  const yv = xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  const wv = Array.from({ length: 12 }, (_, i) => (i - 5) / 7);
  const yw = [0, 1].flatMap((r) => [0, 1, 2].map((c) => [0, 1, 2, 3].reduce((s, k) => s + yv[r * 4 + k]! * wv[k * 3 + c]!, 0)));
  const expected = [0, 1, 2, 3].flatMap((k) => [0, 1, 2].map((c) => 2 * (yv[k]! * yw[c]! + yv[4 + k]! * yw[3 + c]!)));
  Array.from(toFloat64(out.dw!)).forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 1e-5 * (1 + Math.abs(expected[i]!)), `dw[${i}]: ${v} vs ${expected[i]}`));
});
