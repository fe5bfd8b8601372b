// Dynamic int8 quantisation (src/runtime/quantize.ts): the weight rounding, and a quantised graph run in
// both forms against its float32 original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../src/graph/graph.ts';
import * as F from '../src/graph/functional.ts';
import { emitOnnx } from '../src/runtime/onnx-emit.ts';
import { quantizeGraphForInference, quantizeWeight } from '../src/runtime/quantize.ts';
import { Session } from '../src/runtime/session.ts';
import { Rng } from '../src/util/random.ts';
import { tensor } from '../src/tensor.ts';
import { F32_FLOOR, relError } from './helpers/compare.ts';

function randn(rng: Rng, n: number, std = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

test('quantizeWeight: symmetric per-column int8 within half a step', () => {
  const rng = new Rng(1);
  const [k, n] = [37, 11];
  const w = randn(rng, k * n);
  w[5 * n + 3] = 40; // an outlier widens only its own column's step
  const { q, scale } = quantizeWeight(w, k, n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) {
      assert.ok(Math.abs(q[i * n + j]!) <= 127);
      // Measured: never beyond half a step; the 1e-7 allows float32 rounding of q · scale.
      assert.ok(Math.abs(q[i * n + j]! * scale[j]! - w[i * n + j]!) <= scale[j]! / 2 + 1e-7);
    }
  }
  // Measured 1.2e-9 (scale is float32): a floor of 4 ulp of float32 at 0.31.
  assert.ok(Math.abs(scale[3]! - 40 / 127) < 1.2e-7);
  // The outlier column's neighbour keeps its own step: measured 0.0242 (max |w| of 37 normal draws / 127); 2×.
  assert.ok(scale[4]! < 0.05);
});

test('quantizeGraphForInference: both int8 forms run, agree, and land near float32; the original graph is untouched', async () => {
  const rng = new Rng(2);
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 16]);
  const w1 = g.param('w1', tensor('float32', [24, 16], randn(rng, 24 * 16, 0.2)));
  const b1 = g.param('b1', tensor('float32', [24], randn(rng, 24, 0.1)));
  const w2 = g.param('w2', tensor('float32', [24, 5], randn(rng, 24 * 5, 0.2))); // used without a transpose
  const h = F.tanh(F.linear(x, w1, b1));
  const outputs = { y: h.matmul(w2), z: h.matmul(F.transpose(h, [1, 0])) }; // z: no constant weight, stays float
  const feeds = { x: tensor('float32', [3, 16], randn(rng, 48)) };

  const run = async (graph: Graph, outs: typeof outputs) => {
    const s = await Session.fromGraph(graph, { outputs: outs }, { threads: 1 });
    const r = await s.run(feeds);
    await s.release();
    return { y: r.y!.data as Float32Array, z: r.z!.data as Float32Array };
  };
  const f32 = await run(g, outputs);
  const a = quantizeGraphForInference(g, outputs);
  const b = quantizeGraphForInference(g, outputs, { op: 'DynamicQuantizeMatMul' });
  assert.deepEqual(a.quantized, ['w1', 'w2']);
  const types = (graph: Graph) => new Set(graph.nodes.map((n) => n.type));
  assert.ok(types(a.graph).has('MatMulInteger') && types(a.graph).has('DynamicQuantizeLinear'));
  assert.ok(types(b.graph).has('DynamicQuantizeMatMul'));
  assert.ok(!types(g).has('MatMulInteger'), 'the original graph is unchanged');
  assert.ok(emitOnnx(a.graph, { outputs: a.outputs }).model.length < emitOnnx(g, { outputs }).model.length, 'int8 weights are smaller');

  const qa = await run(a.graph, a.outputs as typeof outputs);
  const qb = await run(b.graph, b.outputs as typeof outputs);
  // Measured exactly 0 (1 and 2 threads): a float32 floor.
  assert.ok(relError(qa.y, qb.y) <= F32_FLOOR, `the two forms compute the same: ${relError(qa.y, qb.y)}`);
  // Measured 1.15e-2 (y) and 3.45e-3 (z), 1 and 2 threads; about 2.2× and 2.9×. Not float32 either: quantised.
  assert.ok(relError(qa.y, f32.y) < 0.025 && relError(qa.y, f32.y) > 1e-3, `int8 vs float32: ${relError(qa.y, f32.y)}`);
  assert.ok(relError(qa.z, f32.z) < 0.01 && relError(qa.z, f32.z) > 3e-4, `int8 vs float32: ${relError(qa.z, f32.z)}`);
});
