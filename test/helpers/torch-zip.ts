// Builds torch.save zip archives opcode by opcode (protocol 2), for tests that need checkpoints with
// hand-chosen storages, offsets and strides.
import { zipSync } from 'fflate';
import { BYTES_PER_ELEMENT, type DType, type Tensor } from '../../src/tensor.ts';

const STORAGE: Record<DType, string> = {
  float32: 'FloatStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage', float64: 'DoubleStorage',
  int64: 'LongStorage', int32: 'IntStorage', uint8: 'ByteStorage', bool: 'BoolStorage', int8: 'CharStorage',
};

/** A storage as a pickle names it: its class (FloatStorage, …), key and element count; `legacy`: the old layout's extra view field. */
export interface StorageSpec { type: string; key: string; numel: number; legacy?: boolean }

export class Pickle {
  readonly out: number[] = [];
  op(...b: number[]): this { for (const x of b) this.out.push(x); return this; }
  proto(): this { return this.op(0x80, 2); }
  mark(): this { return this.op(0x28); }
  tuple(): this { return this.op(0x74); }
  stop(): this { return this.op(0x2e); }
  reduce(): this { return this.op(0x52); }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.op(0x58, ...le(b.length, 4), ...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, ...le(n, 2));
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...le(n >>> 0, 4));
    return this.op(0x8a, 8, ...le64(BigInt(n))); // LONG1
  }
  ints(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  global(mod: string, name: string): this { return this.op(0x63, ...Buffer.from(`${mod}\n${name}\n`, 'ascii')); }
  orderedDict(): this { return this.global('collections', 'OrderedDict').op(0x29).reduce(); }
  /** _rebuild_tensor_v2(('storage', type, key, 'cpu', numel[, view]), offset, size, stride, False, OrderedDict()). */
  storageTensor(s: StorageSpec, offset: number, size: number[], stride: number[], view?: [string, number, number]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', s.type).str(s.key).str('cpu').int(s.numel);
    if (s.legacy) {
      if (view) this.mark().str(view[0]).int(view[1]).int(view[2]).tuple();
      else this.op(0x4e); // None
    }
    this.tuple().op(0x51); // BINPERSID
    this.int(offset).ints(size).ints(stride).op(0x89).orderedDict();
    return this.tuple().reduce();
  }
  tensor(storageType: string, key: string, numel: number, offset: number, size: number[], stride: number[]): this {
    return this.storageTensor({ type: storageType, key, numel }, offset, size, stride);
  }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

export function le(n: number, width: number): number[] {
  return Array.from({ length: width }, (_, i) => Math.floor(n / 2 ** (8 * i)) & 0xff);
}
function le64(v: bigint): number[] {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v, true);
  return [...b];
}

/** How one state-dict entry is written: its storage (key, dtype, element count, bytes) and the view on it. */
export interface EntrySpec {
  key: string;
  dtype: DType;
  numel: number;
  bytes: Uint8Array;
  offset: number;
  size: number[];
  stride: number[];
}

export function contiguousStride(dims: number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1]! * dims[i + 1]!;
  return s;
}

/** The spec torch.save writes for each tensor: one storage each, contiguous. */
export function specsOf(tensors: Map<string, Tensor>): Map<string, EntrySpec> {
  const out = new Map<string, EntrySpec>();
  let k = 0;
  for (const [name, t] of tensors) {
    out.set(name, {
      key: String(k++), dtype: t.dtype, numel: t.data.length, bytes: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice(),
      offset: 0, size: [...t.dims], stride: contiguousStride(t.dims),
    });
  }
  return out;
}

/**
 * A torch zip of the given entries; `extra` adds archive members as they are (e.g. unused ones). `align`
 * (stored members only) pads each local header with an extra field, as torch.save does, so that every
 * member's data starts at a multiple of 64 bytes.
 */
export function torchZip(specs: Map<string, EntrySpec>, extra: Record<string, Uint8Array> = {}, level: 0 | 1 | 6 = 0, align = false): Uint8Array {
  const p = new Pickle().proto().global('collections', 'OrderedDict').op(0x29, 0x52).op(0x28);
  for (const [name, s] of specs) p.str(name).tensor(STORAGE[s.dtype], s.key, s.numel, s.offset, s.size, s.stride);
  p.op(0x75, 0x2e); // SETITEMS STOP
  const files: Record<string, Uint8Array> = {
    'archive/data.pkl': p.bytes(),
    'archive/byteorder': Buffer.from('little'),
    'archive/version': Buffer.from('3\n'),
  };
  for (const s of specs.values()) files[`archive/data/${s.key}`] ??= s.bytes;
  const all = { ...files, ...extra };
  if (!align || level !== 0) return zipSync(all, { level });
  // zipSync writes members in order, each as a 30-byte local header, its name, its extra field and its data.
  const padded: Record<string, [Uint8Array, { extra: Record<number, Uint8Array> }]> = {};
  let at = 0;
  for (const [name, data] of Object.entries(all)) {
    const head = 30 + Buffer.byteLength(name) + 4;
    const pad = (64 - ((at + head) % 64)) % 64;
    padded[name] = [data, { extra: { 16966: new Uint8Array(pad) } }]; // 0x4246, the id torch.save pads with
    at += head + pad + data.length;
  }
  return zipSync(padded, { level: 0 });
}

export function bytesPerElement(dtype: DType): number { return BYTES_PER_ELEMENT[dtype]; }
