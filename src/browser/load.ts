// Loading a checkpoint and its tokenizer over HTTP (fetch), for browsers: the same parsing and model
// building as the Node loaders, fed with fetched bytes instead of files.
import { parseSafetensors } from '../io/safetensors.ts';
import { parseDebertaConfig } from '../models/deberta/config.ts';
import { createModel, type DebertaModel, type HeadKind, type LoadOptions } from '../models/create.ts';
import { AutoTokenizer } from '../tokenizers/auto.ts';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.ts';
import type { Tensor } from '../tensor.ts';

/** A checkpoint folder's URL with a trailing slash, made absolute against the page's address. */
export function folderUrl(baseUrl: string): string {
  const withSlash = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const page = (globalThis as { location?: { href: string } }).location?.href;
  return new URL(withSlash, page).href;
}

/** Fetches one file of the folder; undefined when the server answers 404. */
async function fetchFile(base: string, name: string, optional = false): Promise<Response | undefined> {
  const url = new URL(name, base).href;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`${url}: cannot fetch (${(err as Error).message})`);
  }
  if (res.status === 404 && optional) return undefined;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  return res;
}

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

async function jsonOf(res: Response): Promise<unknown> {
  try {
    return JSON.parse(await res.text()) as unknown;
  } catch (err) {
    throw new Error(`${res.url}: not valid JSON (${(err as Error).message})`);
  }
}

/** Weights from `model.safetensors`, or the shards `model.safetensors.index.json` lists. */
async function fetchWeights(base: string): Promise<{ tensors: Map<string, Tensor>; file: string }> {
  const single = await fetchFile(base, 'model.safetensors', true);
  if (single) return { tensors: parseSafetensors(await bytesOf(single), single.url).tensors, file: single.url };
  const index = await fetchFile(base, 'model.safetensors.index.json', true);
  if (!index) throw new Error(`${base}: no model.safetensors or model.safetensors.index.json (the browser reads safetensors only)`);
  const map = (await jsonOf(index) as { weight_map?: Record<string, string> }).weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${index.url}: 'weight_map' must map tensor names to shard files`);
  const tensors = new Map<string, Tensor>();
  for (const shard of new Set(Object.values(map))) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.startsWith('.')) throw new Error(`${index.url}: bad shard name ${JSON.stringify(shard)}`);
    const res = (await fetchFile(base, shard))!;
    for (const [k, t] of parseSafetensors(await bytesOf(res), res.url).tensors) tensors.set(k, t);
  }
  return { tensors, file: index.url };
}

/** Loads the checkpoint at `baseUrl` (config.json + safetensors weights) with the given head. */
export async function loadModelFromUrl(baseUrl: string, head: HeadKind | 'auto' = 'auto', opts: LoadOptions = {}): Promise<DebertaModel> {
  const base = folderUrl(baseUrl);
  const configRes = (await fetchFile(base, 'config.json'))!;
  const config = parseDebertaConfig(await jsonOf(configRes), configRes.url);
  const { tensors, file } = await fetchWeights(base);
  return createModel(config, tensors, head, { ...opts, dir: base, file });
}

const OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

/** Loads the tokenizer at `baseUrl`: tokenizer.json, else spm.model, else vocab.json + merges.txt. */
export async function loadTokenizerFromUrl(baseUrl: string): Promise<PreTrainedTokenizer> {
  const base = folderUrl(baseUrl);
  const files: Record<string, string | Uint8Array> = {};
  for (const name of OPTIONAL_FILES) {
    const res = await fetchFile(base, name, true);
    if (res) files[name] = await res.text();
  }
  const json = await fetchFile(base, 'tokenizer.json', true);
  if (json) files['tokenizer.json'] = await json.text();
  else {
    const spm = await fetchFile(base, 'spm.model', true);
    if (spm) files['spm.model'] = await bytesOf(spm);
    else {
      files['vocab.json'] = await (await fetchFile(base, 'vocab.json'))!.text();
      files['merges.txt'] = await (await fetchFile(base, 'merges.txt'))!.text();
    }
  }
  return AutoTokenizer.fromFiles(files, { label: base });
}
