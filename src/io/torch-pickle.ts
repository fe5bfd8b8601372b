// Reading `pytorch_model.bin` (torch.save output) without Python.
//
// Two layouts exist. The zip layout (torch >= 1.6): `<top>/data.pkl` holds a pickled state dict
// whose tensors point, through pickle "persistent ids", at raw storages stored as `<top>/data/<key>`.
// The legacy layout (older torch.save): several pickles back to back (magic number, protocol,
// system info, the state dict, the list of storage keys) followed by each storage as an 8-byte
// element count and its bytes.
//
// The pickles go through the restricted unpickler of ./pickle.ts; this module checks the tensors it
// describes against their storages and copies their values out when first used. The file is read
// through a ByteSource (./zip-index.ts): in Node a file on disk is read piece by piece (pickle, headers,
// then each storage when used), never whole; a tensor whose bytes lie in the file as they are can be
// left there (`inPlace`), for ONNX Runtime to read from the file itself.
import { inflateSync } from 'fflate';
import { BYTES_PER_ELEMENT, emptyArray, numel, type DType, type Tensor, type TypedArray } from '../tensor.ts';
import { BYTE_CHUNKS, bytesOf } from './chunks.ts';
import { loaderLimits } from './limits.ts';
import { memorySource, zipMembers, type ByteSource, type ZipMember } from './zip-index.ts';

export type { ByteSource } from './zip-index.ts';

export interface TorchReadOptions {
  /**
   * Asked for each tensor whose values lie in the file exactly as a contiguous little-endian array would
   * hold them (a stored zip member or a legacy storage, the view contiguous): the tensor to use instead
   * of one copied out of the storage, given where its bytes are (`offset`, `length` in the file). Node
   * passes a FileTensor, read from the file when used and otherwise handed to ONNX Runtime by region.
   */
  inPlace?: (dtype: DType, dims: number[], offset: number, length: number, name: string) => Tensor;
}
import { latin1, storageFromPid, StorageRef, TensorRef, Unpickler, type Hooks } from './pickle.ts';

// ---------------------------------------------------------------------------------------------
// Turning the unpickled state dict into tensors.

function asStateDict(root: unknown, file: string): Map<string, TensorRef> {
  if (!(root instanceof Map)) throw new Error(`${file}: the pickle does not hold a state dict (a dict of tensors)`);
  const out = new Map<string, TensorRef>();
  for (const [k, v] of root) {
    // Non-tensor entries (version numbers and the like) carry no weights.
    if (typeof k === 'string' && v instanceof TensorRef) out.set(k, v);
  }
  return out;
}

/** A storage whose size is known (and checked) when the file is parsed and whose bytes are read when first used. */
interface StorageSource {
  dtype: DType;
  /** Elements the storage holds. */
  count: number;
  /** Its elements in a fresh array (for a zip entry: decompressed now). */
  load(): TypedArray;
  /** Where its bytes start in the file when they lie there as a little-endian array would hold them. */
  fileOffset?: number;
}

/**
 * A checkpoint tensor whose values are copied out of its storage the first time `data` is read. Model
 * loading compares `dims` with the shapes the config implies before it reads `data`, so a tensor of the
 * wrong shape, or one the model does not use, costs no memory (and, in a zip, no decompression).
 */
class PickledTensor implements Tensor {
  #data?: TypedArray;
  #make?: () => TypedArray;
  constructor(readonly dtype: DType, public dims: number[], make: () => TypedArray) { this.#make = make; }

  get data(): TypedArray {
    if (!this.#data) {
      this.#data = this.#make!();
      this.#make = undefined;
    }
    return this.#data;
  }

  set data(v: TypedArray) { this.#data = v; this.#make = undefined; }

  /** The values copied out for the writer and not kept (they are copied again if `data` is ever used). */
  *[BYTE_CHUNKS](): Iterable<Uint8Array> {
    const a = this.#data ?? this.#make!();
    yield bytesOf(a);
  }
}

/** A copy in a fresh buffer (a Node Buffer's `slice` would share memory). */
function copyBytes(b: Uint8Array): Uint8Array {
  const c = new Uint8Array(b.length);
  c.set(b);
  return c;
}

function typedView(dtype: DType, buffer: ArrayBuffer, byteOffset: number, count: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, count);
    case 'float64': return new Float64Array(buffer, byteOffset, count);
    case 'float16': case 'bfloat16': return new Uint16Array(buffer, byteOffset, count);
    case 'int64': return new BigInt64Array(buffer, byteOffset, count);
    case 'int32': return new Int32Array(buffer, byteOffset, count);
    case 'int8': return new Int8Array(buffer, byteOffset, count);
    case 'uint8': case 'bool': return new Uint8Array(buffer, byteOffset, count);
  }
}

/**
 * `bytes` as the storage's typed array: a view of them when aligned (a stored zip member is used in place,
 * sharing the file's buffer), else a copy; big-endian data is swapped in a copy of its own.
 */
function storageArray(bytes: Uint8Array, dtype: DType, count: number, bigEndian: boolean): TypedArray {
  const size = BYTES_PER_ELEMENT[dtype];
  const swap = bigEndian && size > 1;
  const own = !swap && bytes.byteOffset % size === 0 ? bytes : copyBytes(bytes);
  if (swap) {
    for (let i = 0; i < count * size; i += size) own.subarray(i, i + size).reverse();
  }
  return typedView(dtype, own.buffer as ArrayBuffer, own.byteOffset, count);
}

/**
 * Checks, before anything is allocated, that the strided view `t` stays inside a storage of `count`
 * elements with every index a safe integer, and that it does not repeat elements (a stride-0 view
 * larger than its storage would multiply a small file into any amount of memory).
 */
function checkView(name: string, t: TensorRef, count: number, file: string): number {
  const what = `${file}: tensor '${name}'`;
  let n = 1;
  for (const d of t.size) {
    n *= d;
    if (!Number.isSafeInteger(n)) throw new Error(`${what}: size [${t.size.join(', ')}] has more elements than can be indexed`);
  }
  const start = t.storage.elementOffset + t.offset;
  if (n === 0) return 0;
  let last = start;
  for (let d = 0; d < t.size.length; d++) last += (t.size[d]! - 1) * t.stride[d]!;
  if (!Number.isSafeInteger(last) || last >= count) {
    throw new Error(`${what} reads past its storage '${t.storage.key}' (${count} values): offset ${start}, size [${t.size.join(', ')}], stride [${t.stride.join(', ')}]`);
  }
  if (n > count) {
    throw new Error(`${what}: size [${t.size.join(', ')}] has ${n} elements but its storage '${t.storage.key}' holds only ${count}; views that repeat elements are not loaded`);
  }
  return n;
}

/** Copies the strided view `t` of `src` into a contiguous row-major array, or returns `src` itself when the view is all of it and `mayTake`. */
function materialise(t: TensorRef, src: TypedArray, mayTake: boolean): TypedArray {
  const dims = t.size;
  const n = numel(dims);
  const start = t.storage.elementOffset + t.offset;
  const contiguous = isContiguous(dims, t.stride);
  if (mayTake && contiguous && start === 0 && n === src.length) return src;
  const out = emptyArray(t.storage.dtype, n);
  if (contiguous) {
    copyInto(out, src, start, n);
  } else {
    // Walk the output in row-major order with an index counter over the dims.
    const idx = new Array<number>(dims.length).fill(0);
    let at = start;
    for (let i = 0; i < n; i++) {
      (out as unknown as { [k: number]: unknown })[i] = src[at];
      for (let d = dims.length - 1; d >= 0; d--) {
        if (++idx[d]! < dims[d]!) { at += t.stride[d]!; break; }
        at -= (dims[d]! - 1) * t.stride[d]!;
        idx[d] = 0;
      }
    }
  }
  return out;
}

/**
 * The state dict's tensors, each checked against its storage now and read when first used. A storage
 * with one user becomes that tensor's array; a shared one is read once, kept while users remain, and copied.
 */
function toTensors(refs: Map<string, TensorRef>, storages: Map<string, StorageSource>, file: string, opts: TorchReadOptions = {}): Map<string, Tensor> {
  const users = new Map<string, number>();
  for (const t of refs.values()) users.set(t.storage.key, (users.get(t.storage.key) ?? 0) + 1);
  const total = new Map(users);
  const cache = new Map<string, TypedArray>();
  const out = new Map<string, Tensor>();
  for (const [name, t] of refs) {
    const key = t.storage.key;
    const src = storages.get(key);
    if (!src) throw new Error(`${file}: storage '${key}' is used but its data is missing`);
    if (src.dtype !== t.storage.dtype) {
      throw new Error(`${file}: tensor '${name}' reads storage '${key}' as ${t.storage.dtype}, another tensor as ${src.dtype}`);
    }
    const n = checkView(name, t, src.count, file);
    if (opts.inPlace && src.fileOffset !== undefined && n > 0 && isContiguous(t.size, t.stride)) {
      const size = BYTES_PER_ELEMENT[t.storage.dtype];
      const start = t.storage.elementOffset + t.offset;
      out.set(name, opts.inPlace(t.storage.dtype, [...t.size], src.fileOffset + start * size, n * size, name));
      users.set(key, users.get(key)! - 1);
      total.set(key, total.get(key)! - 1);
      continue;
    }
    out.set(name, new PickledTensor(t.storage.dtype, [...t.size], () => {
      const arr = cache.get(key) ?? src.load();
      const left = users.get(key)! - 1;
      users.set(key, left);
      if (left > 0) cache.set(key, arr); else cache.delete(key);
      return materialise(t, arr, total.get(key) === 1);
    }));
  }
  return out;
}

function copyInto(out: TypedArray, src: TypedArray, start: number, n: number): void {
  (out as unknown as { set(a: ArrayLike<unknown>): void }).set(src.subarray(start, start + n) as ArrayLike<unknown>);
}

function isContiguous(dims: number[], stride: number[]): boolean {
  let expect = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    if (dims[d] !== 1 && stride[d] !== expect) return false;
    expect *= dims[d]!;
  }
  return true;
}

/** The storages the state dict's tensors use, each once: key -> dtype and element count (from the persistent ids). */
function usedStorages(refs: Map<string, TensorRef>, file: string): Map<string, StorageRef> {
  const used = new Map<string, StorageRef>();
  for (const t of refs.values()) {
    const seen = used.get(t.storage.key);
    if (seen && (seen.dtype !== t.storage.dtype || seen.numel !== t.storage.numel)) {
      throw new Error(`${file}: storage '${t.storage.key}' is described twice, as ${seen.numel} ${seen.dtype} and as ${t.storage.numel} ${t.storage.dtype} values`);
    }
    used.set(t.storage.key, seen ?? t.storage);
  }
  return used;
}

function byteSize(count: number, dtype: DType, what: string): number {
  const size = count * BYTES_PER_ELEMENT[dtype];
  if (!Number.isSafeInteger(size)) throw new Error(`${what}: ${count} ${dtype} values are more than can be addressed`);
  return size;
}

// ---------------------------------------------------------------------------------------------
// The two container layouts.

/** A member's bytes: stored ones as the source reads them, deflated ones inflated into a buffer of their declared size. */
function memberBytes(bytes: ByteSource, m: ZipMember): Uint8Array {
  const data = bytes.read(m.dataOffset, m.compressedSize);
  if (m.compression === 0) return data;
  const out = inflateSync(data, { out: new Uint8Array(m.size) });
  return out;
}

function readZipCheckpoint(bytes: ByteSource, file: string, opts: TorchReadOptions): Map<string, Tensor> {
  // The central directory says where every member is; only the pickle and the byte order are read now.
  // Storages are read when a tensor's data is first used: stored ones in place, deflated ones inflated then.
  const entries = new Map<string, ZipMember>();
  let small: Record<string, Uint8Array>;
  try {
    for (const m of zipMembers(bytes)) if (!entries.has(m.name)) entries.set(m.name, m);
    small = {};
    for (const m of entries.values()) {
      if (!/^[^/]+\/(data\.pkl|byteorder)$/.test(m.name)) continue;
      if (m.size > loaderLimits.maxPickleBytes) {
        throw new Error(`'${m.name}' declares ${m.size} bytes, more than the ${loaderLimits.maxPickleBytes} allowed for a pickle (loaderLimits.maxPickleBytes)`);
      }
      if (m.compression !== 0 && m.compression !== 8) throw new Error(`'${m.name}' uses compression method ${m.compression}`);
      const got = memberBytes(bytes, m);
      if (got.length !== m.size) throw new Error(`'${m.name}' holds ${got.length} bytes, not the ${m.size} it declares`);
      small[m.name] = got;
    }
  } catch (err) {
    throw new Error(`${file}: not a readable zip archive (${(err as Error).message})`);
  }
  // The top folder is named after the file torch.save wrote ("archive", "pytorch_model", ...).
  const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl || !small[pkl]) throw new Error(`${file}: zip archive has no '<folder>/data.pkl': not a torch checkpoint`);
  const top = pkl.slice(0, -'data.pkl'.length);
  const order = small[`${top}byteorder`];
  const bigEndian = order !== undefined && latin1(order).trim() === 'big';

  const root = new Unpickler(small[pkl]!, file, { persistentLoad: (pid) => storageFromPid(pid, file) }).load();
  const refs = asStateDict(root, file);
  const used = usedStorages(refs, file);
  if (entries.size > used.size + 8 + loaderLimits.maxExtraZipEntries) {
    throw new Error(`${file}: the archive has ${entries.size} entries but the state dict uses ${used.size} storages; ` +
      `more than ${loaderLimits.maxExtraZipEntries} unused entries (loaderLimits.maxExtraZipEntries) are not read`);
  }

  const storages = new Map<string, StorageSource>();
  for (const s of used.values()) {
    const name = `${top}data/${s.key}`;
    const info = entries.get(name);
    if (!info) throw new Error(`${file}: storage '${s.key}' is missing from the archive (no '${name}')`);
    const need = byteSize(s.numel, s.dtype, `${file}: storage '${name}'`);
    if (info.size < need) {
      throw new Error(`${file}: storage '${name}' has ${info.size} bytes but needs ${need} for ${s.numel} ${s.dtype} values (truncated file?)`);
    }
    if (info.size > need) {
      throw new Error(`${file}: storage '${name}' declares ${info.size} bytes but its ${s.numel} ${s.dtype} values take ${need}`);
    }
    if (info.compression !== 0 && info.compression !== 8) {
      throw new Error(`${file}: storage '${name}' uses zip compression method ${info.compression} (only stored and deflate are read)`);
    }
    if (info.compression === 0 && info.compressedSize !== need) {
      throw new Error(`${file}: storage '${name}' is stored with ${info.compressedSize} bytes but declares ${info.size}`);
    }
    storages.set(s.key, {
      dtype: s.dtype,
      count: s.numel,
      load: () => {
        let got: Uint8Array;
        try {
          got = memberBytes(bytes, info);
        } catch (err) {
          throw new Error(`${file}: storage '${name}' cannot be decompressed (${(err as Error).message})`);
        }
        if (got.length !== need) {
          throw new Error(`${file}: storage '${name}' holds ${got.length} bytes, not the ${need} its entry declares (corrupt archive)`);
        }
        return storageArray(got, s.dtype, s.numel, bigEndian);
      },
      ...(info.compression === 0 && (!bigEndian || BYTES_PER_ELEMENT[s.dtype] === 1) ? { fileOffset: info.dataOffset } : {}),
    });
  }
  return toTensors(refs, storages, file, opts);
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

// A legacy file opens with the pickled magic number: PROTO n, LONG1 of 10 bytes, the bytes.
function startsWithLegacyMagic(b: Uint8Array): boolean {
  if (b.length < 14 || b[0] !== 0x80 || b[2] !== 0x8a || b[3] !== 10) return false;
  let v = 0n;
  for (let i = 13; i >= 4; i--) v = (v << 8n) | BigInt(b[i]!);
  return v === LEGACY_MAGIC;
}

function readLegacyCheckpoint(source: ByteSource, file: string, opts: TorchReadOptions): Map<string, Tensor> {
  // The pickles come first and must fit loaderLimits.maxPickleBytes; the storages after them are read when used.
  const bytes = source.read(0, Math.min(source.size, loaderLimits.maxPickleBytes));
  const clipped = bytes.length < source.size;
  try {
    return readLegacyPickles(source, bytes, file, opts);
  } catch (err) {
    if (clipped && /unexpected end of data/.test((err as Error).message)) {
      throw new Error(`${file}: the pickles of this legacy torch.save file run past ${loaderLimits.maxPickleBytes} bytes (loaderLimits.maxPickleBytes)`);
    }
    throw err;
  }
}

function readLegacyPickles(source: ByteSource, bytes: Uint8Array, file: string, opts: TorchReadOptions): Map<string, Tensor> {
  const noPids: Hooks = { persistentLoad: () => { throw new Error(`${file}: unexpected persistent id in header`); } };
  let p = new Unpickler(bytes, file, noPids);
  const magic = p.load();
  if (typeof magic !== 'bigint' || magic !== LEGACY_MAGIC) throw new Error(`${file}: not a torch checkpoint (bad magic number)`);
  p = new Unpickler(bytes, file, noPids, p.pos);
  const protocol = p.load();
  if (protocol !== 1001) throw new Error(`${file}: unsupported torch.save protocol version ${String(protocol)}`);
  p = new Unpickler(bytes, file, noPids, p.pos);
  const sysInfo = p.load();
  const bigEndian = sysInfo instanceof Map && sysInfo.get('little_endian') === false;

  const roots = new Map<string, StorageRef>(); // root key -> its dtype and size
  p = new Unpickler(bytes, file, {
    persistentLoad: (pid) => {
      const s = storageFromPid(pid, file);
      if (!roots.has(s.key)) roots.set(s.key, new StorageRef(s.key, s.dtype, s.numel));
      return s;
    },
  }, p.pos);
  const root = p.load();
  p = new Unpickler(bytes, file, noPids, p.pos);
  const keys = p.load();
  if (!Array.isArray(keys)) throw new Error(`${file}: malformed storage key list`);

  // Storages follow in key order, each as an int64 element count then the raw bytes; they are located
  // (and their sizes checked) now and copied out when first used.
  const storages = new Map<string, StorageSource>();
  let pos = p.pos;
  for (const key of keys) {
    const ref = roots.get(String(key));
    if (!ref) throw new Error(`${file}: storage '${String(key)}' is listed but never used`);
    if (storages.has(ref.key)) throw new Error(`${file}: storage '${ref.key}' is listed twice`);
    if (pos + 8 > source.size) throw new Error(`${file}: storage '${ref.key}' is missing (file truncated)`);
    const head = source.read(pos, 8);
    const count = Number(new DataView(head.buffer, head.byteOffset, 8).getBigInt64(0, true));
    if (count < 0 || !Number.isSafeInteger(count)) throw new Error(`${file}: storage '${ref.key}' has an impossible size ${count} (corrupt file)`);
    const what = `${file}: storage '${ref.key}'`;
    const size = byteSize(count, ref.dtype, what);
    const at = pos + 8;
    if (at + size > source.size) {
      throw new Error(`${what} has ${source.size - at} bytes but needs ${size} for ${count} ${ref.dtype} values (truncated file?)`);
    }
    storages.set(ref.key, {
      dtype: ref.dtype, count, load: () => storageArray(copyBytes(source.read(at, size)), ref.dtype, count, bigEndian),
      ...(!bigEndian || BYTES_PER_ELEMENT[ref.dtype] === 1 ? { fileOffset: at } : {}),
    });
    pos = at + size;
  }
  return toTensors(asStateDict(root, file), storages, file, opts);
}

/**
 * Parses torch.save bytes (zip or legacy layout), in memory or read through a ByteSource. `file` names
 * errors. Every tensor's view is checked against its storage here; its values are copied out (and a zip
 * entry decompressed) when `data` is first read, or the tensor is left in the file (`opts.inPlace`).
 */
export function parseTorchCheckpoint(bytes: Uint8Array | ByteSource, file: string, opts: TorchReadOptions = {}): Map<string, Tensor> {
  const source = bytes instanceof Uint8Array ? memorySource(bytes) : bytes;
  const start = source.read(0, Math.min(source.size, 14));
  if (start[0] === 0x50 && start[1] === 0x4b) return readZipCheckpoint(source, file, opts); // "PK"
  if (startsWithLegacyMagic(start)) return readLegacyCheckpoint(source, file, opts);
  throw new Error(`${file}: not a torch checkpoint (neither a zip archive nor a legacy torch.save file)`);
}
