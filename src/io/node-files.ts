// Checkpoint files on disk, for Node: the folder source every loader reads through, whole-file reads that
// pass fs's 2 GiB limit, and torch checkpoints by path. Nothing here is reachable from the browser entry.
import { closeSync, fstatSync, openSync, readSync, lstatSync, realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelFiles } from './files.ts';
import { readSafetensors } from './safetensors.ts';
import { parseTorchCheckpoint } from './torch-pickle.ts';
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
    safetensors: async (name, opts) => readSafetensors(unlinked(join(dir, name)), opts).tensors,
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

/** Reads a `pytorch_model.bin` state dict into tensors keyed by parameter name. */
export function readTorchCheckpoint(path: string): Map<string, Tensor> {
  return parseTorchCheckpoint(readWholeFile(path), path);
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
