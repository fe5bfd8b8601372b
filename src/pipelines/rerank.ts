// rerank: a cross-encoder (a sequence classifier reading query and document as one pair) scores each
// document against the query; results best first, each with its document's index. Scores as
// sentence-transformers' CrossEncoder: one label, the sigmoid of its logit; two labels, the softmax
// probability of label 1 ("relevant").
import type { ModelFiles } from '../io/files.ts';
import { checkPositiveInt, checkText, loadForTask, makePipeline, sigmoid, softmax,
  type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { readOptions, RUN_OPTIONS } from './options.ts';
import { sequenceLogits } from './text-classification.ts';

export interface RerankResult {
  /** Position of the document in the input list. */
  index: number;
  score: number;
  document?: string;
}

export interface RerankCallOptions extends RunOptions {
  /** Results to return (default: all). */
  topK?: number;
  /** Include each document's text (default false). */
  returnDocuments?: boolean;
  /** One-label models: 'sigmoid' (default) or 'none' (the raw logit). */
  activation?: 'sigmoid' | 'none';
}

export const RERANK_OPTIONS = [...RUN_OPTIONS, 'topK', 'returnDocuments', 'activation'] as const;

export interface RerankPipeline extends PipelineBase {
  (query: string, documents: string[], options?: RerankCallOptions): Promise<RerankResult[]>;
  /** The score of each [query, document] pair, in order. */
  score(pairs: [string, string][], options?: RerankCallOptions): Promise<number[]>;
}

export async function rerankPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<RerankPipeline> {
  const loaded = await loadForTask('rerank', model, 'sequence-classification', options);
  const n = loaded.model.config.num_labels;
  if (n !== 1 && n !== 2) {
    await loaded.model.dispose();
    throw new Error(`rerank: ${loaded.dir} has ${n} labels; a cross-encoder has one (a relevance logit) or two (not relevant, relevant)`);
  }
  const score = async (pairs: [string, string][], opts?: RerankCallOptions): Promise<number[]> => {
    const o = readOptions<RerankCallOptions>('rerank', opts, RERANK_OPTIONS);
    if (!Array.isArray(pairs)) throw new TypeError('rerank: pairs must be a list of [query, document]');
    pairs.forEach((pr, i) => {
      if (!Array.isArray(pr) || pr.length !== 2) throw new TypeError(`rerank: pairs[${i}] must be [query, document]`);
      checkText(pr[0], `rerank: pairs[${i}][0]`);
      checkText(pr[1], `rerank: pairs[${i}][1]`);
    });
    const activation = o.activation ?? 'sigmoid';
    if (activation !== 'sigmoid' && activation !== 'none') throw new Error(`rerank: activation must be 'sigmoid' or 'none', got ${JSON.stringify(activation)}`);
    const logits = await sequenceLogits(loaded, pairs, o);
    return logits.map((l) => (n === 2 ? softmax(l)[1]! : activation === 'sigmoid' ? sigmoid(l[0]!) : l[0]!));
  };
  const fn = async (query: string, documents: string[], opts?: RerankCallOptions): Promise<RerankResult[]> => {
    const o = readOptions<RerankCallOptions>('rerank', opts, RERANK_OPTIONS);
    checkText(query, 'rerank: query');
    if (!Array.isArray(documents)) throw new TypeError('rerank: documents must be a list of strings');
    documents.forEach((d, i) => checkText(d, `rerank: documents[${i}]`));
    if (o.topK !== undefined) checkPositiveInt(o.topK, 'rerank: topK');
    const scores = await score(documents.map((d) => [query, d]), o);
    const ranked = scores.map((s, index): RerankResult => ({ index, score: s, ...(o.returnDocuments ? { document: documents[index] } : {}) }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
    return o.topK === undefined ? ranked : ranked.slice(0, o.topK);
  };
  return Object.assign(makePipeline(loaded, fn), { score }) as RerankPipeline;
}
