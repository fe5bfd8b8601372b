// Finding and loading the weights of a Hugging Face checkpoint, in the order transformers prefers them:
// safetensors first, then torch pickles; single files before shards; last, the float32 ONNX export that
// transformers.js repositories ship instead. Reads through ModelFiles, so a folder on disk, a URL and
// files in memory load alike.
import type { Tensor } from '../tensor.ts';
import { openFiles } from '../platform/index.ts';
import { readJson, type ModelFiles } from './files.ts';
import { checkJsonDepth } from './limits.ts';
import { parseSafetensors } from './safetensors-format.ts';
import { parseTorchCheckpoint } from './torch-pickle.ts';
import { readOnnxWeights } from './onnx-weights.ts';

export interface LoadedCheckpoint {
  tensors: Map<string, Tensor>;
  /** The weight files read, in order (the shards, for a sharded checkpoint), as `files.path` names them. */
  files: string[];
}

export interface ReadOptions {
  /**
   * Leave weights in storage until used, where the source can (Node: each safetensors tensor, and each
   * torch tensor stored as it would lie in memory, is then a FileTensor, which ONNX Runtime reads from the
   * file itself). Elsewhere pickled checkpoints are read whole.
   */
  lazy?: boolean;
}

type Reader = (files: ModelFiles, name: string, opts: ReadOptions) => Promise<Map<string, Tensor>>;

const readSt: Reader = async (files, name, opts) =>
  files.safetensors ? files.safetensors(name, opts) : parseSafetensors(await files.read(name), files.path(name)).tensors;
const readTorch: Reader = async (files, name, opts) =>
  files.torch ? files.torch(name, opts) : parseTorchCheckpoint(await files.read(name), files.path(name));

const CANDIDATES: { name: string; sharded: boolean; read: Reader }[] = [
  { name: 'model.safetensors', sharded: false, read: readSt },
  { name: 'model.safetensors.index.json', sharded: true, read: readSt },
  { name: 'pytorch_model.bin', sharded: false, read: readTorch },
  { name: 'pytorch_model.bin.index.json', sharded: true, read: readTorch },
  // A transformers.js repository: the float32 export, its weights read back under their Hugging Face names.
  { name: 'onnx/model.onnx', sharded: false, read: (files, name) => readOnnxWeights(files, name) },
  { name: 'model.onnx', sharded: false, read: (files, name) => readOnnxWeights(files, name) },
];

/** The weight files a checkpoint may have, in the order they are looked for. */
export const WEIGHT_FILES: readonly string[] = CANDIDATES.map((c) => c.name);

/** Loads every weight tensor of the checkpoint `ref` (a folder path or URL, or files). */
export async function loadCheckpointTensors(ref: string | ModelFiles, opts: ReadOptions = {}): Promise<LoadedCheckpoint> {
  const files = await openFiles(ref);
  for (const c of CANDIDATES) {
    if (!(await files.has(c.name))) continue;
    if (!c.sharded) return { tensors: await c.read(files, c.name, opts), files: [files.path(c.name)] };
    return loadSharded(files, c.name, (shard) => c.read(files, shard, opts));
  }
  const looked = CANDIDATES.map((c) => c.name).join(', ');
  // transformers.js repositories may hold only reduced-precision exports, whose weights cannot be read back.
  const other = ['onnx/model_quantized.onnx', 'onnx/model_fp16.onnx', 'onnx/model_int8.onnx', 'onnx/model_q4.onnx'];
  const found: string[] = [];
  for (const name of other) if (await files.has(name)) found.push(name);
  const hint = found.length ? `; ${found.join(' and ')} ${found.length > 1 ? 'hold' : 'holds'} weights at reduced precision, which cannot be read back as the model's: `
    + 'load a repository with the float32 weights (its onnx/model.onnx or the original checkpoint) and ask for int8 with { dtype: \'q8\' }' : '';
  throw new Error(`${files.where}: no model weights found (looked for ${looked})${hint}`);
}

async function loadSharded(files: ModelFiles, indexName: string, read: (shard: string) => Promise<Map<string, Tensor>>): Promise<LoadedCheckpoint> {
  const indexPath = files.path(indexName);
  const index = await readJson(files, indexName);
  checkJsonDepth(index, indexPath);
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
  const paths: string[] = [];
  for (const [shard, names] of shards) {
    const name = shardName(shard, indexPath);
    const path = files.path(name);
    if (!(await files.has(name))) throw new Error(`${indexPath}: shard '${shard}' is missing (expected ${path})`);
    const part = await read(name);
    for (const n of names) {
      if (!part.has(n)) throw new Error(`${path}: has no tensor '${n}', which ${indexPath} places there`);
    }
    for (const [n, t] of part) {
      if (tensors.has(n)) throw new Error(`${path}: tensor '${n}' also appears in an earlier shard`);
      tensors.set(n, t);
    }
    paths.push(path);
  }
  return { tensors, files: paths };
}

// Shard names come from a file: keep them inside the checkpoint folder.
function shardName(shard: string, indexPath: string): string {
  const parts = shard.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (shard === '' || /^([\\/]|[A-Za-z]:)/.test(shard) || parts.includes('..') || parts.length === 0) {
    throw new Error(`${indexPath}: shard '${shard}' must be a file inside the checkpoint folder`);
  }
  return parts.join('/');
}
