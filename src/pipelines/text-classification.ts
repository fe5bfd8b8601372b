// text-classification: labels of a text or a text pair, as transformers' TextClassificationPipeline. The
// scores come from a softmax, a sigmoid or the raw logits, chosen from the config's problem_type (or
// num_labels) unless `functionToApply` says otherwise; labels from id2label.
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import type { DebertaModel } from '../models/auto.ts';
import { checkText, labelOf, loadForTask, makePipeline, output, rowOf, runRows, sigmoid, softmax,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { FUNCTIONS_TO_APPLY, readTaskOptions, type FunctionToApply } from './tasks.ts';

export type { FunctionToApply } from './tasks.ts';
/** A text, or a pair (`text_pair` is accepted as well, as in Hugging Face's JSON). */
export type TextClassificationInput = string | { text: string; textPair?: string; text_pair?: string };

export interface ClassificationResult {
  label: string;
  score: number;
}

export interface TextClassificationCallOptions extends RunOptions {
  /** Labels to return, best first (default 1; null: all of them). */
  topK?: number | null;
  /** Default: 'none' for regression, 'sigmoid' for multi-label or a single label, else 'softmax'. */
  functionToApply?: FunctionToApply;
}

export interface TextClassificationPipeline extends PipelineBase {
  /** One text: its top `topK` labels, best first (one label by default). */
  (input: TextClassificationInput, options?: EitherCase<TextClassificationCallOptions>): Promise<ClassificationResult[]>;
  /** Several texts, as transformers.js returns them: one label each (flat) for `topK` 1, the default; else a list per text. */
  (inputs: TextClassificationInput[], options?: EitherCase<TextClassificationCallOptions> & { topK?: 1; top_k?: 1 }): Promise<ClassificationResult[]>;
  (inputs: TextClassificationInput[], options: EitherCase<TextClassificationCallOptions>): Promise<ClassificationResult[] | ClassificationResult[][]>;
  /** One list of labels per input, whatever `topK` (what the server and the command line use). */
  run(inputs: TextClassificationInput[], options?: EitherCase<TextClassificationCallOptions>): Promise<ClassificationResult[][]>;
}

export async function textClassificationPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<TextClassificationPipeline> {
  const loaded = await loadForTask('text-classification', model, 'sequence-classification', options);
  const run = async (inputs: TextClassificationInput[], opts?: TextClassificationCallOptions) => {
    if (!Array.isArray(inputs)) throw new TypeError('text-classification: run takes a list of inputs');
    const o = readTaskOptions<TextClassificationCallOptions>('text-classification', opts);
    return classify(loaded, inputs.map((x, i) => pairOf(x, `text-classification: input ${i}`)), o);
  };
  const fn = async (input: TextClassificationInput | TextClassificationInput[], opts?: TextClassificationCallOptions) => {
    const out = await run(Array.isArray(input) ? input : [input], opts);
    if (!Array.isArray(input)) return out[0]!;
    const o = readTaskOptions<TextClassificationCallOptions>('text-classification', opts);
    return o.topK === undefined || o.topK === 1 ? out.map((labels) => labels[0]!) : out;
  };
  return Object.assign(makePipeline(loaded, fn), { run }) as TextClassificationPipeline;
}

/** transformers' choice of function when none is given. */
export function defaultFunction(model: DebertaModel): FunctionToApply {
  const { problem_type: problem, num_labels: n } = model.config;
  if (problem === 'regression') return 'none';
  if (problem === 'multi_label_classification' || n === 1) return 'sigmoid';
  return 'softmax';
}

export function applyFunction(logits: ArrayLike<number>, fn: FunctionToApply): number[] {
  if (fn === 'softmax') return softmax(logits);
  if (fn === 'sigmoid') return Array.from(logits, sigmoid);
  if (fn === 'none') return Array.from(logits);
  throw new Error(`unknown functionToApply ${JSON.stringify(fn)} (expected one of ${FUNCTIONS_TO_APPLY.join(', ')})`);
}

/** Logits of each [text, pair] item, one Float32Array per item (shared by text classification and rerank). */
export async function sequenceLogits(p: Loaded, items: [string, string | null][], o: RunOptions): Promise<Float32Array[]> {
  const enc = p.tokenizer.encodeBatch(items, { truncation: true, maxLength: p.maxLength });
  const rows = enc.inputIds.map((ids, i) => ({ ids, typeIds: enc.tokenTypeIds[i]! }));
  return runRows(p.model, rows, p.tokenizer.padTokenId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress },
    (out, b) => rowOf(output(out, 'logits'), b).slice());
}

async function classify(p: Loaded, items: [string, string | null][], o: TextClassificationCallOptions): Promise<ClassificationResult[][]> {
  const fn = o.functionToApply ?? defaultFunction(p.model);
  const topK = o.topK === undefined ? 1 : o.topK;
  const logits = await sequenceLogits(p, items, o);
  return logits.map((l) => {
    const ranked = applyFunction(l, fn).map((score, i) => ({ label: labelOf(p.model, i), score }))
      .sort((a, b) => b.score - a.score);
    return topK === null ? ranked : ranked.slice(0, topK);
  });
}

function pairOf(x: TextClassificationInput, where: string): [string, string | null] {
  if (typeof x === 'string') return [x, null];
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new TypeError(`${where} must be a string or { text, textPair }`);
  checkText(x.text, `${where}: text`);
  const pair = x.textPair ?? x.text_pair;
  if (pair !== undefined && pair !== null) checkText(pair, `${where}: textPair`);
  return [x.text, pair ?? null];
}
