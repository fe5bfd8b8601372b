// Checkpoint files on disk, for Node: the folder source every loader reads through, whole-file reads that
// pass fs's 2 GiB limit, and torch checkpoints by path. Nothing here is reachable from the browser entry.
import { closeSync, fstatSync, openSync, readSync, lstatSync, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelFiles } from './files.ts';
import { FileTensor, readSafetensors } from './safetensors.ts';
import { parseTorchCheckpoint, type ByteSource } from './torch-pickle.ts';
import type { Tensor } from '../tensor.ts';

/** A checkpoint folder on disk; safetensors are read tensor by tensor, or left on disk (`lazy`). */
export function folderFiles(dir: string): ModelFiles {
  return {
    where: dir,
    path: (name) => join(dir, name),
    has: async (name) => {
      try {
        return (await stat(join(dir, name))).isFile();
      } catch {
        return false;
      }
    },
    read: async (name) => readWholeFile(join(dir, name)),
    readRange: async (name, offset, length) => readFileRange(join(dir, name), offset, length),
    safetensors: async (name, opts) => readSafetensors(unlinked(join(dir, name)), opts).tensors,
    torch: async (name, opts) => readTorchCheckpoint(unlinked(join(dir, name)), opts),
  };
}

/**
 * The file a symlink leads to (itself when it is none). ONNX Runtime reads lazy weights from the file and
 * refuses a link out of the model's folder, as in huggingface_hub's snapshots (links into blobs/).
 */
export function unlinked(path: string): string {
  try {
    return lstatSync(path).isSymbolicLink() ? realpathSync(path) : path;
  } catch {
    return path;
  }
}

/**
 * Reads a `pytorch_model.bin` state dict into tensors keyed by parameter name. The file is read piece by
 * piece (the pickle and headers now, each storage when its tensor's `data` is first used), never whole,
 * so it must stay in place until then. With `lazy`, tensors whose bytes lie in the file as they are
 * become FileTensors, which ONNX Runtime reads from the file itself.
 */
export function readTorchCheckpoint(path: string, opts: { lazy?: boolean } = {}): Map<string, Tensor> {
  const source = fileSource(path);
  const inPlace = opts.lazy
    ? (dtype: Tensor['dtype'], dims: number[], offset: number, length: number, name: string) => new FileTensor(dtype, dims, { path, offset, length }, name)
    : undefined;
  return parseTorchCheckpoint(source, path, { inPlace });
}

/** A file on disk as a ByteSource: each read opens it, reads the range into a fresh buffer and closes it. */
export function fileSource(path: string): ByteSource {
  let size: number;
  const fd = openOrFail(path);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path}: is a folder or device, not a file`);
    size = st.size;
  } finally {
    closeSync(fd);
  }
  return {
    size,
    read: (offset, length) => {
      if (!(offset >= 0 && length >= 0 && offset + length <= size)) throw new Error(`${path}: read of ${length} bytes at ${offset} lies outside the file (${size} bytes)`);
      const bytes = new Uint8Array(length);
      const f = openOrFail(path);
      try {
        readInto(f, bytes, offset, path);
      } finally {
        closeSync(f);
      }
      return bytes;
    },
  };
}

function openOrFail(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'EISDIR' ? `${path}: is a folder, not a file` : `${path}: cannot read (${code ?? (err as Error).message})`);
  }
}

function readInto(fd: number, bytes: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < bytes.length) {
    const n = readSync(fd, bytes, done, Math.min(1 << 30, bytes.length - done), position + done);
    if (n === 0) throw new Error(`${path}: file shrank while being read`);
    done += n;
  }
}

/** `length` bytes of the file at `path` from `offset`; an error naming the file when it ends sooner. */
export function readFileRange(path: string, offset: number, length: number): Uint8Array {
  const fd = openOrFail(path);
  try {
    const size = fstatSync(fd).size;
    if (offset + length > size) throw new Error(`${path}: ${size} bytes, too short for ${length} bytes at offset ${offset}`);
    const bytes = new Uint8Array(length);
    readInto(fd, bytes, offset, path);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

// fs.readFileSync refuses files over 2 GiB; big checkpoints are read in chunks instead.
export function readWholeFile(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path}: is a folder or device, not a file`);
    const size = st.size;
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, Math.min(1 << 30, bytes.length - done), done);
      if (n === 0) throw new Error(`${path}: file shrank while being read`);
      done += n;
    }
    return bytes;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new Error(`${path}: is a folder, not a file`);
    throw err;
  } finally {
    closeSync(fd);
  }
}
