// Hostile checkpoint files: each is refused with an error naming the file and what is wrong, or loads
// right, and none costs more memory than the model's weights plus 256 MB (measured in a child process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { parseTorchCheckpoint } from '../src/io/torch-pickle.ts';
import { readTorchCheckpoint } from '../src/io/node-files.ts';
import { parseSafetensors, readSafetensors } from '../src/io/safetensors.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { memoryFiles } from '../src/io/files.ts';
import { loadDebertaConfig } from '../src/models/deberta/config.ts';
import { loadModel } from '../src/models/auto.ts';
import { loaderLimits } from '../src/api.ts';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { Pickle, contiguousStride, specsOf, torchZip, type EntrySpec } from './helpers/torch-zip.ts';

const FIXTURE = 'test/fixtures/models/v3-buckets-seqcls';
const WEIGHTS = readSafetensors(join(FIXTURE, 'model.safetensors')).tensors;
const WEIGHT_BYTES = [...WEIGHTS.values()].reduce((n, t) => n + t.data.byteLength, 0);
const MB = 2 ** 20;

function withDir(fn: (dir: string) => void | Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hardening-'));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };
}

/** A checkpoint folder: the fixture's config and a pytorch_model.bin of the given bytes. */
function binCheckpoint(dir: string, bin: Uint8Array): string {
  const ck = join(dir, 'ck');
  mkdirSync(ck, { recursive: true });
  copyFileSync(join(FIXTURE, 'config.json'), join(ck, 'config.json'));
  writeFileSync(join(ck, 'pytorch_model.bin'), bin);
  return ck;
}

function childLoad(target: string, mode: 'model' | 'torch' | 'tensors'): { ok: boolean; error?: string; logits?: number[]; addedBytes: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--import', './src/platform/node.ts', 'test/helpers/load-peak.ts', target, mode],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 16 * MB });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

/** Sets the uncompressed size a zip declares for `name` (local header and central directory). */
function declareSize(zip: Uint8Array, name: string, size: number): Uint8Array {
  const z = zip.slice();
  const v = new DataView(z.buffer);
  const nameBytes = Buffer.from(name);
  for (let i = 0; i + 46 < z.length; i++) {
    const sig = v.getUint32(i, true);
    if (sig === 0x04034b50 && Buffer.from(z.subarray(i + 30, i + 30 + nameBytes.length)).equals(nameBytes)) v.setUint32(i + 22, size, true);
    if (sig === 0x02014b50 && Buffer.from(z.subarray(i + 46, i + 46 + nameBytes.length)).equals(nameBytes)) v.setUint32(i + 24, size, true);
  }
  return z;
}

/** Marks the member `name` as deflated (method 8) in its local header and central directory record. */
function markDeflated(zip: Uint8Array, name: string): Uint8Array {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const nameBytes = Buffer.from(name);
  for (let i = 0; i + 46 < zip.length; i++) {
    const sig = v.getUint32(i, true);
    if (sig === 0x04034b50 && Buffer.from(zip.subarray(i + 30, i + 30 + nameBytes.length)).equals(nameBytes)) v.setUint16(i + 8, 8, true);
    if (sig === 0x02014b50 && Buffer.from(zip.subarray(i + 46, i + 46 + nameBytes.length)).equals(nameBytes)) v.setUint16(i + 10, 8, true);
  }
  return zip;
}

/** A raw deflate stream of `blocks` × 64 MiB of zeros, about 64 KB per block: full-flushed blocks repeat, then an empty final block. */
function deflatedZeros(blocks: number): Uint8Array {
  const block = deflateRawSync(Buffer.alloc(64 * MB), { level: 9, finishFlush: zlibConstants.Z_FULL_FLUSH });
  return Buffer.concat([...Array.from({ length: blocks }, () => block), Buffer.from([0x03, 0x00])]);
}

const reference = (async () => {
  const m = await loadModel(FIXTURE);
  try { return [...(await m({ inputIds: [[1, 5, 9, 2]] })).logits!.data]; } finally { await m.dispose(); }
})();

test('a stride-0 view of 2e9 elements in a small file is refused before anything is allocated', withDir(async (dir) => {
  const specs = specsOf(WEIGHTS);
  const one: EntrySpec = { key: 'x', dtype: 'float32', numel: 1, bytes: new Uint8Array(4), offset: 0, size: [100000, 20000], stride: [0, 0] };
  specs.set('classifier.weight', one);
  const bin = torchZip(specs);
  assert.ok(bin.length < 200_000, `the file is small (${bin.length} bytes)`);
  const ck = binCheckpoint(dir, bin);
  const path = join(ck, 'pytorch_model.bin');
  const r = childLoad(ck, 'model');
  assert.equal(r.ok, false);
  assert.equal(r.error, `${path}: tensor 'classifier.weight': size [100000, 20000] has 2000000000 elements but its storage 'x' holds only 1; views that repeat elements are not loaded`);
  assert.ok(r.addedBytes < 256 * MB, `peak added ${(r.addedBytes / MB).toFixed(0)} MB`);
}));

test('a zip member of 3 GiB that nothing references is never decompressed; the model loads right', withDir(async (dir) => {
  // 3 GiB of zeros, deflated into 3 MB, in a member nothing references: inflating it would take 3 GiB.
  const zeros = deflatedZeros(48);
  assert.equal(inflateRawSync(deflatedZeros(1)).length, 64 * MB); // the stream is what it claims: 64 MiB per block
  const bin = declareSize(markDeflated(torchZip(specsOf(WEIGHTS), { 'archive/junk': zeros }, 0), 'archive/junk'), 'archive/junk', 3 * 2 ** 30);
  assert.ok(bin.length < 4 * MB, `${bin.length} bytes`);
  const ck = binCheckpoint(dir, bin);
  const r = childLoad(ck, 'model');
  assert.equal(r.ok, true, r.error);
  const want = await reference;
  assert.equal(r.logits!.length, want.length);
  // Measured exactly equal: a floor of 4 float32 ulp at the logits' scale.
  r.logits!.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) <= 4 * 2 ** -23 * Math.max(1, Math.abs(want[i]!)), `logit ${i}: ${x} vs ${want[i]}`));
  assert.ok(r.addedBytes < WEIGHT_BYTES + 256 * MB, `peak added ${(r.addedBytes / MB).toFixed(0)} MB`);
}));

test('a referenced zip member whose declared size differs from its storage is refused', () => {
  const specs = specsOf(WEIGHTS);
  const key = specs.get('classifier.weight')!.key;
  const bin = declareSize(torchZip(specs, {}, 6), `archive/data/${key}`, 3 * 2 ** 30);
  assert.throws(() => parseTorchCheckpoint(bin, 'big.bin'),
    { message: `big.bin: storage 'archive/data/${key}' declares ${3 * 2 ** 30} bytes but its 96 float32 values take 384` });
});

test('a torch zip with many unused members is refused, naming the limit', () => {
  const extra = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`archive/pad/${i}`, new Uint8Array(1)]));
  assert.throws(() => parseTorchCheckpoint(torchZip(specsOf(WEIGHTS), extra), 'many.bin'),
    /^Error: many\.bin: the archive has \d+ entries but the state dict uses \d+ storages; more than 64 unused entries \(loaderLimits\.maxExtraZipEntries\) are not read$/);
});

test('negative and overflowing storage offsets and strides are refused, naming the tensor', () => {
  const bad = (patch: Partial<EntrySpec>) => {
    const specs = specsOf(WEIGHTS);
    specs.set('classifier.weight', { ...specs.get('classifier.weight')!, ...patch });
    return () => parseTorchCheckpoint(torchZip(specs), 'w.bin');
  };
  assert.throws(bad({ offset: -96 }), /^Error: w\.bin: bad pickle at byte \d+: _rebuild_tensor_v2 with bad size\/stride\/offset \(\(3, 32\), \(32, 1\), -96\)/);
  assert.throws(bad({ stride: [-32, 1] }), /w\.bin: bad pickle at byte \d+: _rebuild_tensor_v2 with bad size\/stride\/offset \(\(3, 32\), \(-32, 1\), 0\)/);
  assert.throws(bad({ offset: 2 ** 60 }), /w\.bin: bad pickle at byte \d+: _rebuild_tensor_v2 with bad size/);
  assert.throws(bad({ stride: [2 ** 52, 1] }), /^Error: w\.bin: tensor 'classifier\.weight' reads past its storage '\d+' \(96 values\)/);
  assert.throws(bad({ size: [2 ** 30, 2 ** 30, 2 ** 30], stride: [0, 0, 0] }), /w\.bin: tensor 'classifier\.weight': size \[1073741824, 1073741824, 1073741824\] has more elements than can be indexed/);
  assert.throws(bad({ numel: -5 }), /w\.bin: malformed storage persistent id \('storage', torch\.FloatStorage, '\d+', 'cpu', -5\)/);
});

test('safetensors whose tensors overlap are refused, as the reference implementation refuses them', () => {
  const header = JSON.stringify({
    a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  });
  const bytes = Buffer.concat([Buffer.from(Uint8Array.from([header.length, 0, 0, 0, 0, 0, 0, 0])), Buffer.from(header), Buffer.alloc(12)]);
  assert.throws(() => parseSafetensors(bytes, 'o.safetensors'), { message: "o.safetensors: tensors 'a' [0, 8) and 'b' [4, 12) overlap in the data section" });
  // Adjacent and empty tensors are fine.
  const ok = JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } });
  const good = parseSafetensors(Buffer.concat([Buffer.from(Uint8Array.from([ok.length, 0, 0, 0, 0, 0, 0, 0])), Buffer.from(ok), Buffer.from(new Float32Array([1, 2, 3]).buffer)]), 'g');
  assert.deepEqual([...good.tensors.get('b')!.data], [2, 3]);
});

test('names are looked up only in the loaders\' own tables (toString, constructor, __proto__)', () => {
  for (const dtype of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    const header = JSON.stringify({ w: { dtype, shape: [3, 32], data_offsets: [0, 384] } });
    const bytes = Buffer.concat([Buffer.from(Uint8Array.from([header.length, 0, 0, 0, 0, 0, 0, 0])), Buffer.from(header), Buffer.alloc(384)]);
    assert.throws(() => parseSafetensors(bytes, 'd.safetensors'), { message: `d.safetensors: tensor 'w': unsupported dtype "${dtype}"` });
  }
  for (const name of ['toString', 'constructor', '__proto__']) {
    const pkl = new Pickle().proto().op(0x7d).str('w').tensor(name, '0', 1, 0, [1], [1]).op(0x73, 0x2e).bytes();
    assert.throws(() => parseTorchCheckpoint(zipOf(pkl), 't.bin'), { message: `t.bin: refusing pickle global 'torch.${name}'` });
  }
});

test('keys named __proto__ in a safetensors header or config.json stay data', async () => {
  const header = '{"__metadata__":{"__proto__":"x","format":"pt"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const bytes = Buffer.concat([Buffer.from(Uint8Array.from([header.length, 0, 0, 0, 0, 0, 0, 0])), Buffer.from(header), Buffer.alloc(4)]);
  const st = parseSafetensors(bytes, 'p.safetensors');
  assert.deepEqual(Object.keys(st.metadata), ['__proto__', 'format']);
  assert.equal(Object.getPrototypeOf(st.metadata), Object.prototype);
  const config = await loadDebertaConfig(memoryFiles({ 'config.json': '{"model_type":"deberta-v2","id2label":{"0":"__proto__","1":"b"},"label2id":{"__proto__":0,"b":1}}' }, 'ck'));
  assert.deepEqual(Object.entries(config.label2id), [['__proto__', 0], ['b', 1]]);
  assert.equal(config.id2label[0], '__proto__');
});

function zipOf(pkl: Uint8Array): Uint8Array {
  // torchZip with a hand-written pickle in place of the generated one.
  return zipSync({ 'archive/data.pkl': pkl }, { level: 0 });
}

test('a config.json nested 100k levels deep is an error naming the file', async () => {
  const deep = `{"model_type":"deberta-v2","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  await assert.rejects(loadDebertaConfig(memoryFiles({ 'config.json': deep }, 'ck')), { message: 'ck/config.json: JSON nested more than 64 levels deep' });
  const index = `{"weight_map":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
  await assert.rejects(loadCheckpointTensors(memoryFiles({ 'model.safetensors.index.json': index }, 'ck')),
    { message: 'ck/model.safetensors.index.json: JSON nested more than 64 levels deep' });
});

test('a pickle with 300k APPENDS loads (the list is not a tensor and is skipped)', () => {
  const specs = specsOf(new Map([['classifier.bias', WEIGHTS.get('classifier.bias')!]]));
  const p = new Pickle().proto().op(0x7d).str('classifier.bias');
  const s = specs.get('classifier.bias')!;
  p.tensor('FloatStorage', s.key, s.numel, 0, s.size, s.stride).op(0x73);
  p.str('junk').op(0x5d, 0x28);
  for (let i = 0; i < 300_000; i++) p.op(0x4b, i & 0xff);
  p.op(0x65, 0x73, 0x2e); // APPENDS SETITEM STOP
  const bin = zipSync({ 'archive/data.pkl': p.bytes(), [`archive/data/${s.key}`]: s.bytes }, { level: 0 });
  const t = parseTorchCheckpoint(bin, 'long.bin');
  assert.deepEqual([...t.keys()], ['classifier.bias']);
  assert.deepEqual([...t.get('classifier.bias')!.data], [...WEIGHTS.get('classifier.bias')!.data]);
});

test('a shard or weights file that is a folder is an error naming its path', withDir(async (dir) => {
  const ck = join(dir, 'ck');
  mkdirSync(join(ck, 'shard.safetensors'), { recursive: true });
  writeFileSync(join(ck, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: 'shard.safetensors' } }));
  await assert.rejects(loadCheckpointTensors(ck),
    { message: `${join(ck, 'model.safetensors.index.json')}: shard 'shard.safetensors' is missing (expected ${join(ck, 'shard.safetensors')})` });
  assert.throws(() => readSafetensors(join(ck, 'shard.safetensors')), { message: `${join(ck, 'shard.safetensors')}: is a folder or device, not a file` });
  assert.throws(() => readTorchCheckpoint(join(ck, 'shard.safetensors')), { message: `${join(ck, 'shard.safetensors')}: is a folder or device, not a file` });
  assert.throws(() => readSafetensors(join(ck, 'none.safetensors')), { message: `${join(ck, 'none.safetensors')}: cannot read (ENOENT)` });
}));

test('a torch checkpoint rebuilt tensor by tensor loads the same as its safetensors (views read lazily)', () => {
  const t = parseTorchCheckpoint(torchZip(specsOf(WEIGHTS), {}, 6), 'same.bin');
  assert.equal(t.size, WEIGHTS.size);
  for (const [name, w] of WEIGHTS) {
    assert.deepEqual(t.get(name)!.dims, w.dims, name);
    assert.deepEqual([...t.get(name)!.data], [...w.data], name);
  }
  // A transposed view with a storage offset copies the right elements.
  const specs = new Map<string, EntrySpec>([['v', { key: '0', dtype: 'float32', numel: 8, bytes: new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]).buffer), offset: 2, size: [3, 2], stride: [1, 3] }]]);
  assert.deepEqual([...parseTorchCheckpoint(torchZip(specs), 'v.bin').get('v')!.data], [2, 5, 3, 6, 4, 7]);
  assert.deepEqual(contiguousStride([2, 3, 4]), [12, 4, 1]);
});

test('stored zip members are used in place: a torch.save file costs its own size in memory, not twice', () => {
  const bytes = new Uint8Array(readFileSync('test/fixtures/models/v3-buckets-seqcls-bin/pytorch_model.bin'));
  const t = parseTorchCheckpoint(bytes, 'inplace.bin');
  const w = t.get('deberta.embeddings.word_embeddings.weight')!;
  assert.equal(w.data.buffer, bytes.buffer); // a view of the file's bytes (torch aligns members to 64 bytes)
  // The same bytes one byte off alignment are copied out instead, to the same values.
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  const copied = parseTorchCheckpoint(shifted, 'copied.bin');
  assert.equal(copied.size, 42);
  for (const [name, x] of t) {
    const c = copied.get(name)!;
    assert.notEqual(c.data.buffer, shifted.buffer, name);
    assert.deepEqual([...x.data], [...c.data], name);
  }
});

test('the limits can be changed through loaderLimits, as docs/security.md says', () => {
  const bin = torchZip(specsOf(WEIGHTS));
  const saved = loaderLimits.maxPickleBytes;
  loaderLimits.maxPickleBytes = 100;
  try {
    assert.throws(() => parseTorchCheckpoint(bin, 'lim.bin'), /^Error: lim\.bin: not a readable zip archive \('archive\/data\.pkl' declares \d+ bytes, more than the 100 allowed for a pickle \(loaderLimits\.maxPickleBytes\)\)$/);
  } finally {
    loaderLimits.maxPickleBytes = saved;
  }
  assert.equal(parseTorchCheckpoint(bin, 'lim.bin').size, WEIGHTS.size);
});

test('an 83 MB pytorch_model.bin loads within its weights plus 256 MB, and its tensors within their own size', withDir(async (dir) => {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'deberta-v2', vocab_size: 16000, hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2048,
    relative_attention: true, position_buckets: 64, pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true,
    position_biased_input: false, architectures: ['DebertaV2ForSequenceClassification'],
  }));
  initCheckpoint({ config: join(dir, 'config.json'), out: join(dir, 'st'), seed: 1 });
  const tensors = readSafetensors(join(dir, 'st', 'model.safetensors')).tensors;
  const weights = [...tensors.values()].reduce((n, t) => n + t.data.byteLength, 0);
  assert.ok(weights > 80 * MB);
  const ck = binCheckpoint(dir, torchZip(specsOf(tensors), {}, 0, true)); // members aligned as torch.save aligns them
  copyFileSync(join(dir, 'st', 'config.json'), join(ck, 'config.json'));
  const file = childLoad(join(ck, 'pytorch_model.bin'), 'torch');
  assert.equal(file.ok, true, file.error);
  assert.ok(file.addedBytes < weights * 1.05 + 16 * MB, `reading every tensor added ${(file.addedBytes / MB).toFixed(0)} MB for ${(weights / MB).toFixed(0)} MB of weights`);
  const model = childLoad(ck, 'model');
  assert.equal(model.ok, true, model.error);
  assert.ok(model.addedBytes < weights + 256 * MB, `loading the model added ${(model.addedBytes / MB).toFixed(0)} MB for ${(weights / MB).toFixed(0)} MB of weights`);
}));
