// rerank: a cross-encoder (a sequence classifier reading query and document as one pair) scores each
// document against the query; results best first, each with its document's index. Scores as
// sentence-transformers' CrossEncoder: one label, the sigmoid of its logit; two labels, the softmax
// probability of label 1 ("relevant"). Several queries at once (a list of { query, documents }, or
// parallel lists of queries and of document lists) run all their pairs together: one ranking per query.
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import { checkText, loadForTask, makePipeline, sigmoid, softmax, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { readTaskOptions, type Activation } from './tasks.ts';
import { sequenceLogits } from './text-classification.ts';

/** One query and the documents to rank against it. */
export interface RerankInput {
  query: string;
  documents: string[];
}

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
  activation?: Activation;
}

export interface RerankPipeline extends PipelineBase {
  /** One query: its documents ranked, best first. */
  (query: string, documents: string[], options?: EitherCase<RerankCallOptions>): Promise<RerankResult[]>;
  (input: RerankInput, options?: EitherCase<RerankCallOptions>): Promise<RerankResult[]>;
  /** Several queries, all their pairs in one run: one ranking per query. */
  (inputs: RerankInput[], options?: EitherCase<RerankCallOptions>): Promise<RerankResult[][]>;
  /** queries[i] ranks documents[i]. */
  (queries: string[], documents: string[][], options?: EitherCase<RerankCallOptions>): Promise<RerankResult[][]>;
  /** The score of each [query, document] pair, in order. */
  score(pairs: [string, string][], options?: EitherCase<RerankCallOptions>): Promise<number[]>;
}

export async function rerankPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<RerankPipeline> {
  const loaded = await loadForTask('rerank', model, 'sequence-classification', options);
  const n = loaded.model.config.num_labels;
  if (n !== 1 && n !== 2) {
    await loaded.model.dispose();
    throw new Error(`rerank: ${loaded.dir} has ${n} labels; a cross-encoder has one (a relevance logit) or two (not relevant, relevant)`);
  }
  const score = async (pairs: [string, string][], opts?: RerankCallOptions): Promise<number[]> => {
    const o = readTaskOptions<RerankCallOptions>('rerank', opts);
    if (!Array.isArray(pairs)) throw new TypeError('rerank: pairs must be a list of [query, document]');
    pairs.forEach((pr, i) => {
      if (!Array.isArray(pr) || pr.length !== 2) throw new TypeError(`rerank: pairs[${i}] must be [query, document]`);
      checkText(pr[0], `rerank: pairs[${i}][0]`);
      checkText(pr[1], `rerank: pairs[${i}][1]`);
    });
    const activation = o.activation ?? 'sigmoid';
    const logits = await sequenceLogits(loaded, pairs, o);
    return logits.map((l) => (n === 2 ? softmax(l)[1]! : activation === 'sigmoid' ? sigmoid(l[0]!) : l[0]!));
  };
  const fn = async (a: string | string[] | RerankInput | RerankInput[], b?: string[] | string[][] | RerankCallOptions, c?: RerankCallOptions) => {
    let inputs: RerankInput[], opts: unknown;
    if (typeof a === 'string') {
      if (!Array.isArray(b)) throw new TypeError('rerank: documents must be a list of strings');
      [inputs, opts] = [[{ query: a, documents: b as string[] }], c];
    } else if (Array.isArray(b)) {
      if (!Array.isArray(a) || a.length !== b.length) throw new TypeError(`rerank: ${Array.isArray(a) ? a.length : 'no list of'} queries for ${b.length} lists of documents`);
      [inputs, opts] = [(a as string[]).map((query, i) => ({ query, documents: b[i] as string[] })), c];
    } else {
      [inputs, opts] = [Array.isArray(a) ? a as RerankInput[] : [a], b];
    }
    const o = readTaskOptions<RerankCallOptions>('rerank', opts);
    inputs.forEach((x, i) => {
      const where = Array.isArray(a) ? `rerank: input ${i}:` : 'rerank:';
      if (!x || typeof x !== 'object') throw new TypeError(`rerank: input ${i} must be { query, documents }`);
      checkText(x.query, `${where} query`);
      if (!Array.isArray(x.documents)) throw new TypeError(`${where} documents must be a list of strings`);
      x.documents.forEach((d, k) => checkText(d, `${where} documents[${k}]`));
    });
    // Every query's pairs in one run, then each query's documents ranked.
    const scores = await score(inputs.flatMap((x) => x.documents.map((d): [string, string] => [x.query, d])), o);
    let at = 0;
    const ranked = inputs.map((x) => {
      const mine = x.documents.map((document, index): RerankResult => ({ index, score: scores[at + index]!, ...(o.returnDocuments ? { document } : {}) }))
        .sort((p, q) => q.score - p.score || p.index - q.index);
      at += x.documents.length;
      return o.topK === undefined ? mine : mine.slice(0, o.topK);
    });
    return Array.isArray(a) ? ranked : ranked[0]!;
  };
  return Object.assign(makePipeline(loaded, fn), { score }) as RerankPipeline;
}
