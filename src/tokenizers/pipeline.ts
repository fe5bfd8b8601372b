// The tokenisation pipeline of Hugging Face `tokenizers`, reimplemented: added tokens are cut out of the
// text first, each remaining segment is normalised and pre-tokenised on its own, the model turns each
// word into ids, then truncation and the post-processor give the final encoding.
//
// Why our own engine rather than wrapping `@huggingface/tokenizers`: that package gives ids, tokens and an
// attention mask only, with no character offsets (question answering and the CLI need them) and no token
// type ids; both need the alignment tracking of every normalisation step, which is the heart of the
// engine. It also cannot read `spm.model`. Owning the engine also lets us cache per word (see `cache`).
import { Encoding, TokenBuffer, type TruncationDirection, toNumbers } from './encoding.ts';
import { AlignmentScratch, withAlignmentScratch } from './alignment-scratch.ts';
import { NormalizedString, WHITESPACE_CLASS, escapeRegExp } from './normalized.ts';
import type { Normalizer } from './normalizers.ts';
import type { PreTokenizer } from './pre-tokenizers.ts';
import { type Model, WordTokens } from './models/model.ts';
import type { PostProcessor } from './post-processor.ts';
import type { Decoder } from './decoders.ts';

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  singleWord?: boolean;
  /** Matched in the normalised text (true) or in the raw text (false). */
  normalized?: boolean;
}

export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second';

export interface TruncationParams {
  maxLength: number;
  strategy: TruncationStrategy;
  stride: number;
  direction: TruncationDirection;
}

export interface PipelineParts {
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizer | null;
  model: Model;
  postProcessor: PostProcessor | null;
  decoder: Decoder | null;
  addedTokens: AddedToken[];
}

const WORD_CHAR = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;
const WS = new RegExp(`[${WHITESPACE_CLASS}]`);
const CACHE_LIMIT = 100_000;
/** Words of more tokens than this are not cached; the pool holds at most this many numbers (16 MB). */
const CACHE_MAX_TOKENS = 256;
const CACHE_POOL_LIMIT = 1 << 22;

export class TokenizerPipeline {
  readonly normalizer: Normalizer | null;
  readonly preTokenizer: PreTokenizer | null;
  readonly model: Model;
  readonly postProcessor: PostProcessor | null;
  readonly decoder: Decoder | null;
  private added = new Map<number, AddedToken>();
  private addedByContent = new Map<string, AddedToken>();
  private rawSplit: RegExp | null;
  private normSplit: RegExp | null;
  private normContent: Map<string, AddedToken>;
  /** Word -> model output (ids, token ends); words repeat a lot in real text. */
  private cache = new WordCache();

  constructor(parts: PipelineParts) {
    this.normalizer = parts.normalizer;
    this.preTokenizer = parts.preTokenizer;
    this.model = parts.model;
    this.postProcessor = parts.postProcessor;
    this.decoder = parts.decoder;
    for (const t of parts.addedTokens) {
      this.added.set(t.id, t);
      this.addedByContent.set(t.content, t);
    }
    const raw = parts.addedTokens.filter((t) => !t.normalized && t.content.length);
    const norm = parts.addedTokens.filter((t) => t.normalized && t.content.length);
    this.rawSplit = matcher(raw.map((t) => t.content));
    // Normalised added tokens are matched by their normalised form.
    this.normSplit = matcher(norm.map((t) => (this.normalizer ? this.normalizer(NormalizedString.fromOriginal(t.content)).text : t.content)));
    this.normContent = new Map(norm.map((t) => [this.normalizer ? this.normalizer(NormalizedString.fromOriginal(t.content)).text : t.content, t]));
  }

  get addedTokens(): AddedToken[] {
    return [...this.added.values()];
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.added.get(id)?.content ?? this.model.idToToken(id);
  }

  isSpecial(id: number): boolean {
    return this.added.get(id)?.special === true;
  }

  /** Vocabulary size including added tokens (transformers' `len(tokenizer)`). */
  get vocabSize(): number {
    let n = this.model.vocabSize;
    for (const id of this.added.keys()) if (this.model.idToToken(id) === undefined) n++;
    return n;
  }

  /**
   * Tokens of one text, no special tokens added; `seq` (0 or 1) becomes the type and sequence id.
   * `budget`: once this many tokens are made, the words after are not run through the model (tokens come
   * word by word in text order, so the first `budget` tokens are those of the whole text): for a caller
   * that keeps only the first tokens (truncation on the right, overflow not wanted).
   */
  encodeSequence(text: string, seq: 0 | 1, budget = Infinity): Encoding {
    // The text's alignments and the normalisation steps' are cut from memory reused from text to text:
    // nothing made from them outlives this call (tokens copy their offsets).
    return withAlignmentScratch(this.scratch, () => this.encodeSequenceIn(text, seq, budget));
  }

  private encodeSequenceIn(text: string, seq: 0 | 1, budget: number): Encoding {
    // The result's columns are views of the sequence's reused token buffer: valid until the next call for
    // the same `seq` (`postProcess` copies them into the final encoding).
    // Most tokenizers give fewer tokens than characters; a byte-level one up to three per character.
    const out = this.tokens[seq];
    out.reset(Math.min(text.length + 16, budget));
    this.budget = budget;
    for (const [a, b, tok] of this.splitAdded(text, this.rawSplit, this.addedByContent)) {
      if (out.length >= budget) break;
      if (tok) {
        out.push(tok.id, a, b);
        continue;
      }
      let ns = NormalizedString.fromOriginal(text.slice(a, b), a);
      if (this.normalizer) ns = this.normalizer(ns);
      if (this.normSplit) {
        for (const [x, y, t] of this.splitAdded(ns.text, this.normSplit, this.normContent)) {
          if (t) {
            const [s, e] = ns.originalRange(x, y);
            out.push(t.id, s, e);
          } else this.encodeWords(ns.slice(x, y), out);
        }
      } else this.encodeWords(ns, out);
    }
    // Every token of one sequence has the same type and sequence id, no special-token mark, attention 1.
    return out.finish(seq);
  }

  private encodeWords(ns: NormalizedString, out: TokenBuffer): void {
    if (ns.length === 0) return;
    // Each word is encoded as the pre-tokeniser cuts it: no list of every word of a long text is kept
    // (word objects die young instead of being promoted by the garbage collector).
    // Each word is done with before the next comes (`transient`): its alignment memory may be reused.
    const sink = { transient: true, push: (w: NormalizedString) => this.encodeWord(w, out) };
    if (this.preTokenizer) this.preTokenizer(ns, sink);
    else this.encodeWord(ns, out);
  }

  /** Memory for the alignments of the normalisation steps (see `withAlignmentScratch`). */
  private scratch = new AlignmentScratch();

  /** Token buffers of the first and second sequence, reused from encode to encode. */
  private tokens: [TokenBuffer, TokenBuffer] = [new TokenBuffer(), new TokenBuffer()];
  /** The token budget of the `encodeSequence` call under way. */
  private budget = Infinity;
  /** The model's output for the word under way (reused: no arrays per word). */
  private word = new WordTokens();

  private encodeWord(w: NormalizedString, out: TokenBuffer): void {
    if (out.length >= this.budget) return;
    const at = this.cache.find(w.text);
    if (at >= 0) {
      const pool = this.cache.pool;
      const k = pool[at]!;
      emit(w, pool, at + 1, pool, at + 1 + k, k, out);
      return;
    }
    const t = this.word;
    t.clear();
    this.model.tokenize(w.text, t);
    this.cache.add(w.text, t);
    emit(w, t.ids, 0, t.ends, 0, t.length, out);
  }

  /**
   * Cuts `text` around the added tokens `re` finds (leftmost, longest), applying their lstrip / rstrip /
   * single_word options. Yields [start, end, token or null] covering the text.
   */
  private splitAdded(text: string, re: RegExp | null, byContent: Map<string, AddedToken>): [number, number, AddedToken | null][] {
    if (!re || text.length === 0) return [[0, text.length, null]];
    const out: [number, number, AddedToken | null][] = [];
    re.lastIndex = 0;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text))) {
      let start = m.index;
      let stop = start + m[0].length;
      const tok = byContent.get(m[0])!;
      if (tok.singleWord) {
        const before = start === 0 || !WORD_CHAR.test(lastChar(text, start));
        const after = stop === text.length || !WORD_CHAR.test(firstChar(text, stop));
        if (!before || !after) continue;
      }
      if (tok.lstrip) {
        let s = start;
        while (s > 0 && WS.test(text[s - 1]!)) s--;
        start = Math.max(s, last);
      }
      if (tok.rstrip) {
        while (stop < text.length && WS.test(text[stop]!)) stop++;
        re.lastIndex = stop;
      }
      if (last < start) out.push([last, start, null]);
      out.push([start, stop, tok]);
      last = stop;
    }
    if (last < text.length) out.push([last, text.length, null]);
    return out;
  }

  /**
   * Truncates (when `truncation` is given) then adds special tokens: the post-processing of `tokenizers`.
   * `truncation.maxLength` counts the special tokens. `a` and `b` are the call's own: they are changed.
   */
  postProcess(a: Encoding, b: Encoding | null, addSpecialTokens: boolean, truncation: TruncationParams | null): Encoding {
    return Encoding.merge(this.postProcessParts(a, b, addSpecialTokens, truncation));
  }

  /**
   * The ids of `postProcess`'s result, made straight from the pieces it would merge: the other six
   * columns are not copied (what `encode` needs; a long text's merged columns are 19 bytes per token).
   */
  postProcessIds(a: Encoding, b: Encoding | null, addSpecialTokens: boolean, truncation: TruncationParams | null): number[] {
    const parts = this.postProcessParts(a, b, addSpecialTokens, truncation);
    if (parts.some((e) => e.overflowing.length > 0)) return toNumbers(Encoding.merge(parts).ids);
    const out = new Array<number>(parts.reduce((n, e) => n + e.length, 0));
    let at = 0;
    for (const e of parts) {
      const ids = e.ids;
      for (let i = 0; i < ids.length; i++) out[at++] = ids[i]!;
    }
    return out;
  }

  /** The encodings `postProcess` merges: truncated, with their sequence and type ids, special tokens added. */
  private postProcessParts(a: Encoding, b: Encoding | null, addSpecialTokens: boolean, truncation: TruncationParams | null): Encoding[] {
    if (truncation) {
      const added = addSpecialTokens && this.postProcessor ? this.postProcessor.addedTokens(b !== null) : 0;
      const maxLength = truncation.maxLength - added;
      if (maxLength < 0) throw new Error(`truncation: max_length ${truncation.maxLength} is smaller than the ${added} special tokens added`);
      if (truncation.stride > 0 && truncation.stride >= maxLength) {
        throw new Error(`truncation: stride ${truncation.stride} must be smaller than max_length minus the special tokens (${maxLength})`);
      }
      truncateEncodings(a, b, { ...truncation, maxLength });
    }
    const encodings = b ? [a, b] : [a];
    encodings.forEach((e, i) => {
      e.setSequenceId(i);
      for (const o of e.overflowing) o.setSequenceId(i);
      e.setTypeIds(i);
    });
    return this.postProcessor ? this.postProcessor.processEncodings(encodings, addSpecialTokens) : encodings;
  }

  /** Token strings of `ids` joined by the decoder. */
  decode(ids: number[], skipSpecialTokens: boolean): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const t = this.idToToken(id);
      if (t === undefined) continue;
      if (skipSpecialTokens && this.isSpecial(id)) continue;
      tokens.push(t);
    }
    return this.decoder ? this.decoder(tokens).join('') : tokens.join(' ');
  }
}

/** Appends a word's `count` tokens (ids from `ids[i]`, ends in the word from `ends[e]`) with their offsets. */
function emit(w: NormalizedString, ids: ArrayLike<number>, i: number, ends: ArrayLike<number>, e: number, count: number, out: TokenBuffer): void {
  let a = 0;
  for (let k = 0; k < count; k++) {
    const id = ids[i + k]!;
    const b = ends[e + k]!;
    if (b > a) out.push(id, w.start(a), w.end(b - 1));
    else {
      // Tokens ending together (byte fallback): the later ones are empty spans at the end.
      const last = w.end(Math.max(0, b - 1));
      out.push(id, last, last);
    }
    a = b;
  }
}

/**
 * Word -> the model's tokens for it, every entry in one growable buffer (at an entry's offset: the token
 * count k, k ids, k ends): a text of a million distinct words adds no object per word for the garbage
 * collector to promote and mark. Starts over when full; words giving many tokens are not kept.
 */
class WordCache {
  private index = new Map<string, number>();
  pool = new Uint32Array(1 << 14);
  private used = 0;

  /** The entry's offset, or -1. */
  find(word: string): number {
    return this.index.get(word) ?? -1;
  }

  /** Keeps `word`'s tokens; the entry's offset, or -1 when not kept. */
  add(word: string, t: WordTokens): number {
    const k = t.length;
    if (k > CACHE_MAX_TOKENS) return -1;
    if (this.index.size >= CACHE_LIMIT || this.used + 1 + 2 * k > CACHE_POOL_LIMIT) {
      this.index.clear();
      this.used = 0;
    }
    if (this.used + 1 + 2 * k > this.pool.length) {
      const grown = new Uint32Array(Math.min(CACHE_POOL_LIMIT, this.pool.length * 2));
      grown.set(this.pool.subarray(0, this.used));
      this.pool = grown;
    }
    const at = this.used;
    const p = this.pool;
    p[at] = k;
    for (let j = 0; j < k; j++) {
      p[at + 1 + j] = t.ids[j]!;
      p[at + 1 + k + j] = t.ends[j]!;
    }
    this.used = at + 1 + 2 * k;
    this.index.set(word, at);
    return at;
  }
}

/** A regex that finds the leftmost, longest of `contents`. */
function matcher(contents: string[]): RegExp | null {
  if (!contents.length) return null;
  const sorted = [...new Set(contents)].sort((x, y) => y.length - x.length);
  return new RegExp(sorted.map(escapeRegExp).join('|'), 'gu');
}

function lastChar(t: string, i: number): string {
  const c = t.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && i >= 2 ? t.slice(i - 2, i) : t[i - 1]!;
}
function firstChar(t: string, i: number): string {
  const c = t.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff ? t.slice(i, i + 2) : t[i]!;
}

/** `tokenizers`' truncate_encodings, `params.maxLength` already net of special tokens. */
export function truncateEncodings(a: Encoding, b: Encoding | null, params: TruncationParams): void {
  const { maxLength, stride, direction, strategy } = params;
  if (maxLength === 0) {
    a.truncate(0, stride, direction);
    b?.truncate(0, stride, direction);
    return;
  }
  const total = a.length + (b ? b.length : 0);
  if (total <= maxLength) return;
  const toRemove = total - maxLength;
  if (strategy === 'longest_first') {
    if (!b) {
      a.truncate(maxLength, stride, direction);
      return;
    }
    let n1 = a.length;
    let n2 = b.length;
    const swap = n1 > n2;
    if (swap) [n1, n2] = [n2, n1];
    n2 = n1 > maxLength ? n1 : Math.max(n1, maxLength - n1);
    if (n1 + n2 > maxLength) {
      n1 = Math.floor(maxLength / 2);
      n2 = n1 + (maxLength % 2);
    }
    if (swap) [n1, n2] = [n2, n1];
    a.truncate(n1, stride, direction);
    b.truncate(n2, stride, direction);
    return;
  }
  const target = strategy === 'only_first' ? a : b;
  if (!target) throw new Error('truncation: only_second needs a second sequence');
  if (target.length <= toRemove) {
    throw new Error(
      `truncation: the ${strategy === 'only_first' ? 'first' : 'second'} sequence (${target.length} tokens) is too short to remove the ${toRemove} tokens needed to fit max_length`,
    );
  }
  target.truncate(target.length - toRemove, stride, direction);
}
