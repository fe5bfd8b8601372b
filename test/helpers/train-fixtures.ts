// What the trainer tests train on: sentences labelled by a word they contain, as JSONL, and a tiny
// DeBERTa-v2 checkpoint over the fixture unigram tokenizer (8001 ids) to start from.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initCheckpoint } from '../../src/cli/commands/init.ts';
import { Rng } from '../../src/util/random.ts';

export const TOKENIZER_DIR = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'deberta-v3-unigram');

export const WORDS = ['the', 'a', 'film', 'day', 'food', 'was', 'is', 'very', 'quite', 'and', 'service', 'story'];

/** Sentences of 7 to 12 words labelled by whether they contain "great" or "awful". */
export function labelledSentences(n: number, seed: number): { text: string; label: string }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const good = rng.uniform() < 0.5;
    const words = Array.from({ length: 6 + rng.int(6) }, () => WORDS[rng.int(WORDS.length)]!);
    words.splice(rng.int(words.length), 0, good ? 'great' : 'awful');
    return { text: words.join(' '), label: good ? 'good' : 'bad' };
  });
}

/** Rows written as JSONL to `file`, which is returned. */
export function writeJsonl(file: string, rows: unknown[]): string {
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  return file;
}

/**
 * A hidden-32, 2-head checkpoint at `dir`/init (its config at `dir`/config.json) with `head` ('base': none);
 * dropout 0.1 unless `dropout` says otherwise.
 */
export function tinyTrainCheckpoint(dir: string, o: { head: string; layers: number; seed: number; dropout?: number }): string {
  const dropout = o.dropout ?? 0.1;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 32, num_hidden_layers: o.layers, num_attention_heads: 2,
    intermediate_size: 64, max_position_embeddings: 64, relative_attention: true, position_buckets: 16,
    pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true, position_biased_input: false,
    hidden_dropout_prob: dropout, attention_probs_dropout_prob: dropout,
  }));
  const out = join(dir, 'init');
  initCheckpoint({ config: join(dir, 'config.json'), out, seed: o.seed, head: o.head as never, tokenizer: TOKENIZER_DIR });
  return out;
}
