import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { loadModel } from '../src/models/auto.ts';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { readTorchCheckpoint } from '../src/io/node-files.ts';
import type { Tensor } from '../src/tensor.ts';

const SEQCLS = 'test/fixtures/models/v3-buckets-seqcls';
const SEQCLS_BIN = 'test/fixtures/models/v3-buckets-seqcls-bin';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'io-checkpoint-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertSameTensors(actual: Map<string, Tensor>, expected: Map<string, Tensor>): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [name, t] of expected) {
    const a = actual.get(name)!;
    assert.equal(a.dtype, t.dtype, name);
    assert.deepEqual(a.dims, t.dims, name);
    assert.ok(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength)
      .equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${name}: data differs`);
  }
}

/** Splits the tensors (in name order) into two shard files plus an index, as save_pretrained does. */
function writeShards(dir: string, tensors: Map<string, Tensor>): { index: Record<string, string>; names: string[] } {
  const names = [...tensors.keys()].sort();
  const half = Math.floor(names.length / 2);
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const index: Record<string, string> = {};
  names.forEach((n, i) => { index[n] = shards[i < half ? 0 : 1]!; });
  for (const [s, part] of [[shards[0]!, names.slice(0, half)], [shards[1]!, names.slice(half)]] as const) {
    writeSafetensors(join(dir, s), new Map(part.map((n) => [n, tensors.get(n)!])), { format: 'pt' });
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: index }));
  return { index, names: shards };
}

test('single-file checkpoints: safetensors and pytorch_model.bin', async () => {
  const st = await loadCheckpointTensors(SEQCLS);
  assert.deepEqual(st.files, [join(SEQCLS, 'model.safetensors')]);
  assertSameTensors(st.tensors, readSafetensors(join(SEQCLS, 'model.safetensors')).tensors);

  const bin = await loadCheckpointTensors(SEQCLS_BIN);
  assert.deepEqual(bin.files, [join(SEQCLS_BIN, 'pytorch_model.bin')]);
  assert.equal(bin.tensors.size, 42);
  assertSameTensors(bin.tensors, readTorchCheckpoint(join(SEQCLS_BIN, 'pytorch_model.bin')));
});

test('safetensors wins over pytorch_model.bin when both are present', async () => {
  await withDir(async (dir) => {
    copyFileSync(join(SEQCLS_BIN, 'pytorch_model.bin'), join(dir, 'pytorch_model.bin'));
    copyFileSync(join(SEQCLS, 'model.safetensors'), join(dir, 'model.safetensors'));
    const got = await loadCheckpointTensors(dir);
    assert.deepEqual(got.files, [join(dir, 'model.safetensors')]);
    assertSameTensors(got.tensors, readSafetensors(join(SEQCLS, 'model.safetensors')).tensors);
  });
});

test('a sharded safetensors checkpoint loads identically to the single file', async () => {
  await withDir(async (dir) => {
    const whole = readSafetensors(join(SEQCLS, 'model.safetensors')).tensors;
    const { names } = writeShards(dir, whole);
    const got = await loadCheckpointTensors(dir);
    assert.deepEqual(got.files, names.map((n) => join(dir, n)));
    assertSameTensors(got.tensors, whole);
  });
});

test('a sharded pytorch_model.bin checkpoint loads', async () => {
  await withDir(async (dir) => {
    const whole = readTorchCheckpoint(join(SEQCLS_BIN, 'pytorch_model.bin'));
    copyFileSync(join(SEQCLS_BIN, 'pytorch_model.bin'), join(dir, 'pytorch_model-00001-of-00001.bin'));
    const weightMap = Object.fromEntries([...whole.keys()].map((k) => [k, 'pytorch_model-00001-of-00001.bin']));
    writeFileSync(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: weightMap }));
    const got = await loadCheckpointTensors(dir);
    assert.deepEqual(got.files, [join(dir, 'pytorch_model-00001-of-00001.bin')]);
    assertSameTensors(got.tensors, whole);
  });
});

test('sharding errors name the index and the shard or tensor at fault', async () => {
  const whole = readSafetensors(join(SEQCLS, 'model.safetensors')).tensors;
  await withDir(async (dir) => {
    const { names } = writeShards(dir, whole);
    rmSync(join(dir, names[1]!));
    const index = join(dir, 'model.safetensors.index.json');
    await assert.rejects(() => loadCheckpointTensors(dir), (err: Error) => {
      assert.ok(err.message.startsWith(`${index}: shard '${names[1]}' is missing`), err.message);
      return true;
    });
  });
  await withDir(async (dir) => {
    const { index } = writeShards(dir, whole);
    index['ghost.weight'] = 'model-00001-of-00002.safetensors';
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: index }));
    await assert.rejects(() => loadCheckpointTensors(dir),
      /model-00001-of-00002\.safetensors: has no tensor 'ghost\.weight', which .*model\.safetensors\.index\.json places there/);
  });
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: '../outside.safetensors' } }));
    await assert.rejects(() => loadCheckpointTensors(dir), /index\.json: shard '\.\.\/outside\.safetensors' must be a file inside the checkpoint folder/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weights: {} }));
    await assert.rejects(() => loadCheckpointTensors(dir), /model\.safetensors\.index\.json: 'weight_map' must be an object/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), '{not json');
    await assert.rejects(() => loadCheckpointTensors(dir), /model\.safetensors\.index\.json: not valid JSON/);
  });
});

test('a folder without weights is an error naming it and the files looked for', async () => {
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'config.json'), '{}');
    await assert.rejects(() => loadCheckpointTensors(dir), (err: Error) => {
      assert.equal(err.message,
        `${dir}: no model weights found (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json, onnx/model.onnx, model.onnx)`);
      return true;
    });
  });
});

test('a sharded safetensors checkpoint runs through loadModel, its weights read by ONNX Runtime from both shards', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'io-checkpoint-'));
  try {
    const whole = readSafetensors(join(SEQCLS, 'model.safetensors')).tensors;
    writeShards(dir, whole);
    copyFileSync(join(SEQCLS, 'config.json'), join(dir, 'config.json'));
    const ids = { data: BigInt64Array.from([1n, 7n, 30n, 12n, 2n]), dims: [1, 5] };
    const sharded = await loadModel(dir, 'auto', { threads: 1 });
    const single = await loadModel(SEQCLS, 'auto', { threads: 1 });
    const [a, b] = [(await sharded({ inputIds: ids })).logits!, (await single({ inputIds: ids })).logits!];
    assert.deepEqual(a.dims, [1, 3]);
    assert.deepEqual(a.data, b.data);
    await sharded.dispose(); await single.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
