// The plain tensor every module exchanges: a dtype, dims and a flat typed array (row-major).
// float16 and bfloat16 keep their raw 16-bit patterns in a Uint16Array.

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

export type TypedArray =
  | Float32Array | Float64Array | BigInt64Array | Int32Array | Uint16Array | Int8Array | Uint8Array;

export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

/**
 * A float32 result as transformers.js hands one out (its `Tensor`'s reading side): `dims`, the values flat in
 * row-major order as `data`, `type`, `size` and `tolist()`. Model outputs and feature-extraction results.
 */
export class OutputTensor {
  readonly type = 'float32';
  constructor(readonly data: Float32Array, readonly dims: number[]) {}

  get size(): number { return this.data.length; }

  /** The values as nested arrays, one level per dim. */
  tolist(): unknown[] { return nested(this.data, this.dims); }
}

/**
 * Token ids (or a mask) as transformers.js' tokenizer returns them by default: int64, `data` a BigInt64Array,
 * `tolist()` nested arrays of bigints as transformers.js gives. Models take it as an input as it is.
 */
export class IdsTensor {
  readonly type = 'int64';
  constructor(readonly data: BigInt64Array, readonly dims: number[]) {}

  get size(): number { return this.data.length; }

  /** The values as nested arrays of bigints, one level per dim. */
  tolist(): unknown[] { return nested(this.data, this.dims); }
}

function nested(data: Float32Array | BigInt64Array, dims: number[]): unknown[] {
  const nest = (at: number, d: number): unknown[] => {
    const n = dims[d]!;
    if (d === dims.length - 1) return Array.from(data.subarray(at, at + n) as ArrayLike<unknown>);
    const stride = dims.slice(d + 1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, k) => nest(at + k * stride, d + 1));
  };
  return nest(0, 0);
}

/** Where a tensor's little-endian bytes lie in a file (src/io/safetensors.ts, FileTensor). */
export interface FileRegion { path: string; offset: number; length: number }

/** Where a weight's bytes still lie in a file (not read into memory), for the emitter to reference them; undefined otherwise. */
export type WeightRegion = (t: Tensor) => FileRegion | undefined;

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1,
};

export function emptyArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'float16': case 'bfloat16': return new Uint16Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8': case 'bool': return new Uint8Array(n);
  }
}

export function tensor(dtype: DType, dims: number[], data?: TypedArray): Tensor {
  const n = numel(dims);
  const arr = data ?? emptyArray(dtype, n);
  if (arr.length !== n) throw new Error(`tensor: ${arr.length} values do not fill dims [${dims.join(', ')}]`);
  return { dtype, dims: [...dims], data: arr };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits -> number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

let halves: Float32Array | undefined;
/** Every half's value, by its bits (256 KiB, made once): a lookup is ~100 times faster than halfToFloat. */
function halfTable(): Float32Array {
  if (!halves) {
    halves = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halves[h] = halfToFloat(h);
  }
  return halves;
}

function halvesInto(src: Uint16Array, out: Float32Array): void {
  const table = halfTable();
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
}

/** number -> IEEE half bits, round to nearest even. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** bfloat16 bits -> number. */
export function bf16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** number -> bfloat16 bits, round to nearest even. */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Any floating or integer tensor as float32 values (a copy unless already float32). */
export function toFloat32(t: Tensor): Float32Array {
  const d = t.data;
  if (t.dtype === 'float32') return d as Float32Array;
  const out = new Float32Array(d.length);
  if (t.dtype === 'float16') halvesInto(d as Uint16Array, out);
  else if (t.dtype === 'bfloat16') for (let i = 0; i < d.length; i++) out[i] = bf16ToFloat((d as Uint16Array)[i]!);
  else if (t.dtype === 'int64') for (let i = 0; i < d.length; i++) out[i] = Number((d as BigInt64Array)[i]!);
  else for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  return out;
}

/** Any floating tensor as float16 bits, rounded to nearest even (the data itself if already float16). */
export function toFloat16(t: Tensor): Uint16Array {
  if (t.dtype === 'float16') return t.data as Uint16Array;
  const src = toFloat32(t);
  const out = new Uint16Array(src.length);
  // A plain loop: Uint16Array.from(src, floatToHalf) is ~30x slower (9 s for 22 M values).
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return out;
}

/** Any floating or integer tensor as float64 values. */
export function toFloat64(t: Tensor): Float64Array {
  if (t.dtype === 'float64') return t.data as Float64Array;
  if (t.dtype === 'float32') return Float64Array.from(t.data as Float32Array);
  return Float64Array.from(toFloat32(t));
}

/** Integer tensor (int64/int32/...) as plain numbers. */
export function toNumbers(t: Tensor): number[] {
  const out: number[] = new Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = Number(t.data[i]);
  return out;
}
