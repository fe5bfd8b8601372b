// Safetensors files on disk (Node): read tensor by tensor or lazily (FileTensor), and written through a
// temporary file. The format itself is parsed in ./safetensors-format.ts.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BYTES_PER_ELEMENT, emptyArray, numel, type DType, type FileRegion, type Tensor, type TypedArray } from '../tensor.ts';
import { BYTE_CHUNKS, bytesOf } from './chunks.ts';
import { asBytes, checkHost, checkMinSize, checkTensor, parseHeader, readHeaderLength, TO_ST, type SafetensorsFile } from './safetensors-format.ts';

export { parseSafetensors, type SafetensorsFile } from './safetensors-format.ts';

export interface ReadOptions {
  /**
   * Leave tensor bytes on disk until something reads `data` (each tensor is then a FileTensor). Inference
   * uses it so ONNX Runtime can take the weights straight from the file; the file must stay in place
   * until the tensors are read or dropped.
   */
  lazy?: boolean;
}

/** Reads a safetensors file, each tensor straight from disk into its own array (no whole-file buffer). */
export function readSafetensors(path: string, opts: ReadOptions = {}): SafetensorsFile {
  checkHost(path);
  const fd = openFile(path);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path}: is a folder or device, not a file`);
    const fileSize = st.size;
    checkMinSize(fileSize, path);
    const prefix = new Uint8Array(8);
    readFully(fd, prefix, 0, path);
    const headerLen = readHeaderLength(prefix, fileSize, path);
    const json = new Uint8Array(headerLen);
    readFully(fd, json, 8, path);
    const header = parseHeader(json, headerLen, fileSize, path);
    const tensors = new Map<string, Tensor>();
    for (const e of header.entries) {
      const region = { path, offset: header.dataStart + e.begin, length: e.end - e.begin };
      if (opts.lazy) { tensors.set(e.name, new FileTensor(e.dtype, e.dims, region, e.name)); continue; }
      const data = emptyArray(e.dtype, numel(e.dims));
      readFully(fd, asBytes(data), region.offset, path, e.name);
      tensors.set(e.name, { dtype: e.dtype, dims: e.dims, data });
    }
    return { tensors, metadata: header.metadata };
  } finally {
    closeSync(fd);
  }
}

/**
 * A tensor whose bytes are read from its file the first time `data` is used. Until then `fileRegion`
 * says where they are, so a compiler can point ONNX Runtime at the file instead of copying them;
 * once read (and possibly changed in place) the tensor is an ordinary in-memory one.
 */
export class FileTensor implements Tensor {
  #data?: TypedArray;
  constructor(readonly dtype: DType, public dims: number[], private readonly region: FileRegion, private readonly key: string) {}

  get data(): TypedArray {
    if (!this.#data) {
      const data = emptyArray(this.dtype, numel(this.dims));
      const fd = openFile(this.region.path);
      try { readFully(fd, asBytes(data), this.region.offset, this.region.path, this.key); } finally { closeSync(fd); }
      this.#data = data;
    }
    return this.#data;
  }

  set data(v: TypedArray) { this.#data = v; }

  /** The bytes' place in the file, while `data` has never been read. */
  get fileRegion(): FileRegion | undefined { return this.#data ? undefined : this.region; }

  /** The bytes in pieces read from the file one at a time (or the array, once read), holding none of them. */
  *[BYTE_CHUNKS](maxBytes: number): Iterable<Uint8Array> {
    if (this.#data) { yield bytesOf(this.#data); return; }
    const { path, offset, length } = this.region;
    const step = Math.max(8, maxBytes - (maxBytes % 8));
    for (let at = 0; at < length; at += step) {
      const piece = new Uint8Array(Math.min(step, length - at));
      const fd = openFile(path);
      try { readFully(fd, piece, offset + at, path, this.key); } finally { closeSync(fd); }
      yield piece;
    }
  }
}

/**
 * Writes tensors (sorted by name, as Hugging Face does) to `path` via a temporary file in the same
 * folder and a rename, so an existing file is never left half-written.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  checkHost(path);
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort();
  for (const name of names) checkTensor(map.get(name)!, name, path);
  writeSafetensorsStream(path, names.map((name) => ({ name, dtype: map.get(name)!.dtype, dims: map.get(name)!.dims })), (name) => map.get(name)!, metadata);
}

/** A tensor to be written by writeSafetensorsStream: its name, dtype and dims, known before its values. */
export interface TensorEntry { name: string; dtype: DType; dims: readonly number[] }

/**
 * Writes a safetensors file whose tensors are made one at a time: the header (keys sorted by name) comes
 * from `entries`, then `make(name)` is asked for each tensor in the order of `entries`, which is also the
 * order of the data section, and its bytes written before the next is made. A checkpoint larger than
 * memory can be written this way (`deberta init`). Via a temporary file and a rename, as writeSafetensors.
 */
export function writeSafetensorsStream(
  path: string,
  entries: readonly TensorEntry[],
  make: (name: string) => Tensor,
  metadata?: Record<string, string>,
): void {
  checkHost(path);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${path}: metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  const offsets = new Map<string, [number, number]>();
  let offset = 0;
  for (const e of entries) {
    if (e.name === '__metadata__') throw new Error(`${path}: '__metadata__' is reserved and cannot name a tensor`);
    if (offsets.has(e.name)) throw new Error(`${path}: tensor '${e.name}' is listed twice`);
    if (!Object.hasOwn(TO_ST, e.dtype)) throw new Error(`${path}: tensor '${e.name}': unknown dtype ${JSON.stringify(e.dtype)}`);
    if (!e.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${path}: tensor '${e.name}': bad dims [${e.dims.join(', ')}]`);
    const size = numel(e.dims as number[]) * BYTES_PER_ELEMENT[e.dtype];
    offsets.set(e.name, [offset, offset + size]);
    offset += size;
  }
  for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    header[e.name] = { dtype: TO_ST[e.dtype], shape: e.dims, data_offsets: offsets.get(e.name) };
  }
  // Pad the header with spaces so the data section starts 8-byte aligned, as the spec asks.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf-8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(jsonBytes.length));

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeFully(fd, prefix);
    writeFully(fd, jsonBytes);
    for (const e of entries) {
      const t = make(e.name);
      checkTensor(t, e.name, path);
      if (t.dtype !== e.dtype || t.dims.length !== e.dims.length || t.dims.some((d, i) => d !== e.dims[i])) {
        throw new Error(`${path}: tensor '${e.name}' was announced as ${e.dtype} [${e.dims.join(', ')}] but is ${t.dtype} [${t.dims.join(', ')}]`);
      }
      writeFully(fd, asBytes(t.data));
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try { closeSync(fd); } catch { /* already closed */ }
    try { unlinkSync(tmp); } catch { /* nothing to clean */ }
    throw err;
  }
}

/** Opens a file for reading; a failure names the file. */
function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

// readSync/writeSync move at most ~2 GiB per call, and may return short counts: loop.
const CHUNK = 1 << 30;

function readFully(fd: number, into: Uint8Array, position: number, path: string, tensorName?: string): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(CHUNK, into.length - done), position + done);
    if (n === 0) {
      const what = tensorName ? `tensor '${tensorName}'` : 'header';
      throw new Error(`${path}: unexpected end of file while reading ${what}; the file is truncated`);
    }
    done += n;
  }
}

function writeFully(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(CHUNK, bytes.length - done));
}
