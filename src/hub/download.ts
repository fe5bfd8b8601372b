// Fetching a model by Hub id into the cache ahead of loading it: the files the loaders read (config.json,
// the first weights file found in the order the checkpoint loader looks, its shards, the tokenizer's
// files), so the command line, worker threads and `deberta download` can then use the snapshot folder.
// Node only.
import { WEIGHT_FILES } from '../io/checkpoint.ts';
import { onnxExternalFiles } from '../io/onnx-weights.ts';
import { readJson } from '../io/files.ts';
import { AutoTokenizer } from '../tokenizers/auto.ts';
import { hubFiles, type HubFiles } from './files.ts';
import type { HubOptions } from './id.ts';

export interface DownloadOptions extends HubOptions {
  /** What to fetch: the model (config and weights), its tokenizer, or both (default). */
  parts?: 'model' | 'tokenizer' | 'all';
}

async function fetchWeights(files: HubFiles): Promise<void> {
  for (const name of WEIGHT_FILES) {
    if (!(await files.has(name))) continue;
    await files.fetch(name);
    if (name.endsWith('.onnx')) {
      for (const data of onnxExternalFiles(await files.read(name), name)) await files.fetch(data);
      return;
    }
    if (!name.endsWith('.index.json')) return;
    const index = (await readJson(files, name)) as { weight_map?: Record<string, unknown> } | null;
    const shards = new Set(Object.values(index?.weight_map ?? {}).filter((v): v is string => typeof v === 'string'));
    for (const shard of shards) {
      if (shard.split(/[\\/]/).includes('..') || /^([\\/]|[A-Za-z]:)/.test(shard)) throw new Error(`${files.path(name)}: shard '${shard}' must be a file inside the checkpoint folder`);
      await files.fetch(shard);
    }
    return;
  }
  throw new Error(`${files.where}: no model weights found (looked for ${WEIGHT_FILES.join(', ')})`);
}

/** Downloads what loading `repo` reads into the cache (or finds it there) and returns the snapshot folder. */
export async function downloadModel(repo: string, options: DownloadOptions = {}): Promise<string> {
  const files = hubFiles(repo, options);
  const parts = options.parts ?? 'all';
  if (parts !== 'tokenizer') {
    await files.fetch('config.json');
    await fetchWeights(files);
  }
  if (parts !== 'model') {
    try {
      // Reading the tokenizer fetches exactly the files it reads.
      await AutoTokenizer.fromPretrained(files);
    } catch (err) {
      // A model without tokenizer files is still a model.
      if (!(parts === 'all' && /no tokenizer files/.test((err as Error).message))) throw err;
    }
  }
  return files.snapshot();
}
