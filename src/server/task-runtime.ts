// What runs a batch of one task over a loaded pipeline, wherever it runs (a worker thread or the calling
// thread): the request's snake_case options become the pipeline's camelCase ones, inputs the model cannot
// take are found before the run (each fails alone, 422), and a run that fails is retried input by input so
// that only the inputs that fail lose their results. `describeRunner` gives the facts the main thread
// needs to validate requests without a tokenizer of its own.
import type {
  AnyPipeline, FeatureExtractionPipeline, FillMaskPipeline, QuestionAnsweringPipeline, RerankPipeline, Task, TextClassificationInput, TextClassificationPipeline,
  ZeroShotClassificationPipeline,
} from '../pipelines/index.ts';
import { ItemFailure } from './types.ts';

type Options = Record<string, unknown> | undefined;

/** What request validation needs to know of a loaded pipeline (plain data: it crosses threads). */
export interface RunnerInfo {
  task: string;
  /** Longest row in tokens. */
  maxLength: number;
  /** Special tokens the tokenizer adds to one text, and to a pair. */
  addedSingle: number;
  addedPair: number;
  maskToken?: string;
  /** zero-shot: whether the model has a contradiction label (multi_label and single labels need one). */
  hasContradiction?: boolean;
  /** The model's labels, by class index (classification heads). */
  labels?: string[];
}

/** `top_k` → `topK`, for every key. */
export function camelOptions(o: Options): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

export function describeRunner(task: Task, p: AnyPipeline): RunnerInfo {
  const post = p.tokenizer.pipeline.postProcessor;
  const info: RunnerInfo = {
    task, maxLength: p.maxLength, addedSingle: post?.addedTokens(false) ?? 0, addedPair: post?.addedTokens(true) ?? 0,
  };
  const id2label = p.model.config.id2label as Record<number, string> | undefined;
  if (id2label && Object.keys(id2label).length > 0) info.labels = Object.values(id2label);
  if (task === 'fill-mask') info.maskToken = (p as FillMaskPipeline).tokenizer.maskToken;
  if (task === 'zero-shot-classification') info.hasContradiction = (p as ZeroShotClassificationPipeline).contradictionId !== null;
  return info;
}

type Call = (items: unknown[], options: Record<string, unknown>) => Promise<unknown[]>;

/** One pipeline call over the items, with the task's adaptations (zero-shot labels, rerank pairs). */
function callPipeline(task: Task, p: AnyPipeline, items: unknown[], options: Options): Promise<unknown[]> {
  if (task === 'zero-shot-classification') {
    const { candidateLabels, ...rest } = camelOptions(options);
    return (p as ZeroShotClassificationPipeline)(items as string[], candidateLabels as string[], rest);
  }
  if (task === 'rerank') return rerank(p as RerankPipeline, items as { query: string; documents: string[] }[], camelOptions(options));
  // One result per input: the pipelines' `run` where their transformers.js-style call nests otherwise.
  if (task === 'text-classification') return (p as TextClassificationPipeline).run(items as TextClassificationInput[], camelOptions(options));
  if (task === 'feature-extraction') return (p as FeatureExtractionPipeline).run(items as string[], camelOptions(options));
  return (p as unknown as Call)(items, camelOptions(options));
}

/** All items' (query, document) pairs scored in one call, then each item's documents ranked. */
async function rerank(p: RerankPipeline, items: { query: string; documents: string[] }[], o: Record<string, unknown>): Promise<unknown[]> {
  const pairs = items.flatMap((it) => it.documents.map((d): [string, string] => [it.query, d]));
  const scores = await p.score(pairs, { activation: o.activation as 'sigmoid' | 'none' | undefined });
  let at = 0;
  return items.map((it) => {
    const ranked = it.documents
      .map((document, index) => ({ index, score: scores[at + index]!, ...(o.returnDocuments ? { document } : {}) }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
    at += it.documents.length;
    return o.topK === undefined ? ranked : ranked.slice(0, o.topK as number);
  });
}

/**
 * Checks that need the tokenizer, before the run: an option the model cannot use fails every item (they
 * share options); an input it cannot take fails alone. Returns one failure or undefined per item.
 */
export function precheck(task: Task, p: AnyPipeline, items: unknown[], options: Options): (ItemFailure | undefined)[] {
  const none = items.map((): ItemFailure | undefined => undefined);
  if (task === 'fill-mask') {
    const targets = (options?.targets as string[] | undefined) ?? [];
    const vocab = p.tokenizer.getVocab();
    for (const [i, t] of targets.entries()) {
      if (vocab.get(t) === undefined && p.tokenizer.encode(t, null, { addSpecialTokens: false }).length === 0) {
        return items.map(() => new ItemFailure(422, `options.targets[${i}] ${JSON.stringify(t)} gives no token; use a word`));
      }
    }
  }
  if (task === 'question-answering') {
    const qa = p as QuestionAnsweringPipeline;
    const maxSeqLen = (options?.max_seq_len as number | undefined) ?? Math.min(qa.maxLength, 384);
    const stride = (options?.doc_stride as number | undefined) ?? Math.min(Math.floor(maxSeqLen / 2), 128);
    const added = qa.tokenizer.pipeline.postProcessor?.addedTokens(true) ?? 0;
    return items.map((item) => {
      const { question, context } = item as { question: string; context: string };
      const q = qa.tokenizer.encode(question, null, { addSpecialTokens: false }).length;
      const room = maxSeqLen - q - added;
      if (room > stride) return undefined;
      if (qa.tokenizer.encode(context, null, { addSpecialTokens: false }).length <= room) return undefined;
      const most = Math.max(0, maxSeqLen - added - stride - 1);
      return new ItemFailure(422, `has ${q} tokens; with max_seq_len ${maxSeqLen} and doc_stride ${stride} a question may have at most ${most}`, '.question');
    });
  }
  return none;
}

/**
 * Runs the items; a failed item's place holds an ItemFailure. A failing run is retried item by item, so a
 * bad input costs its own request only.
 */
export async function runTask(task: Task, p: AnyPipeline, items: unknown[], options: Options): Promise<unknown[]> {
  const out: unknown[] = precheck(task, p, items, options);
  const todo = items.map((_, i) => i).filter((i) => out[i] === undefined);
  if (todo.length === 0) return out;
  try {
    const got = await callPipeline(task, p, todo.map((i) => items[i]), options);
    todo.forEach((i, k) => { out[i] = got[k]; });
  } catch (err) {
    if (todo.length === 1) {
      out[todo[0]!] = failed(err);
    } else {
      for (const i of todo) {
        try {
          out[i] = (await callPipeline(task, p, [items[i]], options))[0];
        } catch (e) {
          out[i] = failed(e);
        }
      }
    }
  }
  return out;
}

function failed(err: unknown): ItemFailure {
  return new ItemFailure(500, `inference failed: ${err instanceof Error ? err.message : String(err)}`, ':');
}
