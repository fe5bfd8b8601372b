// token-classification (NER, POS), as transformers' TokenClassificationPipeline: a softmax per token, then
// an aggregation strategy: 'none' (every token), 'simple' (adjacent tokens of one entity grouped, B-/I-
// prefixes honoured), or word-level 'first' / 'average' / 'max' (the tokens of a word agree first, then
// words are grouped). Words are found as transformers does for tokenizers without a subword prefix: a
// token continues a word unless a space touches its start; in addition, a token right after a lone '▁'
// token continues it (transformers splits those into two words, the first one without text).
// Spans are character offsets into the input (JavaScript string indices), with the space Metaspace
// tokens carry before a word left out, so `text.slice(start, end)` is the entity itself; a token or
// group covering only spaces is left out.
// Long texts: with `stride`, the text is cut into overlapping windows and overlapping entities resolved
// as transformers does (the longer wins, then the higher score); without it, the text is truncated.
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import { argmax, checkText, labelOf, loadForTask, makePipeline, output, runRows, softmax, tokenOf, trimSpan,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { readTaskOptions, type AggregationStrategy } from './tasks.ts';

export { AGGREGATION_STRATEGIES, type AggregationStrategy } from './tasks.ts';

/** One token ('none'). */
export interface TokenEntity {
  entity: string;
  score: number;
  /** Position of the token in its (window's) row, [CLS] being 0. */
  index: number;
  word: string;
  start: number;
  end: number;
}

/** A group of tokens or words ('simple', 'first', 'average', 'max'). */
export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export interface TokenClassificationCallOptions extends RunOptions {
  /** Default 'none'. */
  aggregationStrategy?: AggregationStrategy;
  /** Labels left out of the result (default ['O']). */
  ignoreLabels?: string[];
  /** Split long texts into windows of maxLength tokens overlapping by this many tokens (default: truncate). */
  stride?: number;
}

export type TokenClassificationOutput = (TokenEntity | EntityGroup)[];

export interface TokenClassificationPipeline extends PipelineBase {
  (text: string, options?: EitherCase<TokenClassificationCallOptions>): Promise<TokenClassificationOutput>;
  (texts: string[], options?: EitherCase<TokenClassificationCallOptions>): Promise<TokenClassificationOutput[]>;
}

export async function tokenClassificationPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<TokenClassificationPipeline> {
  const loaded = await loadForTask('token-classification', model, 'token-classification', options);
  const fn = async (input: string | string[], opts?: TokenClassificationCallOptions) => {
    const texts = Array.isArray(input) ? input : [input];
    const out = await classifyTokens(loaded, texts, readTaskOptions('token-classification', opts));
    return Array.isArray(input) ? out : out[0]!;
  };
  return makePipeline(loaded, fn) as TokenClassificationPipeline;
}

/** A token with its class probabilities, before aggregation. */
interface PreEntity {
  word: string;
  scores: number[];
  start: number;
  end: number;
  index: number;
  isSubword: boolean;
  blank: boolean;
}
/** An entity before grouping (a token, or a word of the word-level strategies). */
interface Labelled {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
  /** The token strings behind it, so a group decodes with the spaces between its words. */
  tokens: string[];
}

async function classifyTokens(p: Loaded, texts: string[], o: TokenClassificationCallOptions): Promise<TokenClassificationOutput[]> {
  const strategy = o.aggregationStrategy ?? 'none';
  const ignore = new Set(o.ignoreLabels ?? ['O']);
  texts.forEach((t, i) => checkText(t, `token-classification: input ${i}`));
  const windows = o.stride !== undefined;
  const { tokenizer } = p;
  const enc = tokenizer.encodeBatch(texts.map((t) => [t, null]), {
    truncation: true, maxLength: p.maxLength, returnOffsets: true, offsetUnits: 'utf16', returnSpecialTokensMask: true,
    ...(windows ? { stride: o.stride, returnOverflowingTokens: true } : {}),
  });
  const sample = enc.overflowToSampleMapping ?? texts.map((_, i) => i);
  const rows = enc.inputIds.map((ids, k) => ({ ids, typeIds: enc.tokenTypeIds[k]! }));
  const unk = tokenizer.settings.special.unk === undefined ? -1 : tokenizer.unkTokenId;
  const wordAware = tokenizer.pipeline.model.type === 'WordPiece'; // '##' marks continuations
  const perRow = await runRows(p.model, rows, tokenizer.padTokenId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress }, (out, b, k) => {
    const logits = output(out, 'logits');
    const text = texts[sample[k]!]!;
    const pre: PreEntity[] = [];
    rows[k]!.ids.forEach((id, idx) => {
      if (enc.specialTokensMask![k]![idx]) return;
      const [start, end] = enc.offsets![k]![idx]!;
      const ref = text.slice(start, end);
      let word = tokenizer.convertIdsToTokens(id);
      let isSubword = wordAware ? word.length !== ref.length : start > 0 && !text.slice(start - 1, start + 1).includes(' ');
      if (id === unk) {
        word = ref;
        isSubword = false;
      }
      // A lone '▁' token (before a word whose first piece is not in the vocabulary) has no text of its own
      // (its offsets are the space before the word, or the word's first character at the start of the
      // text): it gets an empty span and begins the word after it.
      const prev = pre[pre.length - 1];
      if (!wordAware && prev?.blank && prev.index === idx - 1) isSubword = true;
      const blank = /^▁+$/.test(word) || ref.trim() === '';
      pre.push({ word, scores: softmax(tokenOf(logits, b, idx)), start, end: blank ? start : end, index: idx, isSubword, blank });
    });
    return aggregate(p, pre, strategy).filter((e) => !ignore.has('entity' in e ? e.entity : e.entity_group));
  });
  const bySample = texts.map((): TokenClassificationOutput[] => []);
  perRow.forEach((r, k) => bySample[sample[k]!]!.push(r));
  return texts.map((text, i) => {
    const mine = bySample[i]!;
    const all = mine.length > 1 ? resolveOverlaps(mine.flat()) : mine[0] ?? [];
    // Spans without the spaces around them; a span of spaces alone (a lone '▁' token) is no entity.
    return all.filter((e) => {
      [e.start, e.end] = trimSpan(text, e.start, e.end);
      return e.end > e.start;
    });
  });
}

function aggregate(p: Loaded, pre: PreEntity[], strategy: AggregationStrategy): TokenClassificationOutput {
  const label = (i: number) => labelOf(p.model, i);
  if (strategy === 'none' || strategy === 'simple') {
    const tokens = pre.map((e) => {
      const k = argmax(e.scores);
      return { entity: label(k), score: e.scores[k]!, index: e.index, word: e.word, start: e.start, end: e.end };
    });
    return strategy === 'none' ? tokens : groupEntities(p, tokens.map((t) => ({ ...t, tokens: [t.word] })));
  }
  // Word level: the tokens of each word (a token and the subwords after it) decide one label together.
  const words: PreEntity[][] = [];
  for (const e of pre) {
    if (words.length > 0 && e.isSubword) words[words.length - 1]!.push(e);
    else words.push([e]);
  }
  return groupEntities(p, words.map((w): Labelled => {
    let scores: number[];
    if (strategy === 'first') scores = w[0]!.scores;
    else if (strategy === 'max') scores = w.reduce((best, e) => (Math.max(...e.scores) > Math.max(...best.scores) ? e : best)).scores;
    else scores = w[0]!.scores.map((_, c) => w.reduce((s, e) => s + e.scores[c]!, 0) / w.length);
    const k = argmax(scores);
    const tokens = w.map((e) => e.word);
    return { entity: label(k), score: scores[k]!, word: tokensToString(p, tokens), start: w[0]!.start, end: w[w.length - 1]!.end, tokens };
  }));
}

/** B-/I- tags; a label without a prefix continues a group of the same label. */
function tagOf(entity: string): [bi: 'B' | 'I', tag: string] {
  if (entity.startsWith('B-')) return ['B', entity.slice(2)];
  if (entity.startsWith('I-')) return ['I', entity.slice(2)];
  return ['I', entity];
}

/** Adjacent entities of one tag merge unless the next one begins with B-; the group's score is their mean. */
function groupEntities(p: Loaded, entities: Labelled[]): EntityGroup[] {
  const groups: Labelled[][] = [];
  for (const e of entities) {
    const last = groups[groups.length - 1];
    const [bi, tag] = tagOf(e.entity);
    if (last && bi !== 'B' && tagOf(last[last.length - 1]!.entity)[1] === tag) last.push(e);
    else groups.push([e]);
  }
  return groups.map((g) => ({
    entity_group: g[0]!.entity.slice(g[0]!.entity.indexOf('-') + 1), // transformers drops up to the first '-'
    score: g.reduce((s, e) => s + e.score, 0) / g.length,
    // transformers decodes the words' strings, which glues sentencepiece words together; the tokens keep the spaces.
    word: tokensToString(p, g.flatMap((e) => e.tokens)),
    start: g[0]!.start,
    end: g[g.length - 1]!.end,
  }));
}

/** transformers' convert_tokens_to_string: the decoder applied to token strings. */
function tokensToString(p: Loaded, tokens: string[]): string {
  const decoder = p.tokenizer.pipeline.decoder;
  return decoder ? decoder(tokens).join('') : tokens.join(' ');
}

/** Entities of overlapping windows: of entities that overlap, the longer one stays (equal length: the higher score). */
function resolveOverlaps<E extends { start: number; end: number; score: number }>(entities: E[]): E[] {
  if (entities.length === 0) return entities;
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const out: E[] = [];
  let prev = sorted[0]!;
  for (const e of sorted.slice(1)) {
    if (prev.start <= e.start && e.start < prev.end) {
      const len = e.end - e.start, prevLen = prev.end - prev.start;
      if (len > prevLen || (len === prevLen && e.score > prev.score)) prev = e;
    } else {
      out.push(prev);
      prev = e;
    }
  }
  out.push(prev);
  return out;
}
