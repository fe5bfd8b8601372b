// The safetensors format (https://github.com/huggingface/safetensors), parsed from bytes in memory:
// an 8-byte little-endian header length N, N bytes of JSON describing each tensor
// ({dtype, shape, data_offsets: [begin, end]} relative to the data section, plus an optional
// "__metadata__" map of strings), then the raw little-endian tensor bytes. Files on disk: ./safetensors.ts.
import { checkJsonDepth } from './limits.ts';
import { BYTES_PER_ELEMENT, emptyArray, numel, type DType, type Tensor, type TypedArray } from '../tensor.ts';

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

const FROM_ST: Record<string, DType> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64',
  I64: 'int64', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
export const TO_ST: Record<DType, string> = {
  float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64',
  int64: 'I64', int32: 'I32', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

// The typed array class each dtype must be stored in (see src/tensor.ts).
const ARRAY_CLASS: Record<DType, abstract new (...args: never) => unknown> = {
  float32: Float32Array, float64: Float64Array, float16: Uint16Array, bfloat16: Uint16Array,
  int64: BigInt64Array, int32: Int32Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array,
};

// The typed arrays below are filled with the file's bytes as-is, which assumes a little-endian
// host (x86, ARM as Node runs them); refuse loudly rather than return swapped numbers elsewhere.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface Entry {
  name: string;
  dtype: DType;
  dims: number[];
  begin: number;
  end: number;
}

export interface Header {
  entries: Entry[];
  metadata: Record<string, string>;
  dataStart: number; // byte offset of the data section in the file
}

/** Validates the header against a file of `fileSize` bytes; `json` is the header's text bytes. */
export function parseHeader(json: Uint8Array, headerLen: number, fileSize: number, label: string): Header {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (err) {
    throw new Error(`${label}: corrupt safetensors header (not valid JSON: ${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new Error(`${label}: corrupt safetensors header (expected a JSON object)`);
  checkJsonDepth(parsed, `${label}: safetensors header`, 8);

  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      if (!isObject(info)) throw new Error(`${label}: '__metadata__' must be an object of strings`);
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw new Error(`${label}: '__metadata__.${k}' must be a string, got ${JSON.stringify(v)}`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true }); // "__proto__" stays a key
      }
      continue;
    }
    if (!isObject(info)) throw new Error(`${label}: tensor '${name}': entry must be an object`);
    // Own keys only: a dtype of "toString" must not find Object.prototype's.
    const dtype = typeof info.dtype === 'string' && Object.hasOwn(FROM_ST, info.dtype) ? FROM_ST[info.dtype] : undefined;
    if (!dtype) throw new Error(`${label}: tensor '${name}': ${info.dtype === undefined ? 'has no dtype' : `unsupported dtype ${JSON.stringify(info.dtype)}`}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${label}: tensor '${name}': shape must be a list of non-negative integers, got ${shown(shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw new Error(`${label}: tensor '${name}': data_offsets must be [begin, end] with 0 <= begin <= end, got ${shown(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataSize) {
      throw new Error(`${label}: tensor '${name}': data_offsets [${begin}, ${end}] run past the end of the data section (${dataSize} bytes); the file is truncated or corrupt`);
    }
    const dims = shape as number[];
    const want = numel(dims) * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== want) {
      throw new Error(`${label}: tensor '${name}': data_offsets span ${end - begin} bytes but ${dtype} [${dims.join(', ')}] needs ${want}`);
    }
    entries.push({ name, dtype, dims: [...dims], begin, end });
  }
  // Two tensors may not share bytes (the reference implementation refuses such files too): writing one
  // would change the other, and no writer produces them except by mistake or on purpose.
  const byBegin = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byBegin.length; i++) {
    const a = byBegin[i - 1]!, b = byBegin[i]!;
    if (b.begin < a.end) {
      throw new Error(`${label}: tensors '${a.name}' [${a.begin}, ${a.end}) and '${b.name}' [${b.begin}, ${b.end}) overlap in the data section`);
    }
  }
  return { entries, metadata, dataStart };
}

export function checkMinSize(fileSize: number, label: string): void {
  if (fileSize < 8) throw new Error(`${label}: too short to be a safetensors file (${fileSize} bytes)`);
}

export function readHeaderLength(prefix: Uint8Array, fileSize: number, label: string): number {
  checkMinSize(fileSize, label);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  // The reference implementation caps headers at 100 MB; a larger length means a corrupt file.
  if (n > 100_000_000n) throw new Error(`${label}: safetensors header length ${n} is implausibly large; the file is corrupt or not safetensors`);
  if (n > BigInt(fileSize - 8)) {
    throw new Error(`${label}: safetensors header length ${n} runs past the end of the file (${fileSize} bytes); the file is truncated or not safetensors`);
  }
  return Number(n);
}

export function checkHost(label: string): void {
  if (!LITTLE_ENDIAN) throw new Error(`${label}: safetensors I/O needs a little-endian host`);
}

/** Parses a whole safetensors file already in memory. Tensor data is copied into fresh, aligned arrays. */
export function parseSafetensors(bytes: Uint8Array, fileLabel: string): SafetensorsFile {
  checkHost(fileLabel);
  const headerLen = readHeaderLength(bytes, bytes.length, fileLabel);
  const header = parseHeader(bytes.subarray(8, 8 + headerLen), headerLen, bytes.length, fileLabel);
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) {
    const data = emptyArray(e.dtype, numel(e.dims));
    asBytes(data).set(bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, dims: e.dims, data });
  }
  return { tensors, metadata: header.metadata };
}

export function checkTensor(t: Tensor, name: string, path: string): void {
  if (!Object.hasOwn(TO_ST, t.dtype)) throw new Error(`${path}: tensor '${name}': unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!(t.data instanceof ARRAY_CLASS[t.dtype])) {
    throw new Error(`${path}: tensor '${name}': ${t.dtype} data must be a ${ARRAY_CLASS[t.dtype]!.name}, got ${t.data.constructor.name}`);
  }
  if (!t.dims.every((d) => Number.isSafeInteger(d) && d >= 0) || t.data.length !== numel(t.dims)) {
    throw new Error(`${path}: tensor '${name}': ${t.data.length} values do not fill dims [${t.dims.join(', ')}]`);
  }
}

export function asBytes(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A header value in a message: JSON, or "nothing" where the field is missing. */
function shown(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
