// Weights that stay on disk: safetensors tensors read on first use, and ONNX models whose initializers
// point into the checkpoint file itself (src/io/safetensors.ts FileTensor, src/runtime/onnx-emit.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { FileTensor, readSafetensors } from '../src/io/safetensors.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { buildModelGraph, createModel } from '../src/models/create.ts';
import { emitOnnx } from '../src/runtime/onnx-emit.ts';
import { platform } from '../src/platform/index.ts';
import type { Tensor } from '../src/tensor.ts';

/** Where the Node platform says a weight's bytes still lie in its file. */
const fileRegionOf = (t: Tensor) => platform().weightRegion!(t);

const dir = join(import.meta.dirname, 'fixtures', 'models', 'v3-buckets-seqcls');
const weightsFile = join(dir, 'model.safetensors');
const { onnx } = onnxProto;

test('lazy safetensors: same bytes as an eager read, file region only until the data is read', () => {
  const eager = readSafetensors(weightsFile).tensors;
  const lazy = readSafetensors(weightsFile, { lazy: true }).tensors;
  assert.deepEqual([...lazy.keys()], [...eager.keys()]);
  const name = 'deberta.encoder.layer.0.attention.self.query_proj.weight';
  const t = lazy.get(name)!;
  assert.ok(t instanceof FileTensor);
  const region = fileRegionOf(t)!;
  assert.equal(region.path, weightsFile);
  assert.equal(region.length, eager.get(name)!.data.byteLength);
  assert.ok(region.offset + region.length <= statSync(weightsFile).size);
  assert.deepEqual(t.dims, eager.get(name)!.dims);
  assert.deepEqual(t.data, eager.get(name)!.data);
  assert.equal(fileRegionOf(t), undefined, 'once read (and maybe changed in place) the file no longer speaks for it');
});

test('emitOnnx references on-disk weights by file name and keeps read ones inline', async () => {
  const config = readDebertaConfig(dir);
  const { tensors } = await loadCheckpointTensors(dir, { lazy: true });
  const changed = 'classifier.weight';
  (tensors.get(changed)!.data as Float32Array)[0] = 123; // read and changed: must go inline
  const mg = buildModelGraph(config, tensors);
  const m = emitOnnx(mg.graph, { outputs: mg.outputs, weightRegion: platform().weightRegion, onnxRuntimeOps: true });
  assert.deepEqual(m.weightFiles, { 'model.safetensors': weightsFile });
  const proto = onnx.ModelProto.decode(m.model);
  const init = new Map(proto.graph!.initializer!.map((t) => [t.name!, t]));
  const ext = init.get('deberta.encoder.layer.0.attention.self.query_proj.weight')!;
  assert.equal(ext.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
  const kv = Object.fromEntries(ext.externalData!.map((e) => [e.key, e.value]));
  const region = fileRegionOf(tensors.get('deberta.encoder.layer.0.attention.self.query_proj.weight')!)!;
  assert.deepEqual(kv, { location: 'model.safetensors', offset: String(region.offset), length: String(region.length) });
  const inline = init.get(changed)!;
  assert.notEqual(inline.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
  assert.equal(new Float32Array(Uint8Array.from(inline.rawData!).buffer)[0], 123);
  // Linear layers on baked weights go out as FusedMatMul(x, W, transB); no Transpose of a weight is left.
  const nodes = proto.graph!.node!;
  const q = nodes.find((n) => n.input!.includes('deberta.encoder.layer.0.attention.self.query_proj.weight'))!;
  assert.equal(q.opType, 'FusedMatMul');
  assert.deepEqual(q.attribute!.map((a) => [a.name, Number(a.i)]), [['transB', 1]]);
  // Only the constant relative-position products keep MatMul(table, Transpose(W)): ONNX Runtime folds them at load.
  const transposed = nodes.filter((n) => n.opType === 'Transpose' && init.has(n.input![0]!)).map((n) => n.input![0]!);
  assert.ok(transposed.length > 0 && transposed.every((w) => /\.(key|query)_proj\.weight$/.test(w)), transposed.join());
  // Without the options (as `deberta export` emits): everything inline, standard ONNX ops only.
  const plain = emitOnnx(mg.graph, { outputs: mg.outputs });
  assert.equal(plain.weightFiles, undefined);
  assert.ok(plain.model.length > m.model.length + 0.5 * statSync(weightsFile).size);
  const plainProto = onnx.ModelProto.decode(plain.model);
  assert.deepEqual(plainProto.graph!.node!.filter((n) => n.domain === 'com.microsoft').map((n) => n.opType), []);
  assert.deepEqual(plainProto.opsetImport!.map((o) => o.domain), ['']);
});

test('a model whose weights stay in the file gives the outputs of one built from memory', async () => {
  const config = readDebertaConfig(dir);
  const ids = { data: BigInt64Array.from([1n, 5n, 9n, 14n, 2n]), dims: [1, 5] };
  const fromDisk = await createModel(config, (await loadCheckpointTensors(dir, { lazy: true })).tensors, 'auto', { threads: 1 });
  const fromMemory = await createModel(config, (await loadCheckpointTensors(dir)).tensors, 'auto', { threads: 1 });
  const a = (await fromDisk({ inputIds: ids })).logits!, b = (await fromMemory({ inputIds: ids })).logits!;
  assert.deepEqual(a.dims, [1, config.num_labels]);
  assert.deepEqual(a.data, b.data);
  await fromDisk.dispose(); await fromMemory.dispose();

  // Weights in two folders (a mix of checkpoints): not one folder to name, so they are read and inlined.
  const other = mkdtempSync(join(tmpdir(), 'deberta-ts-lazy-'));
  try {
    copyFileSync(weightsFile, join(other, 'model.safetensors'));
    const mixed = await (await loadCheckpointTensors(dir, { lazy: true })).tensors;
    const elsewhere = readSafetensors(join(other, 'model.safetensors'), { lazy: true }).tensors;
    mixed.set('classifier.weight', elsewhere.get('classifier.weight')!);
    const m = await createModel(config, mixed, 'auto', { threads: 1 });
    assert.deepEqual((await m({ inputIds: ids })).logits!.data, b.data);
    await m.dispose();
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
