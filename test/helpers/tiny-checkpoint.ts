// A small random DeBERTa-v3-shaped checkpoint over the fixture v3 unigram tokenizer (8001 ids), written to
// a folder with its tokenizer files, so pipelines (and `deberta serve`) load it like a Hub checkpoint.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initCheckpoint } from '../../src/cli/commands/init.ts';

export const TOKENIZER = resolve('test/fixtures/tokenizers/deberta-v3-unigram');

export interface TinyOptions {
  architecture: string;
  labels?: string[];
  hiddenSize?: number;
  layers?: number;
  seed?: number;
}

export function writeTinyCheckpoint(dir: string, o: TinyOptions): string {
  const hidden = o.hiddenSize ?? 32;
  const labels = o.labels ? {
    id2label: Object.fromEntries(o.labels.map((l, i) => [i, l])),
    label2id: Object.fromEntries(o.labels.map((l, i) => [l, i])),
  } : {};
  const config = {
    model_type: 'deberta-v2', architectures: [o.architecture], vocab_size: 8001, hidden_size: hidden,
    num_hidden_layers: o.layers ?? 2, num_attention_heads: 4, intermediate_size: hidden * 4, hidden_act: 'gelu',
    max_position_embeddings: 512, type_vocab_size: 0, relative_attention: true, position_buckets: 16,
    max_relative_positions: -1, pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true,
    position_biased_input: false, layer_norm_eps: 1e-7, pad_token_id: 0, initializer_range: 0.5, legacy: true,
    ...labels,
  };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'init-config.json');
  writeFileSync(file, JSON.stringify(config));
  initCheckpoint({ config: file, out: dir, seed: o.seed ?? 1, tokenizer: TOKENIZER });
  rmSync(file);
  return dir;
}
