// transformers.js (@huggingface/transformers) on the peer graph, end to end: its tokenizer, its model
// wrapper, the same onnxruntime-node underneath. It loads a local folder laid out as a Hub repo.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Peer } from './peer-weights.ts';

export const TOKENIZER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'tokenizers', 'deberta-v3-unigram');

type Tjs = typeof import('@huggingface/transformers');
export type TjsTokenizer = Awaited<ReturnType<Tjs['AutoTokenizer']['from_pretrained']>>;
export type TjsModel = Awaited<ReturnType<Tjs['AutoModelForSequenceClassification']['from_pretrained']>>;

let lib: Tjs | undefined;
async function tjs(): Promise<Tjs> {
  if (!lib) {
    lib = await import('@huggingface/transformers');
    lib.env.allowRemoteModels = false;
    lib.env.allowLocalModels = true;
  }
  return lib;
}

/** config.json, the tokenizer files, onnx/model.onnx and onnx/model.onnx_data (links to the peer's). */
export function tjsFolder(peer: Peer): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `deberta-bench-tjs-${peer.shape}-`));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(peer.configJson, null, 2));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER_DIR, f), join(dir, f));
  mkdirSync(join(dir, 'onnx'));
  symlinkSync(peer.onnxPath, join(dir, 'onnx', 'model.onnx'));
  symlinkSync(join(peer.dir, 'model.onnx_data'), join(dir, 'onnx', 'model.onnx_data'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function useFolder(dir: string): Promise<{ lib: Tjs; id: string }> {
  const lib = await tjs();
  lib.env.localModelPath = dirname(dir);
  return { lib, id: basename(dir) };
}

export async function tjsTokenizer(dir: string): Promise<TjsTokenizer> {
  const { lib, id } = await useFolder(dir);
  return lib.AutoTokenizer.from_pretrained(id);
}

export async function tjsModel(dir: string, threads: number): Promise<TjsModel> {
  const { lib, id } = await useFolder(dir);
  return lib.AutoModelForSequenceClassification.from_pretrained(id, {
    dtype: 'fp32', device: 'cpu', use_external_data_format: true,
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
}

/** Tokenise (pad and truncate to `seq`) and classify: what a transformers.js user runs. */
export async function tjsEndToEnd(tokenizer: TjsTokenizer, model: TjsModel, texts: string[], seq: number): Promise<Float32Array> {
  const inputs = tokenizer(texts, { padding: true, truncation: true, max_length: seq });
  const out = await model(inputs);
  return out.logits.data as Float32Array;
}
