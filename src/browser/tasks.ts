// Fill-mask and text classification over a model and its tokenizer, shaped like transformers'
// pipelines (`fill-mask`, `text-classification` with all labels). No file system or ONNX Runtime
// build of their own: the same code runs in Node and in the browser bundle.
import type { DebertaModel } from '../models/create.ts';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.ts';

export interface FillMaskCandidate {
  /** Probability of this token at the masked position. */
  score: number;
  token: number;
  token_str: string;
  /** The text with the mask replaced by this token (special tokens skipped). */
  sequence: string;
}

export interface LabelScore { label: string; score: number }

function softmax(logits: ArrayLike<number>, from = 0, size = logits.length): number[] {
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, logits[from + i]!);
  const e = Array.from({ length: size }, (_, i) => Math.exp(logits[from + i]! - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

async function run(model: DebertaModel, tokenizer: PreTrainedTokenizer, text: string) {
  const enc = tokenizer(text);
  const out = await model({ inputIds: enc.inputIds, attentionMask: enc.attentionMask, tokenTypeIds: enc.tokenTypeIds });
  return { ids: enc.inputIds[0]!, logits: out.logits! };
}

/** The `topK` most likely tokens for each mask token in `text` (one list per mask, in text order). */
export async function fillMask(model: DebertaModel, tokenizer: PreTrainedTokenizer, text: string, topK = 5): Promise<FillMaskCandidate[][]> {
  if (model.head !== 'masked-lm') throw new Error(`fill-mask needs a masked-LM model, not '${model.head}'`);
  const maskId = tokenizer.maskTokenId;
  const { ids, logits } = await run(model, tokenizer, text);
  const positions = ids.flatMap((id, i) => (id === maskId ? [i] : []));
  if (!positions.length) throw new Error(`fill-mask: the text has no ${tokenizer.maskToken} token`);
  const vocab = logits.dims[2]!;
  return positions.map((pos) => {
    const probs = softmax(logits.data, pos * vocab, vocab);
    const order = probs.map((p, id) => [p, id] as const).sort((a, b) => b[0] - a[0]).slice(0, topK);
    return order.map(([score, token]) => {
      const filled = ids.map((id, i) => (i === pos ? token : id));
      return { score, token, token_str: tokenizer.decode([token]), sequence: tokenizer.decode(filled, { skipSpecialTokens: true }) };
    });
  });
}

/**
 * Every label of a sequence classifier with its score, best first: softmax over the logits, sigmoid for
 * multi-label models and for a single output, as transformers' text-classification pipeline applies them.
 */
export async function classify(model: DebertaModel, tokenizer: PreTrainedTokenizer, text: string): Promise<LabelScore[]> {
  if (model.head !== 'sequence-classification') throw new Error(`classification needs a sequence-classification model, not '${model.head}'`);
  const { logits } = await run(model, tokenizer, text);
  const c = model.config;
  const n = logits.dims[1]!;
  const row = Array.from(logits.data.subarray(0, n));
  const sigmoid = c.problem_type === 'multi_label_classification' || n === 1;
  const scores = sigmoid ? row.map((x) => 1 / (1 + Math.exp(-x))) : softmax(row);
  return scores.map((score, i) => ({ label: c.id2label[i] ?? `LABEL_${i}`, score })).sort((a, b) => b.score - a.score);
}
