// Checkpoint folders for the pipeline tests: a model and a tokenizer whose vocabularies agree, in one folder.
// - withTinyTokenizer: a transformers-made fixture checkpoint (vocab 128) with a 128-id tokenizer cut from
//   the deberta-v3-unigram fixture (its special tokens, every single character, its most frequent pieces).
// - lookupModel: a model whose logits are a table by token: no layers, word embeddings one-hot in a
//   dimension picked per token, so the embedding LayerNorm gives (e_k - 1/H)/σ and a head whose weight
//   row is σ·T (rows balanced to mean zero in the last dimension) gives exactly T[:, k] (+ bias) for a
//   token in dimension k. Every token not listed shares dimension 0. Used where a test needs outputs it
//   can reason about (QA windows, aggregation strategies).
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/io/safetensors.ts';
import { parseDebertaConfig, writeDebertaConfig } from '../../src/models/deberta/config-file.ts';
import { architectureFor, initWeights } from '../../src/models/deberta/init.ts';
import type { HeadKind } from '../../src/models/deberta/modeling.ts';
import { tensor } from '../../src/tensor.ts';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const UNIGRAM = join(FIXTURES, 'tokenizers', 'deberta-v3-unigram');

const made: string[] = [];
export function tempDir(prefix = 'deberta-pipe-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
/** Removes every folder these helpers made (call from an `after` hook). */
export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

let tinyTokenizer: { json: string; config: string } | null = null;

/** tokenizer.json + tokenizer_config.json of the 128-id tokenizer ([MASK] is id 127). */
function tinyTokenizerFiles(): { json: string; config: string } {
  if (tinyTokenizer) return tinyTokenizer;
  // biome-ignore lint/suspicious/noExplicitAny: tokenizer.json as parsed; the fields used are read below
  const full = JSON.parse(readFileSync(join(UNIGRAM, 'tokenizer.json'), 'utf8')) as Record<string, any>;
  const vocab = full.model.vocab as [string, number][];
  const specials = vocab.slice(0, 4);
  const singles = vocab.slice(4).filter(([p]) => [...p].length === 1);
  const pieces = vocab.slice(4).filter(([p]) => [...p].length > 1).slice(0, 127 - specials.length - singles.length);
  const kept = [...specials, ...vocab.slice(4).filter((v) => singles.includes(v) || pieces.includes(v))];
  if (kept.length !== 127) throw new Error(`tiny tokenizer: ${kept.length} pieces`);
  const added = (full.added_tokens as Record<string, unknown>[]).map((t) => (t.content === '[MASK]' ? { ...t, id: 127 } : t));
  const json = JSON.stringify({ ...full, added_tokens: added, model: { ...full.model, vocab: kept } });
  tinyTokenizer = { json, config: readFileSync(join(UNIGRAM, 'tokenizer_config.json'), 'utf8') };
  return tinyTokenizer;
}

/** A copy of fixture checkpoint `name` (under fixtures/models, or a path) with the 128-id tokenizer; `config` edits config.json. */
export function withTinyTokenizer(name: string, config?: (c: Record<string, unknown>) => void): string {
  const src = existsSync(name) ? name : join(FIXTURES, 'models', name);
  const dir = tempDir();
  const cfg = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8')) as Record<string, unknown>;
  config?.(cfg);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  for (const f of ['model.safetensors', 'pytorch_model.bin']) if (existsSync(join(src, f))) copyFileSync(join(src, f), join(dir, f));
  const tok = tinyTokenizerFiles();
  writeFileSync(join(dir, 'tokenizer.json'), tok.json);
  writeFileSync(join(dir, 'tokenizer_config.json'), tok.config);
  return dir;
}

export interface LookupSpec {
  head: Extract<HeadKind, 'token-classification' | 'question-answering'>;
  /** Output rows of the head (labels; 2 for QA: start, end). */
  outputs: number;
  /** Token id -> the head's logits for that token; tokens not listed get `background`. */
  table: Map<number, number[]>;
  background: number[];
  bias?: number[];
  id2label?: Record<number, string>;
}

const H = 32;

/** A 0-layer checkpoint folder (vocab 8001, the deberta-v3-unigram tokenizer) whose logits follow `spec.table`. */
export function lookupModel(spec: LookupSpec): string {
  if (spec.table.size > H - 2) throw new Error(`lookupModel: at most ${H - 2} listed tokens`);
  const json: Record<string, unknown> = {
    model_type: 'deberta-v2', vocab_size: 8001, hidden_size: H, num_hidden_layers: 0, num_attention_heads: 4, intermediate_size: 64,
    max_position_embeddings: 512, relative_attention: true, position_buckets: 16, pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm',
    share_att_key: true, position_biased_input: false, type_vocab_size: 0, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
    ...(spec.head === 'token-classification' ? { num_labels: spec.outputs } : {}),
    ...(spec.id2label ? { id2label: spec.id2label } : {}),
  };
  const config = parseDebertaConfig(json, 'lookup config');
  config.architectures = [architectureFor(config, spec.head)];
  const weights = initWeights(config, spec.head, 7);
  // One-hot embeddings: listed tokens in dimensions 1.., everything else in dimension 0.
  const dimOf = new Map([...spec.table.keys()].map((id, k) => [id, k + 1]));
  const emb = new Float32Array(8001 * H);
  for (let t = 0; t < 8001; t++) emb[t * H + (dimOf.get(t) ?? 0)] = 1;
  weights.set('deberta.embeddings.word_embeddings.weight', tensor('float32', [8001, H], emb));
  weights.set('deberta.embeddings.LayerNorm.weight', tensor('float32', [H], new Float32Array(H).fill(1)));
  weights.set('deberta.embeddings.LayerNorm.bias', tensor('float32', [H], new Float32Array(H)));
  const sigma = Math.sqrt((1 / H) * (1 - 1 / H));
  const w = new Float32Array(spec.outputs * H);
  for (let o = 0; o < spec.outputs; o++) {
    w[o * H] = sigma * spec.background[o]!;
    for (const [id, logits] of spec.table) w[o * H + dimOf.get(id)!] = sigma * logits[o]!;
    let sum = 0;
    for (let j = 0; j < H - 1; j++) sum += w[o * H + j]!;
    w[o * H + H - 1] = -sum; // row mean zero, so the LayerNorm's -1/H term cancels
  }
  const name = spec.head === 'question-answering' ? 'qa_outputs' : 'classifier';
  weights.set(`${name}.weight`, tensor('float32', [spec.outputs, H], w));
  weights.set(`${name}.bias`, tensor('float32', [spec.outputs], Float32Array.from(spec.bias ?? new Array(spec.outputs).fill(0))));
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  writeDebertaConfig(dir, config);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(UNIGRAM, f), join(dir, f));
  return dir;
}

/** Softmax in float64, for expected values computed in the tests. */
export function softmaxRef(x: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(x));
  const e = Array.from(x, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
