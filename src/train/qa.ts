// Extractive question answering with contexts longer than one sequence: each example becomes windows
// of the context (overlapping by the doc stride) after the question, each labelled with the answer's
// token span when the whole answer lies inside it, else with [CLS] (index 0), as transformers' run_qa
// labels them. Evaluation takes, per example, the best span over all its windows.
import type { EncodedPair, Feature, QaExample, TextEncoder } from './data.ts';

export interface WindowOptions { maxLength: number; docStride?: number; file: string }

/** The features of one example: one per window (one window, truncated, when `docStride` is not given). */
export function qaFeatures(x: QaExample, index: number, enc: TextEncoder, o: WindowOptions): Feature[] {
  // run_qa strips the question's leading spaces: they only waste room in the window.
  const question = x.question.trimStart();
  let windows: EncodedPair[];
  try {
    windows = o.docStride === undefined
      ? [enc.encode(question, x.context, o.maxLength, 'only_second')]
      : enc.encodeWindows(question, x.context, o.maxLength, o.docStride);
  } catch (err) {
    const stride = o.docStride === undefined ? '' : `, --doc-stride ${o.docStride}`;
    throw new Error(`${o.file}:${x.line}: the question does not leave room for the context (--max-length ${o.maxLength}${stride}): ${(err as Error).message}`);
  }
  return windows.map((t) => {
    const contextOffsets = t.offsets.map((off, k) => (t.sequenceIds[k] === 1 ? off : null));
    const [startPosition, endPosition] = answerTokens(contextOffsets, x.answers[0]);
    return { example: index, inputIds: t.ids, typeIds: t.typeIds, startPosition, endPosition, contextOffsets };
  });
}

/**
 * The answer's first and last token in a window: the last context token starting at or before the
 * answer, and the first one ending at or after it. [0, 0] (the [CLS] token: "not in this window") when
 * there is no answer or the window does not hold all of it.
 */
export function answerTokens(offsets: readonly ([number, number] | null)[], answer: { text: string; start: number } | undefined): [number, number] {
  if (!answer) return [0, 0];
  const first = offsets.findIndex((o) => o !== null);
  let last = offsets.length - 1;
  while (last >= 0 && offsets[last] === null) last--;
  if (first < 0) return [0, 0];
  const startChar = answer.start, endChar = answer.start + answer.text.length;
  if (offsets[first]![0] > startChar || offsets[last]![1] < endChar) return [0, 0];
  let s = first;
  while (s < last && offsets[s + 1]![0] <= startChar) s++;
  let e = last;
  while (e > s && offsets[e - 1]![1] >= endChar) e--;
  return [s, e];
}

export interface Span { score: number; start: number; end: number }

/** The best context span of one window (start <= end, at most maxLen tokens) by start + end logit, in characters. */
export function bestSpan(offsets: readonly ([number, number] | null)[], start: ArrayLike<number>, end: ArrayLike<number>, maxLen: number): Span | null {
  let best: Span | null = null;
  for (let i = 0; i < offsets.length; i++) {
    if (!offsets[i]) continue;
    for (let j = i; j < Math.min(offsets.length, i + maxLen); j++) {
      if (!offsets[j]) continue;
      const score = start[i]! + end[j]!;
      if (!best || score > best.score) best = { score, start: offsets[i]![0], end: offsets[j]![1] };
    }
  }
  return best;
}

/**
 * The predicted answer text of each example: the best span over all of its windows (logits of
 * different windows compare directly, as run_qa's post-processing compares them).
 */
export function qaPredictions(features: readonly Feature[], starts: readonly ArrayLike<number>[], ends: readonly ArrayLike<number>[],
  examples: readonly QaExample[], maxAnswerLength: number): string[] {
  const best: (Span | null)[] = examples.map(() => null);
  features.forEach((f, i) => {
    const s = bestSpan(f.contextOffsets!, starts[i]!, ends[i]!, maxAnswerLength);
    const cur = best[f.example];
    if (s && (!cur || s.score > cur.score)) best[f.example] = s;
  });
  return best.map((s, k) => (s ? examples[k]!.context.slice(s.start, s.end).trim() : ''));
}
