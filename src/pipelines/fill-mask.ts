// fill-mask: the most likely tokens at each mask token, as transformers' FillMaskPipeline: a softmax over
// the vocabulary at the masked position, the top k (or the given targets), each with the text it gives.
// Checkpoints with the Enhanced Mask Decoder need nothing here: the model applies it.
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import { checkText, loadForTask, makePipeline, output, runRows, softmax, rowOf, topIndices,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { readTaskOptions } from './tasks.ts';

export interface FillMaskResult {
  score: number;
  /** Token id. */
  token: number;
  /** The token decoded. */
  token_str: string;
  /** The input with the mask replaced by this token, decoded. */
  sequence: string;
}

/** One mask: its candidates, best first. Several masks in a text: one list per mask, in text order. */
export type FillMaskOutput = FillMaskResult[] | FillMaskResult[][];

export interface FillMaskCallOptions extends RunOptions {
  /** Candidates per mask (default 5). */
  topK?: number;
  /** Score only these words (each a vocabulary token, else the first token of its tokenisation). */
  targets?: string[];
}

export interface FillMaskPipeline extends PipelineBase {
  (text: string, options?: EitherCase<FillMaskCallOptions>): Promise<FillMaskOutput>;
  (texts: string[], options?: EitherCase<FillMaskCallOptions>): Promise<FillMaskOutput[]>;
}

export async function fillMaskPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<FillMaskPipeline> {
  // The model predicts at the mask token only (fails early, naming the tokenizer, if it has none).
  const loaded = await loadForTask('fill-mask', model, 'masked-lm', options, (t) => ({ maskLogitsFor: t.maskTokenId }));
  const maskId = loaded.tokenizer.maskTokenId;
  const fn = async (input: string | string[], opts?: FillMaskCallOptions) => {
    const texts = Array.isArray(input) ? input : [input];
    const out = await fillMask(loaded, maskId, texts, readTaskOptions('fill-mask', opts));
    return Array.isArray(input) ? out : out[0]!;
  };
  return makePipeline(loaded, fn) as FillMaskPipeline;
}

async function fillMask(p: Loaded, maskId: number, texts: string[], o: FillMaskCallOptions): Promise<FillMaskOutput[]> {
  const { tokenizer, model } = p;
  texts.forEach((t, i) => checkText(t, `fill-mask: input ${i}`));
  const topK = o.topK ?? 5;
  const targets = o.targets ? targetIds(p, o.targets) : null;
  const enc = tokenizer.encodeBatch(texts.map((t) => [t, null]), { truncation: true, maxLength: p.maxLength });
  const masks = enc.inputIds.map((ids, i) => {
    const at = ids.flatMap((id, k) => (id === maskId ? [k] : []));
    if (at.length === 0) {
      const why = texts[i]!.includes(tokenizer.maskToken) ? `its mask token lies beyond maxLength (${p.maxLength} tokens)` : `it has no mask token; write ${tokenizer.maskToken} where the word to predict goes`;
      throw new Error(`fill-mask: input ${i} cannot be filled: ${why}`);
    }
    return at;
  });
  const rows = enc.inputIds.map((ids, i) => ({ ids, typeIds: enc.tokenTypeIds[i]! }));
  const padId = tokenizer.padTokenId;
  // mask_logits has one row per mask token of the batch, row by row: `first` counts those of the rows before.
  let first = 0;
  return runRows(model, rows, padId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress }, (out, b, i) => {
    const logits = output(out, 'maskLogits');
    if (b === 0) first = 0;
    const ids = rows[i]!.ids;
    const single = masks[i]!.length === 1;
    const perMask = masks[i]!.map((pos, k) => {
      let probs = softmax(rowOf(logits, first + k));
      let vocab: number[] | null = null;
      if (targets) {
        vocab = targets;
        probs = targets.map((id) => probs[id]!);
      }
      return topIndices(probs, topK).map((k): FillMaskResult => {
        const token = vocab ? vocab[k]! : k;
        // transformers drops padding and, with several masks, keeps the special tokens in `sequence`.
        const filled = ids.map((id, j) => (j === pos ? token : id)).filter((id) => id !== padId);
        return { score: probs[k]!, token, token_str: tokenizer.decode([token]), sequence: tokenizer.decode(filled, { skipSpecialTokens: single }) };
      });
    });
    first += masks[i]!.length;
    return single ? perMask[0]! : perMask;
  });
}

/** Ids of the target words: the vocabulary entry when there is one, else the first token of the word. */
function targetIds(p: Loaded, targets: string[]): number[] {
  const vocab = p.tokenizer.getVocab();
  const ids: number[] = [];
  targets.forEach((t) => {
    let id = vocab.get(t);
    if (id === undefined) {
      id = p.tokenizer.encode(t, null, { addSpecialTokens: false })[0];
      if (id === undefined) throw new Error(`fill-mask: target ${JSON.stringify(t)} gives no token`);
    }
    if (!ids.includes(id)) ids.push(id);
  });
  return ids;
}
