// Finding and loading the weights of a Hugging Face checkpoint folder, in the order
// transformers prefers them: safetensors first, then torch pickles; single files before shards.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import type { Tensor } from '../tensor.ts';
import { readSafetensors, type ReadOptions } from './safetensors.ts';
import { readTorchCheckpoint } from './torch-pickle.ts';

export interface LoadedCheckpoint {
  tensors: Map<string, Tensor>;
  /** The weight files read, in order (the shards, for a sharded checkpoint). */
  files: string[];
}

type Reader = (path: string, opts: ReadOptions) => Map<string, Tensor>;

const readSt: Reader = (path, opts) => readSafetensors(path, opts).tensors;

const CANDIDATES: { name: string; sharded: boolean; read: Reader }[] = [
  { name: 'model.safetensors', sharded: false, read: readSt },
  { name: 'model.safetensors.index.json', sharded: true, read: readSt },
  { name: 'pytorch_model.bin', sharded: false, read: readTorchCheckpoint },
  { name: 'pytorch_model.bin.index.json', sharded: true, read: readTorchCheckpoint },
];

/**
 * Loads every weight tensor of the checkpoint in `dir`. `lazy`: safetensors bytes stay on disk until
 * used (see FileTensor); pickled checkpoints are always read whole.
 */
export function loadCheckpointTensors(dir: string, opts: ReadOptions = {}): LoadedCheckpoint {
  for (const c of CANDIDATES) {
    const path = join(dir, c.name);
    if (!existsSync(path)) continue;
    if (!c.sharded) return { tensors: c.read(path, opts), files: [path] };
    return loadSharded(dir, path, (p) => c.read(p, opts));
  }
  const looked = CANDIDATES.map((c) => c.name).join(', ');
  throw new Error(`${dir}: no model weights found (looked for ${looked})`);
}

function loadSharded(dir: string, indexPath: string, read: (path: string) => Map<string, Tensor>): LoadedCheckpoint {
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (err) {
    throw new Error(`${indexPath}: not valid JSON (${(err as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${indexPath}: 'weight_map' must be an object mapping tensor names to shard files`);
  }

  // Shards in order of first mention; each tensor listed must come from the shard the map names.
  const shards = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') throw new Error(`${indexPath}: weight_map['${tensor}'] must be a file name`);
    const list = shards.get(shard) ?? [];
    list.push(tensor);
    shards.set(shard, list);
  }

  const tensors = new Map<string, Tensor>();
  const files: string[] = [];
  for (const [shard, names] of shards) {
    const path = shardPath(dir, shard, indexPath);
    if (!existsSync(path)) throw new Error(`${indexPath}: shard '${shard}' is missing (expected ${path})`);
    const part = read(path);
    for (const name of names) {
      if (!part.has(name)) throw new Error(`${path}: has no tensor '${name}', which ${indexPath} places there`);
    }
    for (const [name, t] of part) {
      if (tensors.has(name)) throw new Error(`${path}: tensor '${name}' also appears in an earlier shard`);
      tensors.set(name, t);
    }
    files.push(path);
  }
  return { tensors, files };
}

// Shard names come from a file on disk: keep them inside the checkpoint folder.
function shardPath(dir: string, shard: string, indexPath: string): string {
  const rel = normalize(shard);
  if (shard === '' || isAbsolute(shard) || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new Error(`${indexPath}: shard '${shard}' must be a file inside the checkpoint folder`);
  }
  return join(dir, rel);
}
