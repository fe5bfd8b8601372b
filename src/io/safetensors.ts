// Safetensors files on disk (Node): read tensor by tensor or lazily (FileTensor), and written through a
// temporary file. The format itself is parsed in ./safetensors-format.ts.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { emptyArray, numel, type DType, type FileRegion, type Tensor, type TypedArray } from '../tensor.ts';
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
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${path}: metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error(`${path}: '__metadata__' is reserved and cannot name a tensor`);
    const t = map.get(name)!;
    checkTensor(t, name, path);
    const size = t.data.byteLength;
    header[name] = { dtype: TO_ST[t.dtype], shape: t.dims, data_offsets: [offset, offset + size] };
    offset += size;
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
    for (const name of names) writeFully(fd, asBytes(map.get(name)!.data));
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
