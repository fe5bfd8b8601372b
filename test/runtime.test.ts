// The compiler and runtime on small graphs: shapes, dynamic dims, external data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../src/graph/graph.ts';
import * as F from '../src/graph/functional.ts';
import { Session } from '../src/runtime/session.ts';
import { emitOnnx } from '../src/runtime/onnx-emit.ts';
import { repeatModel } from '../src/runtime/repeat.ts';
import { tensor } from '../src/tensor.ts';
import { platform } from '../src/platform/index.ts';

test('shape inference keeps symbolic dims through reshapes and matmuls', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 8]);
  const w = g.param('w', tensor('float32', [8, 6]));
  const y = x.matmul(w).reshape([0, 0, 2, 3]).transpose([0, 2, 1, 3]);
  assert.deepEqual(y.shape, ['batch', 2, 'seq', 3]);
  assert.deepEqual(y.reshape([-1, 3]).shape.length, 2);
  assert.throws(() => x.matmul(g.param('bad', tensor('float32', [7, 2]))), /MatMul: inner dims differ/);
});

test('one session serves every batch size and length', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq']);
  const y = F.softmax(x.mul(2));
  const s = await Session.fromGraph(g, { outputs: { y } }, { threads: 1 });
  for (const [b, n] of [[1, 3], [4, 7]] as const) {
    const out = await s.run({ x: tensor('float32', [b, n], new Float32Array(b * n).fill(1)) });
    assert.deepEqual(out.y!.dims, [b, n]);
    // Measured 9.9e-9 (1/3 rounded to float32): 1e-7 is a floor of a few float32 ulp at 1/3 and 1/7.
    assert.ok(Math.abs((out.y!.data as Float32Array)[0]! - 1 / n) < 1e-7);
  }
  await s.release();
});

test('runInto writes caller-owned outputs in place and can free the copies onnxruntime-node returns of them', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [4]);
  const s = await Session.fromGraph(g, { outputs: { y: x.mul(3), z: x.add(1) } }, { threads: 1 });
  const p = platform();
  const release = p.release!;
  const released: ArrayBuffer[] = [];
  (p as { release?: (b: ArrayBuffer[]) => void }).release = (bs) => { released.push(...bs); release(bs); };
  try {
    for (const freeCopies of [false, true]) {
      released.length = 0;
      const y = tensor('float32', [4], new Float32Array(4));
      const out = await s.runInto({ x: tensor('float32', [4], Float32Array.of(1, 2, 3, 4)) }, { y, z: null }, { freeCopies });
      assert.equal(out.y, y);
      assert.deepEqual([...(y.data as Float32Array)], [3, 6, 9, 12]);
      assert.deepEqual([...(out.z!.data as Float32Array)], [2, 3, 4, 5]);
      // Freed: one copy (y's), detached at once; never the caller's buffer nor z's.
      assert.equal(released.length, freeCopies ? 1 : 0);
      for (const b of released) {
        assert.notEqual(b, y.data.buffer);
        assert.notEqual(b, out.z!.data.buffer);
        assert.equal(b.byteLength, 0);
      }
    }
  } finally {
    (p as { release?: unknown }).release = release;
    await s.release();
  }
});

test('weights above the external-data threshold travel beside the model and still run', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [1, 1024]);
  const w = g.param('w', tensor('float32', [1024, 2], new Float32Array(2048).map((_, i) => (i % 2 ? 1 : 0.5))));
  const emitted = emitOnnx(g, { outputs: { y: x.matmul(w) }, externalAbove: 1000 });
  assert.equal(emitted.externalData?.size, 8192);
  assert.ok(emitted.model.length < 4096, 'the weights are not inside the protobuf');
  const s = await Session.fromModel(emitted, { threads: 1 });
  const out = await s.run({ x: tensor('float32', [1, 1024], new Float32Array(1024).fill(1)) });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [512, 1024]);
  await s.release();
});

test('a fixed slice of a symbolic dim has a known length', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 'seq', 4]);
  assert.deepEqual(F.slice(x, [0], [1], [1]).shape, ['batch', 1, 4]);
  assert.deepEqual(F.slice(x, [0], [2 ** 62], [1]).shape, ['batch', 'seq', 4]);
  assert.deepEqual(F.slice(x, [1], [3], [2]).shape, ['batch', 'seq', 2]);
});

test('repeatModel runs a model as an ONNX Loop: carried state, per-step inputs and outputs, inputs shared by every step', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [3]);
  const s = g.input('s', 'float32', []);
  const w = g.input('w', 'float32', [3]);
  // One step: x' = 2x + s * w; it also reports sum(x').
  const next = x.mul(2).add(w.mul(s));
  const model = emitOnnx(g, { outputs: { next, total: F.reduceSum(next, [0], false) } }).model;
  const repeated = repeatModel(model, { carried: [['x', 'next']], perStep: ['s'], perStepOutputs: ['total'] });
  const session = await Session.fromModel(repeated, { threads: 1 });
  assert.deepEqual([...session.inputNames].sort(), ['steps.s', 'w', 'x']);
  const out = await session.run({
    x: tensor('float32', [3], Float32Array.of(1, 0, -1)), w: tensor('float32', [3], Float32Array.of(1, 2, 3)),
    'steps.s': tensor('float32', [3], Float32Array.of(1, 10, 100)),
  });
  // By hand: x1 = [3, 2, 1], x2 = [16, 24, 32], x3 = [132, 248, 364].
  assert.deepEqual(Array.from(out.next!.data as Float32Array), [132, 248, 364]);
  assert.deepEqual(out.total!.dims, [3]);
  assert.deepEqual(Array.from(out.total!.data as Float32Array), [6, 72, 744]);
  assert.throws(() => repeatModel(model, { carried: [['x', 'nope']], perStep: ['s'], perStepOutputs: [] }), /repeatModel: the model has no output 'nope'/);
  assert.throws(() => repeatModel(model, { carried: [['x', 'next']], perStep: [], perStepOutputs: [] }), /at least one per-step input/);
  await session.release();
});
