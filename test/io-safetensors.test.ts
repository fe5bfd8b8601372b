import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSafetensors, readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { floatToBf16, floatToHalf, type Tensor, type TypedArray } from '../src/tensor.ts';

const FIXTURE = 'test/fixtures/models/v3-buckets-seqcls/model.safetensors';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'io-safetensors-'));
}

function bytesOf(a: TypedArray): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function assertSameTensor(actual: Tensor | undefined, expected: Tensor, name: string): void {
  assert.ok(actual, `missing tensor ${name}`);
  assert.equal(actual.dtype, expected.dtype, name);
  assert.deepEqual(actual.dims, expected.dims, name);
  assert.equal(actual.data.constructor, expected.data.constructor, name);
  assert.ok(bytesOf(actual.data).equals(bytesOf(expected.data)), `${name}: data differs`);
}

/** Rewrites the JSON header of a safetensors byte string. */
function withHeader(header: object, data: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

// biome-ignore lint/suspicious/noExplicitAny: the header as parsed, its fields checked by the tests
function headerOf(bytes: Uint8Array): { len: number; json: Record<string, any> } {
  const len = Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE(0));
  return { len, json: JSON.parse(Buffer.from(bytes.subarray(8, 8 + len)).toString('utf8')) };
}

const ALL_DTYPES: Record<string, Tensor> = {
  f32: { dtype: 'float32', dims: [2, 3], data: new Float32Array([0, -1.5, 3.25, Infinity, -0, 1e-38]) },
  f64: { dtype: 'float64', dims: [3], data: new Float64Array([Math.PI, -1e300, Number.MIN_VALUE]) },
  f16: { dtype: 'float16', dims: [4], data: new Uint16Array([floatToHalf(1), floatToHalf(-2.5), 0x7c00, 0x0001]) },
  bf16: { dtype: 'bfloat16', dims: [2, 2], data: new Uint16Array([floatToBf16(1), floatToBf16(-3.140625), 0x7f80, 0x7fc1]) },
  i64: { dtype: 'int64', dims: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 42n]) },
  i32: { dtype: 'int32', dims: [2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
  i8: { dtype: 'int8', dims: [3], data: new Int8Array([-128, 0, 127]) },
  u8: { dtype: 'uint8', dims: [1, 3], data: new Uint8Array([0, 128, 255]) },
  bool: { dtype: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
  scalar: { dtype: 'float32', dims: [], data: new Float32Array([7]) },
  empty: { dtype: 'int64', dims: [0, 4], data: new BigInt64Array(0) },
  nan: { dtype: 'float32', dims: [1], data: new Float32Array(new Uint32Array([0x7fc00123]).buffer) },
};

test('every dtype round-trips bit for bit, with metadata', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'all.safetensors');
    writeSafetensors(path, ALL_DTYPES, { format: 'pt', note: 'round trip' });
    const back = readSafetensors(path);
    assert.deepEqual(back.metadata, { format: 'pt', note: 'round trip' });
    assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(ALL_DTYPES).sort());
    for (const [name, t] of Object.entries(ALL_DTYPES)) assertSameTensor(back.tensors.get(name), t, name);

    // The in-memory parser agrees with the file reader.
    const bytes = readFileSync(path);
    const parsed = parseSafetensors(bytes, path);
    for (const [name, t] of Object.entries(ALL_DTYPES)) assertSameTensor(parsed.tensors.get(name), t, name);

    // Header padded so data starts 8-byte aligned; tensors laid out in name order, back to back.
    const { len, json } = headerOf(bytes);
    assert.equal((8 + len) % 8, 0);
    assert.equal(json.bf16.dtype, 'BF16');
    assert.equal(json.bool.dtype, 'BOOL');
    const order = Object.keys(ALL_DTYPES).sort();
    let offset = 0;
    for (const name of order) {
      assert.deepEqual(json[name].data_offsets, [offset, offset + ALL_DTYPES[name]!.data.byteLength], name);
      offset += ALL_DTYPES[name]!.data.byteLength;
    }
    assert.equal(bytes.length, 8 + len + offset);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('arrays come back aligned even when the file packs odd-sized tensors first', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'odd.safetensors');
    // 'a' (3 bytes) sorts first, so 'b' starts at an odd offset in the data section.
    writeSafetensors(path, new Map<string, Tensor>([
      ['b', { dtype: 'float64', dims: [2], data: new Float64Array([1.25, -2]) }],
      ['a', { dtype: 'uint8', dims: [3], data: new Uint8Array([1, 2, 3]) }],
    ]));
    for (const got of [readSafetensors(path), parseSafetensors(readFileSync(path), path)]) {
      const b = got.tensors.get('b')!;
      assert.ok(b.data instanceof Float64Array);
      assert.equal(b.data.byteOffset % 8, 0);
      assert.deepEqual([...b.data], [1.25, -2]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reads the transformers-written fixture: known values', () => {
  const { tensors, metadata } = readSafetensors(FIXTURE);
  assert.deepEqual(metadata, { format: 'pt' });
  assert.equal(tensors.size, 42);
  const bias = tensors.get('classifier.bias')!;
  assert.equal(bias.dtype, 'float32');
  assert.deepEqual(bias.dims, [3]);
  // Bit patterns read independently from the file with Python/numpy.
  assert.deepEqual([...new Uint32Array(bias.data.buffer)], [0xbde36538, 0xbd5aa13f, 0x3e262ab3]);
  assert.deepEqual(tensors.get('deberta.embeddings.word_embeddings.weight')!.dims, [128, 32]);
  assert.deepEqual(tensors.get('deberta.encoder.rel_embeddings.weight')!.dims, [32, 32]); // 2 * position_buckets
  assert.deepEqual(tensors.get('classifier.weight')!.dims, [3, 32]);
});

test('rewriting the fixture preserves every tensor', () => {
  const dir = tmp();
  try {
    const original = readSafetensors(FIXTURE);
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, original.tensors, original.metadata);
    const again = readSafetensors(path);
    assert.deepEqual(again.metadata, original.metadata);
    assert.equal(again.tensors.size, original.tensors.size);
    for (const [name, t] of original.tensors) assertSameTensor(again.tensors.get(name), t, name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated file is an error naming the file and the tensor cut short', () => {
  const dir = tmp();
  try {
    const bytes = readFileSync(FIXTURE);
    const { json } = headerOf(bytes);
    // The tensor whose data ends last is the one a truncation cuts.
    const last = Object.entries(json)
      .filter(([k]) => k !== '__metadata__')
      .sort((a, b) => b[1].data_offsets[1] - a[1].data_offsets[1])[0]![0];
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, bytes.subarray(0, bytes.length - 4));
    assert.throws(() => readSafetensors(path), (err: Error) => {
      assert.ok(err.message.startsWith(`${path}:`), err.message);
      assert.match(err.message, new RegExp(`tensor '${last.replace(/\./g, '\\.')}'`));
      assert.match(err.message, /truncated/);
      return true;
    });
    assert.throws(() => parseSafetensors(bytes.subarray(0, bytes.length - 4), 'cut.safetensors'), /cut\.safetensors: tensor '/);

    // Cut inside the header: the header length itself points past the end.
    writeFileSync(path, bytes.subarray(0, 100));
    assert.throws(() => readSafetensors(path), (err: Error) =>
      err.message.startsWith(`${path}:`) && /header length \d+ runs past the end/.test(err.message));
    writeFileSync(path, bytes.subarray(0, 5));
    assert.throws(() => readSafetensors(path), new RegExp(`^Error: ${escapeRegExp(path)}: too short`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown dtype, corrupt header and inconsistent offsets are errors naming file and key', () => {
  const data = new Uint8Array(8);
  assert.throws(
    () => parseSafetensors(withHeader({ 'w.q': { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, data), 'fp8.safetensors'),
    /^Error: fp8\.safetensors: tensor 'w\.q': unsupported dtype "F8_E4M3"/,
  );
  assert.throws(
    () => parseSafetensors(withHeader({ c: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, data), 'c.safetensors'),
    /c\.safetensors: tensor 'c': unsupported dtype "C64"/,
  );
  const broken = Buffer.concat([withHeader({ a: 1 }, data)]);
  broken[9] = 0x7b; // '{"' -> '{{'
  assert.throws(() => parseSafetensors(broken, 'broken.safetensors'), /^Error: broken\.safetensors: corrupt safetensors header/);
  assert.throws(
    () => parseSafetensors(withHeader({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), 'x.safetensors'),
    /x\.safetensors: tensor 'x': data_offsets span 8 bytes but float32 \[3\] needs 12/,
  );
  assert.throws(
    () => parseSafetensors(withHeader({ y: { dtype: 'F32', shape: [2], data_offsets: [0, 'a'] } }, data), 'y.safetensors'),
    /y\.safetensors: tensor 'y': data_offsets must be/,
  );
  assert.throws(
    () => parseSafetensors(withHeader({ z: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data), 'z.safetensors'),
    /z\.safetensors: tensor 'z': shape must be/,
  );
  assert.throws(
    () => parseSafetensors(withHeader({ __metadata__: { n: 3 } }, data), 'm.safetensors'),
    /m\.safetensors: '__metadata__\.n' must be a string/,
  );
});

test('writing validates tensors and never clobbers an existing file on failure', () => {
  const dir = tmp();
  try {
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, { ok: ALL_DTYPES.f32! });
    const before = readFileSync(path);
    assert.throws(
      () => writeSafetensors(path, { ok: ALL_DTYPES.f32!, bad: { dtype: 'float32', dims: [5], data: new Float32Array(4) } }),
      new RegExp(`^Error: ${escapeRegExp(path)}: tensor 'bad': 4 values do not fill dims \\[5\\]`),
    );
    assert.throws(
      () => writeSafetensors(path, { half: { dtype: 'float16', dims: [2], data: new Float32Array(2) } }),
      /tensor 'half': float16 data must be a Uint16Array, got Float32Array/,
    );
    assert.ok(readFileSync(path).equals(before));
    assert.deepEqual(readdirSync(dir), ['model.safetensors']); // no temporary files left behind

    // Overwriting works and leaves just the one file.
    writeSafetensors(path, { other: ALL_DTYPES.i8! });
    assert.deepEqual([...readSafetensors(path).tensors.keys()], ['other']);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
