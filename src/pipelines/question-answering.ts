// question-answering (extractive), as transformers' QuestionAnsweringPipeline: the question and the context
// go in as a pair; a context too long for `maxSeqLen` is cut into windows that overlap by `docStride`
// tokens, so an answer cut by one window's edge lies whole in the next. In each window the start and end
// logits of the context tokens (and [CLS]) go through a softmax; a span scores start × end probability,
// at most `maxAnswerLen` tokens long. The best spans of all windows compete; with
// `handleImpossibleAnswer`, the empty answer competes too, scored by the lowest [CLS]×[CLS] of any window.
// Answers are character spans of the context (JavaScript string indices), leading and trailing spaces
// left out. Unlike transformers, a span found in two overlapping windows is listed once (its best score).
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import { checkText, loadForTask, makePipeline, output, rowOf, runRows, softmax, trimSpan,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { qaWindow, readTaskOptions } from './tasks.ts';

export interface QuestionAnsweringInput {
  question: string;
  context: string;
}

export interface QuestionAnsweringResult {
  score: number;
  /** Character offsets of the answer in the context; 0 and 0 for "no answer". */
  start: number;
  end: number;
  answer: string;
}

export interface QuestionAnsweringCallOptions extends RunOptions {
  /** Answers to return (default 1: one answer object; more: a list, best first). */
  topK?: number;
  /** Tokens of the question + context windows, special tokens included (default min(maxLength, 384)). */
  maxSeqLen?: number;
  /** Tokens shared by consecutive windows (default min(maxSeqLen / 2, 128)). */
  docStride?: number;
  /** Longest answer in tokens (default 15). */
  maxAnswerLen?: number;
  /** Let "no answer" (the empty string) compete (default false). */
  handleImpossibleAnswer?: boolean;
}

export type QuestionAnsweringOutput = QuestionAnsweringResult | QuestionAnsweringResult[];

export interface QuestionAnsweringPipeline extends PipelineBase {
  (question: string, context: string, options?: EitherCase<QuestionAnsweringCallOptions>): Promise<QuestionAnsweringOutput>;
  (input: QuestionAnsweringInput, options?: EitherCase<QuestionAnsweringCallOptions>): Promise<QuestionAnsweringOutput>;
  (inputs: QuestionAnsweringInput[], options?: EitherCase<QuestionAnsweringCallOptions>): Promise<QuestionAnsweringOutput[]>;
  /** transformers.js' batch: questions[i] is asked of contexts[i]. */
  (questions: string[], contexts: string[], options?: EitherCase<QuestionAnsweringCallOptions>): Promise<QuestionAnsweringOutput[]>;
}

export async function questionAnsweringPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<QuestionAnsweringPipeline> {
  const loaded = await loadForTask('question-answering', model, 'question-answering', options);
  const fn = async (a: string | string[] | QuestionAnsweringInput | QuestionAnsweringInput[], b?: string | string[] | QuestionAnsweringCallOptions,
    c?: QuestionAnsweringCallOptions) => {
    const read = (o: unknown) => readTaskOptions<QuestionAnsweringCallOptions>('question-answering', o);
    if (typeof a === 'string') {
      if (typeof b !== 'string') throw new TypeError('question-answering: call with (question, context), ({ question, context }) or a list of them');
      return (await answer(loaded, [{ question: a, context: b }], read(c)))[0]!;
    }
    // transformers.js' batch: a list of questions and a list of contexts.
    if (Array.isArray(b)) {
      if (!Array.isArray(a) || a.length !== b.length) throw new TypeError(`question-answering: ${Array.isArray(a) ? a.length : 'no list of'} questions for ${b.length} contexts`);
      return answer(loaded, a.map((question, i) => ({ question: question as string, context: b[i]! })), read(c));
    }
    const out = await answer(loaded, (Array.isArray(a) ? a : [a]) as QuestionAnsweringInput[], read(b));
    return Array.isArray(a) ? out : out[0]!;
  };
  return makePipeline(loaded, fn) as QuestionAnsweringPipeline;
}

interface Window {
  sample: number;
  ids: number[];
  typeIds: number[];
  offsets: [number, number][];
  /** Tokens that may be part of an answer: those of the context. */
  inContext: boolean[];
}

async function answer(p: Loaded, inputs: QuestionAnsweringInput[], o: QuestionAnsweringCallOptions): Promise<QuestionAnsweringOutput[]> {
  const topK = o.topK ?? 1;
  const maxAnswerLen = o.maxAnswerLen ?? 15;
  const { maxSeqLen, docStride } = qaWindow(p.maxLength, o);
  if (docStride >= maxSeqLen) throw new Error(`question-answering: docStride (${docStride}) must be smaller than maxSeqLen (${maxSeqLen})`);
  if (maxSeqLen > p.maxLength) throw new Error(`question-answering: maxSeqLen (${maxSeqLen}) exceeds the pipeline's maxLength (${p.maxLength})`);

  const windows = inputs.flatMap((x, i) => encode(p, x, i, maxSeqLen, docStride));
  const cls = p.tokenizer.settings.special.cls === undefined ? -1 : p.tokenizer.clsTokenId;
  const perWindow = await runRows(p.model, windows, p.tokenizer.padTokenId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress },
    (out, b, k) => {
      const w = windows[k]!;
      const n = w.ids.length;
      // [CLS] stays in the softmax (it carries "no answer"); question and other special tokens do not.
      const allowed = (i: number) => w.inContext[i]! || w.ids[i] === cls;
      const masked = (t: Float32Array) => Array.from(t.subarray(0, n), (v, i) => (allowed(i) ? v : -10000));
      const start = softmax(masked(rowOf(output(out, 'startLogits'), b)));
      const end = softmax(masked(rowOf(output(out, 'endLogits'), b)));
      const nullScore = start[0]! * end[0]!;
      const spans: { s: number; e: number; score: number }[] = [];
      for (let s = 0; s < n; s++) {
        if (!w.inContext[s]) continue;
        for (let e = s; e < Math.min(n, s + maxAnswerLen); e++) {
          if (w.inContext[e]) spans.push({ s, e, score: start[s]! * end[e]! });
        }
      }
      spans.sort((x, y) => y.score - x.score);
      return { nullScore, spans: spans.slice(0, topK) };
    });

  const bySample = inputs.map((): number[] => []);
  windows.forEach((w, k) => bySample[w.sample]!.push(k));
  return inputs.map((x, i) => {
    const best = new Map<string, QuestionAnsweringResult>();
    let nullScore = Infinity;
    bySample[i]!.forEach((k) => {
      const w = windows[k]!, r = perWindow[k]!;
      nullScore = Math.min(nullScore, r.nullScore);
      for (const { s, e, score } of r.spans) {
        const [cs, ce] = trimSpan(x.context, w.offsets[s]![0], w.offsets[e]![1]);
        const key = `${cs}:${ce}`;
        if ((best.get(key)?.score ?? -1) < score) best.set(key, { score, start: cs, end: ce, answer: x.context.slice(cs, ce) });
      }
    });
    const answers = [...best.values()];
    if (o.handleImpossibleAnswer) answers.push({ score: nullScore, start: 0, end: 0, answer: '' });
    answers.sort((a, b) => b.score - a.score);
    if (answers.length === 0) answers.push({ score: 0, start: 0, end: 0, answer: '' }); // a context of special tokens only
    return topK === 1 ? answers[0]! : answers.slice(0, topK);
  });
}

/** The windows of one question and context: the context truncated with overflow, the question whole. */
function encode(p: Loaded, x: QuestionAnsweringInput, sample: number, maxSeqLen: number, docStride: number): Window[] {
  if (!x || typeof x !== 'object') throw new TypeError(`question-answering: input ${sample} must be { question, context }`);
  checkText(x.question, `question-answering: input ${sample}: question`);
  checkText(x.context, `question-answering: input ${sample}: context`);
  if (x.question.trim() === '') throw new Error(`question-answering: input ${sample}: question is empty`);
  if (x.context.trim() === '') throw new Error(`question-answering: input ${sample}: context is empty`);
  const { tokenizer } = p;
  // transformers puts the question first when the tokenizer pads on the right (as DeBERTa's do).
  const questionFirst = tokenizer.settings.paddingSide === 'right';
  const pair: [string, string] = questionFirst ? [x.question, x.context] : [x.context, x.question];
  const question = tokenizer.encode(x.question, null, { addSpecialTokens: false }).length;
  const room = maxSeqLen - question - (tokenizer.pipeline.postProcessor?.addedTokens(true) ?? 0);
  // Windows are needed only when the context does not fit; then they must advance (room > stride).
  const fits = tokenizer.encode(x.context, null, { addSpecialTokens: false }).length <= room;
  if (!fits && room <= docStride) {
    throw new Error(`question-answering: input ${sample}: the question takes ${question} of maxSeqLen ${maxSeqLen} tokens, leaving ${Math.max(room, 0)} for the context; docStride (${docStride}) must be smaller than that`);
  }
  const enc = tokenizer.encodeBatch([pair], {
    truncation: questionFirst ? 'only_second' : 'only_first', maxLength: maxSeqLen, stride: docStride, returnOverflowingTokens: true,
    returnOffsets: true, offsetUnits: 'utf16', returnSequenceIds: true,
  });
  const contextSeq = questionFirst ? 1 : 0;
  return enc.inputIds.map((ids, k) => ({
    sample, ids, typeIds: enc.tokenTypeIds[k]!, offsets: enc.offsets![k]!,
    inContext: enc.sequenceIds![k]!.map((s) => s === contextSeq),
  }));
}
