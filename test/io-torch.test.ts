import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { parseTorchCheckpoint } from '../src/io/torch-pickle.ts';
import { readTorchCheckpoint } from '../src/io/node-files.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { le, Pickle, type StorageSpec } from './helpers/torch-zip.ts';
import { floatToHalf, type Tensor, type TypedArray } from '../src/tensor.ts';

/** Whether two arrays occupy separate memory: other buffers, or byte ranges of one buffer that do not overlap. */
function disjoint(a: TypedArray, b: TypedArray): boolean {
  if (a.buffer !== b.buffer) return true;
  return a.byteOffset + a.byteLength <= b.byteOffset || b.byteOffset + b.byteLength <= a.byteOffset;
}

const MODELS = 'test/fixtures/models';

function bytesOf(a: TypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** SHA-256 over (name, raw bytes) of every tensor in name order. */
function digest(tensors: Map<string, Tensor>): string {
  const h = createHash('sha256');
  for (const name of [...tensors.keys()].sort()) {
    h.update(name);
    h.update(bytesOf(tensors.get(name)!.data));
  }
  return h.digest('hex');
}

function bits(t: Tensor | undefined): number[] {
  assert.ok(t);
  return [...new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)];
}

// The digests and bit patterns below were computed independently of this code, by unpickling the
// fixtures with Python's own pickle module and numpy (no torch).

test('v3-buckets-seqcls-bin: the torch zip checkpoint loads exactly', () => {
  const bin = readTorchCheckpoint(`${MODELS}/v3-buckets-seqcls-bin/pytorch_model.bin`);
  assert.equal(bin.size, 42);
  assert.equal(digest(bin), '2cc2b45eaa500b38b8f44ca4a26ab4f3ed604b1c77f6e6df9d51a33820dcc748');
  assert.deepEqual(bits(bin.get('classifier.bias')), [0xbe07eca7, 0x3e0012cf, 0xbdd2288f]);
  for (const t of bin.values()) assert.equal(t.dtype, 'float32');

  // Same architecture as the safetensors fixture: same names and shapes. (The two folders hold
  // separately initialised models, so their values differ; each has its own expected outputs.)
  const st = readSafetensors(`${MODELS}/v3-buckets-seqcls/model.safetensors`).tensors;
  assert.deepEqual([...bin.keys()].sort(), [...st.keys()].sort());
  for (const [name, t] of st) assert.deepEqual(bin.get(name)!.dims, t.dims, name);
});

test('v1-base-mlm-bin: tied decoder weights come from the shared storage', () => {
  const bin = readTorchCheckpoint(`${MODELS}/v1-base-mlm-bin/pytorch_model.bin`);
  assert.equal(bin.size, 43);
  assert.equal(digest(bin), '5a9b7fa2c8257dbfe8d85b05a8c2cf82c282a458893463adc94b67be40167391');
  // torch.save keeps the tied copies that save_pretrained drops from safetensors.
  const st = readSafetensors(`${MODELS}/v1-base-mlm/model.safetensors`).tensors;
  const extra = [...bin.keys()].filter((k) => !st.has(k)).sort();
  assert.deepEqual(extra, ['cls.predictions.decoder.bias', 'cls.predictions.decoder.weight']);
  for (const [name, t] of st) assert.deepEqual(bin.get(name)!.dims, t.dims, name);
  const emb = bin.get('deberta.embeddings.word_embeddings.weight')!;
  const dec = bin.get('cls.predictions.decoder.weight')!;
  assert.deepEqual(dec.dims, [128, 32]);
  assert.ok(bytesOf(dec.data).equals(bytesOf(emb.data)));
  assert.ok(disjoint(dec.data, emb.data)); // separate memory (views of the file or copies), not aliases
  assert.deepEqual(bits(bin.get('cls.predictions.decoder.bias')), bits(bin.get('cls.predictions.bias')));
});

test('the EMD checkpoints (torch 1.13, Microsoft layout) load', () => {
  const v1 = readTorchCheckpoint('test/fixtures/emd/emd-v1/pytorch_model.bin');
  assert.equal(v1.size, 58);
  assert.equal(digest(v1), '4ec75b6cc6e7e6da1679e04594ef98bccd1a2552189adbd133923fe69393bfa3');
  assert.deepEqual(bits(v1.get('lm_predictions.lm_head.bias')).slice(0, 3), [0xbe1abe82, 0x3d75cf05, 0x3dd04d0f]);
  assert.deepEqual(v1.get('deberta.encoder.layer.2.attention.self.in_proj.weight')!.dims, [96, 32]);
  assert.deepEqual(v1.get('deberta.embeddings.position_embeddings.weight')!.dims, [64, 32]);

  const v3 = readTorchCheckpoint('test/fixtures/emd/emd-v3/pytorch_model.bin');
  assert.equal(v3.size, 60);
  assert.equal(digest(v3), '0fb41d079a30b41099195056a4e77220d742d613e4b249a8c6050f7f9ceb7845');
  assert.ok(v3.has('lm_predictions.lm_head.dense.weight'));
  assert.deepEqual(v3.get('deberta.encoder.rel_embeddings.weight')!.dims, [32, 32]);
});

// ---------------------------------------------------------------------------------------------
// Hand-built pickles, written opcode by opcode as torch.save (protocol 2) would.

function torchZip(pkl: Uint8Array, storages: Record<string, Uint8Array>, top = 'archive', level: 0 | 6 = 0): Uint8Array {
  const files: Record<string, Uint8Array> = {
    [`${top}/data.pkl`]: pkl,
    [`${top}/byteorder`]: Buffer.from('little'),
    [`${top}/version`]: Buffer.from('3\n'),
  };
  for (const [k, v] of Object.entries(storages)) files[`${top}/data/${k}`] = v;
  return zipSync(files, { level });
}

const F = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
const FLOATS: StorageSpec = { type: 'FloatStorage', key: '0', numel: 12 };
const LONGS: StorageSpec = { type: 'LongStorage', key: '1', numel: 3 };
const HALFS: StorageSpec = { type: 'HalfStorage', key: '2', numel: 2 };
const BOOLS: StorageSpec = { type: 'BoolStorage', key: '3', numel: 3 };
const STORAGE_BYTES: Record<string, Uint8Array> = {
  '0': F([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
  '1': new Uint8Array(new BigInt64Array([-1n, 2n ** 40n, 5n]).buffer),
  '2': new Uint8Array(new Uint16Array([floatToHalf(1), floatToHalf(-2)]).buffer),
  '3': Uint8Array.from([1, 0, 1]),
};

/** A state dict exercising views, shared storages, parameters and several dtypes. */
function stateDictPickle(legacy = false): Uint8Array {
  const s = (spec: StorageSpec) => ({ ...spec, legacy });
  const p = new Pickle().proto();
  // An OrderedDict with a `_metadata` attribute set through BUILD, as model.state_dict() returns.
  p.orderedDict().mark();
  p.str('t.T').storageTensor(s(FLOATS), 1, [3, 2], [1, 3]); // transposed view with an offset
  p.str('t.tail').storageTensor(s(FLOATS), 6, [2, 3], [3, 1]);
  p.str('t.scalar').storageTensor(s(FLOATS), 11, [], []);
  p.str('t.expand').storageTensor(s(FLOATS), 0, [2, 3], [0, 1]); // broadcast (stride 0)
  p.str('param').global('torch._utils', '_rebuild_parameter').mark();
  p.storageTensor(s(FLOATS), 0, [4], [1]).op(0x89).orderedDict().tuple().reduce();
  p.str('ids').storageTensor(s(LONGS), 0, [3], [1]);
  p.str('half').storageTensor(s(HALFS), 0, [1, 2], [2, 1]);
  p.str('mask').storageTensor(s(BOOLS), 0, [3], [1]);
  p.str('version').int(3); // not a tensor: skipped
  p.op(0x75); // SETITEMS
  p.op(0x7d).str('_metadata').orderedDict().op(0x73).op(0x62); // {'_metadata': OrderedDict()} BUILD
  return p.stop().bytes();
}

function checkStateDict(m: Map<string, Tensor>): void {
  assert.deepEqual([...m.keys()], ['t.T', 't.tail', 't.scalar', 't.expand', 'param', 'ids', 'half', 'mask']);
  const vals = (k: string) => [...m.get(k)!.data];
  assert.deepEqual(m.get('t.T')!.dims, [3, 2]);
  assert.deepEqual(vals('t.T'), [1, 4, 2, 5, 3, 6]);
  assert.deepEqual(vals('t.tail'), [6, 7, 8, 9, 10, 11]);
  assert.deepEqual(m.get('t.scalar')!.dims, []);
  assert.deepEqual(vals('t.scalar'), [11]);
  assert.deepEqual(vals('t.expand'), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(vals('param'), [0, 1, 2, 3]);
  assert.equal(m.get('ids')!.dtype, 'int64');
  assert.deepEqual(vals('ids'), [-1n, 2n ** 40n, 5n]);
  assert.equal(m.get('half')!.dtype, 'float16');
  assert.deepEqual(vals('half'), [0x3c00, 0xc000]);
  assert.equal(m.get('mask')!.dtype, 'bool');
  assert.deepEqual(vals('mask'), [1, 0, 1]);
  const all = [...m.values()];
  all.forEach((a, i) => all.slice(i + 1).forEach((b) => assert.ok(disjoint(a.data, b.data), 'no two tensors share memory')));
}

test('strided views, shared storages, parameters and dtypes in a hand-built torch zip', () => {
  for (const [top, level] of [['archive', 0], ['my_model', 6]] as const) {
    checkStateDict(parseTorchCheckpoint(torchZip(stateDictPickle(), STORAGE_BYTES, top, level), 'hand.bin'));
  }
});

test('the legacy (pre-zip) torch.save layout, including storage views', () => {
  const magic = new Pickle().proto().op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop();
  const protocol = new Pickle().proto().int(1001).stop();
  const sysInfo = new Pickle().proto().op(0x7d).mark()
    .str('protocol_version').int(1001).str('little_endian').op(0x88)
    .str('type_sizes').op(0x7d).mark().str('short').int(2).str('int').int(4).str('long').int(4).op(0x75)
    .op(0x75).stop();
  // After the main pickle: the list of storage keys it used, then each storage's count and bytes.
  const tail = (keys: string[]) => {
    const keyList = new Pickle().proto().op(0x5d).mark();
    for (const k of keys) keyList.str(k);
    const storages: number[] = [];
    for (const k of keys) {
      const spec = [FLOATS, LONGS, HALFS, BOOLS].find((s) => s.key === k)!;
      storages.push(...le(spec.numel, 8), ...STORAGE_BYTES[k]!);
    }
    return Buffer.concat([keyList.op(0x65).stop().bytes(), Uint8Array.from(storages)]); // APPENDS
  };
  const file = (main: Uint8Array, keys: string[]) => Buffer.concat([magic.bytes(), protocol.bytes(), sysInfo.bytes(), main, tail(keys)]);

  // The main pickle, plus one tensor that reads through a storage view (elements 4..9 of '0').
  const body = stateDictPickle(true);
  const withView = new Pickle().proto().op(0x7d).mark()
    .str('viewed').storageTensor({ ...FLOATS, legacy: true }, 1, [2, 2], [2, 1], ['0v', 4, 6])
    .op(0x75).stop().bytes();

  checkStateDict(parseTorchCheckpoint(file(body, ['0', '1', '2', '3']), 'legacy.bin'));
  // A view's data is the root storage from the view's offset on: [4, 5, 6, 7, 8, 9], then offset 1.
  const v = parseTorchCheckpoint(file(withView, ['0']), 'legacy.bin').get('viewed')!;
  assert.deepEqual([...v.data], [5, 6, 7, 8]);
});

test('a pickle asking for os.system is refused, naming the file and the global', () => {
  const evil = new Pickle().proto().global('os', 'system').mark().str('echo pwned').tuple().reduce().stop().bytes();
  const dir = mkdtempSync(join(tmpdir(), 'io-torch-'));
  try {
    const path = join(dir, 'pytorch_model.bin');
    writeFileSync(path, torchZip(evil, {}));
    assert.throws(() => readTorchCheckpoint(path), (err: Error) => {
      assert.equal(err.message, `${path}: refusing pickle global 'os.system'`);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Protocol-4 STACK_GLOBAL and globals merely inside the torch module are refused too.
  const stackGlobal = new Pickle().proto().str('builtins').str('eval').op(0x93).stop().bytes();
  assert.throws(() => parseTorchCheckpoint(torchZip(stackGlobal, {}), 'x.bin'), /^Error: x\.bin: refusing pickle global 'builtins\.eval'$/);
  const torchLoad = new Pickle().proto().global('torch', 'load').stop().bytes();
  assert.throws(() => parseTorchCheckpoint(torchZip(torchLoad, {}), 'y.bin'), /y\.bin: refusing pickle global 'torch\.load'/);
  // An allowed global cannot be called with the wrong role: a storage class is not callable.
  const callStorage = new Pickle().proto().global('torch', 'FloatStorage').op(0x29).reduce().stop().bytes();
  assert.throws(() => parseTorchCheckpoint(torchZip(callStorage, {}), 'z.bin'), /z\.bin: bad pickle at byte \d+: REDUCE on 'torch\.FloatStorage'/);
});

test('broken archives are errors naming the file and what is wrong', () => {
  const pkl = new Pickle().proto().op(0x7d).str('w').storageTensor(FLOATS, 0, [12], [1]).op(0x73).stop().bytes();
  assert.throws(() => parseTorchCheckpoint(torchZip(pkl, {}), 'a.bin'), /a\.bin: storage '0' is missing from the archive \(no 'archive\/data\/0'\)/);
  assert.throws(
    () => parseTorchCheckpoint(torchZip(pkl, { '0': F([1, 2, 3]) }), 'b.bin'),
    /b\.bin: storage 'archive\/data\/0' has 12 bytes but needs 48 for 12 float32 values/,
  );
  const past = new Pickle().proto().op(0x7d).str('too.far').storageTensor(FLOATS, 10, [4], [1]).op(0x73).stop().bytes();
  assert.throws(() => parseTorchCheckpoint(torchZip(past, STORAGE_BYTES), 'c.bin'), /c\.bin: tensor 'too\.far' reads past its storage '0'/);
  for (const cut of [20, 40, pkl.length - 1]) {
    assert.throws(() => parseTorchCheckpoint(torchZip(pkl.subarray(0, cut), {}), 'd.bin'), /d\.bin: bad pickle at byte \d+: unexpected end of data/);
  }
  assert.throws(() => parseTorchCheckpoint(Buffer.from('hello world'), 'e.bin'), /e\.bin: not a torch checkpoint/);
  assert.throws(() => parseTorchCheckpoint(pkl, 'bare.bin'), /bare\.bin: not a torch checkpoint/); // a bare pickle
  assert.throws(() => parseTorchCheckpoint(zipSync({ 'x/other.txt': Buffer.from('hi') }), 'f.bin'), /f\.bin: zip archive has no '<folder>\/data\.pkl'/);
  const list = new Pickle().proto().op(0x5d).stop().bytes();
  assert.throws(() => parseTorchCheckpoint(torchZip(list, {}), 'g.bin'), /g\.bin: the pickle does not hold a state dict/);
  const badOp = new Pickle().proto().op(0x69).stop().bytes(); // INST: never emitted by torch.save
  assert.throws(() => parseTorchCheckpoint(torchZip(badOp, {}), 'h.bin'), /h\.bin: bad pickle at byte 2: unsupported opcode 0x69/);
});
