// A string under normalisation that remembers, for every UTF-16 code unit of the normalised text, which
// range of the original input it came from. Token offsets are read back through these alignments, the
// way Hugging Face `tokenizers` does it (their NormalizedString, tracked per byte; ours per code unit):
// - a character replaced one for one keeps the alignment of the character it replaces;
// - characters inserted by a replacement take the alignment of the last replaced character;
// - removed characters vanish with their alignment (so "e\u0301" -> "é" aligns to the "e" only).
// The offsets of a normalised range [a, b) are [starts[a], ends[b - 1]].

import { alignmentArray } from './alignment-scratch.ts';
import { charLen, LONG_MARK_RUN, normalizeAligned } from './unicode-normalize.ts';

/** Rust's `char::is_whitespace` / Oniguruma's Unicode `\s`: the White_Space property. */
export const WHITESPACE_CLASS = '\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RE = new RegExp(`[${WHITESPACE_CLASS}]`);

export function isWhitespace(ch: string): boolean {
  return WS_RE.test(ch);
}

export class NormalizedString {
  constructor(
    public readonly text: string,
    /** Original start offset (UTF-16) of code unit i of `text`, at index `base + i`. */
    public readonly starts: Int32Array,
    /** Original end offset (UTF-16) of code unit i of `text`, at index `base + i`. */
    public readonly ends: Int32Array,
    /**
     * Where this string starts in the original text, whatever normalisation removed from its front
     * (`tokenizers`' original_shift); a piece cut out by a pre-tokeniser starts at its first character.
     */
    public readonly origin: number,
    /** Slices share their parent's alignment arrays (cheaper than typed-array views). */
    public readonly base = 0,
  ) {}

  /** Original start of code unit i. */
  start(i: number): number {
    return this.starts[this.base + i]!;
  }

  /** Original end of code unit i. */
  end(i: number): number {
    return this.ends[this.base + i]!;
  }

  /**
   * A string not normalised yet: code unit i of `text` is original [offset + i, offset + i + 1). Inside
   * `withAlignmentScratch` its alignments are cut from the scratch memory, as every step's are.
   */
  static fromOriginal(text: string, offset = 0): NormalizedString {
    const n = text.length;
    const starts = alignmentArray(n);
    const ends = alignmentArray(n);
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      // Both halves of a surrogate pair align to the whole character.
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          starts[i] = starts[i + 1] = offset + i;
          ends[i] = ends[i + 1] = offset + i + 2;
          i++;
          continue;
        }
      }
      starts[i] = offset + i;
      ends[i] = offset + i + 1;
    }
    return new NormalizedString(text, starts, ends, offset);
  }

  get length(): number {
    return this.text.length;
  }

  slice(a: number, b: number): NormalizedString {
    if (a === 0 && b === this.text.length) return this;
    const origin = a < this.text.length ? this.start(a) : this.origin;
    return new NormalizedString(this.text.slice(a, b), this.starts, this.ends, origin, this.base + a);
  }

  /** Original offsets of the normalised range [a, b); an empty range maps to a point. */
  originalRange(a: number, b: number): [number, number] {
    if (b > a) return [this.start(a), this.end(b - 1)];
    if (a > 0) return [this.end(a - 1), this.end(a - 1)];
    return this.text.length ? [this.start(0), this.start(0)] : [0, 0];
  }

  get originalStart(): number {
    return this.origin;
  }

  /**
   * Replaces every match of `re` (global) with `content`; inserted characters align to the last code unit
   * of the match they replace (to the preceding character for an empty match).
   */
  replace(re: RegExp, content: string): NormalizedString {
    re.lastIndex = 0;
    let m = re.exec(this.text);
    if (!m) return this;
    const b = new Builder(this.text.length);
    let last = 0;
    while (m) {
      const start = m.index;
      const end = start + m[0].length;
      b.copy(this, last, start);
      if (content.length) {
        const from = end > 0 ? end - 1 : -1;
        const s = from >= 0 ? this.start(from) : 0;
        const e = from >= 0 ? this.end(from) : 0;
        b.push(content, s, e);
      }
      last = end;
      if (m[0].length === 0) re.lastIndex++;
      m = re.exec(this.text);
    }
    b.copy(this, last, this.text.length);
    return b.build(this.origin);
  }

  /** Replaces each occurrence of one character with another string, keeping alignments. */
  replaceChar(ch: string, by: string): NormalizedString {
    if (!this.text.includes(ch)) return this;
    if (ch.length === by.length) return new NormalizedString(this.text.replaceAll(ch, by), this.starts, this.ends, this.origin, this.base);
    return this.replace(new RegExp(escapeRegExp(ch), 'gu'), by);
  }

  /** Inserts `s` in front: its characters align to the original first character. */
  prepend(s: string): NormalizedString {
    if (!this.text.length || !s.length) return this;
    const n = this.text.length;
    const k = s.length;
    const starts = alignmentArray(n + k);
    const ends = alignmentArray(n + k);
    starts.fill(this.start(0), 0, k);
    ends.fill(this.end(0), 0, k);
    starts.set(this.starts.subarray(this.base, this.base + n), k);
    ends.set(this.ends.subarray(this.base, this.base + n), k);
    return new NormalizedString(s + this.text, starts, ends, this.origin);
  }

  /** Appends `s`: its characters align to the original last character. */
  append(s: string): NormalizedString {
    if (!this.text.length || !s.length) return this;
    const n = this.text.length;
    const k = s.length;
    const starts = alignmentArray(n + k);
    const ends = alignmentArray(n + k);
    starts.set(this.starts.subarray(this.base, this.base + n), 0);
    ends.set(this.ends.subarray(this.base, this.base + n), 0);
    starts.fill(this.start(n - 1), n);
    ends.fill(this.end(n - 1), n);
    return new NormalizedString(this.text + s, starts, ends, this.origin);
  }

  strip(left: boolean, right: boolean): NormalizedString {
    let a = 0;
    let b = this.text.length;
    if (left) while (a < b && isWhitespaceAt(this.text, a)) a += charLen(this.text, a);
    if (right) while (b > a && isWhitespaceAt(this.text, b - 1)) b--;
    if (a === 0 && b === this.text.length) return this;
    // Stripping is a normalisation, not a split: the string keeps its origin.
    return new NormalizedString(this.text.slice(a, b), this.starts, this.ends, this.origin, this.base + a);
  }

  /**
   * Rewrites the string character by character: `f` gets each code point and returns its replacement
   * (possibly empty or several characters). The first replacement character keeps the alignment, the others
   * are insertions aligned to the same character; an empty result removes the character.
   */
  mapChars(f: (ch: string) => string): NormalizedString {
    const t = this.text;
    const b = new Builder(t.length);
    let changed = false;
    for (let i = 0; i < t.length; ) {
      const len = charLen(t, i);
      const ch = len === 1 ? t[i]! : t.slice(i, i + 2);
      const out = f(ch);
      if (out === ch) b.copy(this, i, i + len);
      else {
        changed = true;
        if (out.length) b.push(out, this.start(i), this.end(i));
      }
      i += len;
    }
    return changed ? b.build(this.origin) : this;
  }

  /**
   * The general rewrite of `tokenizers`: `items` lists the output characters with their change, 0 for a
   * character that replaces the next input character, +1 for an inserted one (aligned to the previous input
   * character), -n for a replacement after which n more input characters are removed.
   */
  transform(items: [string, number][]): NormalizedString {
    const t = this.text;
    const b = new Builder(t.length);
    let pos = 0;
    for (const [c, change] of items) {
      if (change > 0) {
        if (pos > 0) b.push(c, this.start(pos - 1), this.end(pos - 1));
        else b.push(c, 0, 0);
        continue;
      }
      if (pos >= t.length) throw new Error('NormalizedString.transform: more replacements than input characters');
      b.push(c, this.start(pos), this.end(pos));
      pos += charLen(t, pos);
      for (let k = 0; k < -change && pos < t.length; k++) pos += charLen(t, pos);
    }
    return b.build(this.origin);
  }

  /**
   * Unicode normalisation (NFC, NFD, NFKC, NFKD) aligned as `tokenizers` aligns it (see `normalizeAligned`):
   * each output character takes the alignment of the input character it is laid over, counting input
   * characters in order; characters a composition absorbs vanish with their alignment.
   */
  unicodeNormalize(form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD'): NormalizedString {
    const t = this.text;
    // String.prototype.normalize orders combining marks by insertion: quadratic in a run of marks, so it
    // is never given one longer than LONG_MARK_RUN allows (such text takes the path below, which sorts).
    const longRuns = LONG_MARK_RUN.test(t);
    if (!longRuns && t.normalize(form) === t) return this;
    const b = new Builder(t.length);
    // ASCII characters are starters that neither decompose nor compose with what precedes them, so the
    // text falls into independent segments: an ASCII character (which may take marks) and the non-ASCII
    // run after it. Pure ASCII runs are copied as they are.
    let copied = 0;
    let i = 0;
    const n = t.length;
    while (i < n) {
      if (t.charCodeAt(i) < 0x80) {
        i++;
        continue;
      }
      const segStart = i > copied && t.charCodeAt(i - 1) < 0x80 ? i - 1 : i;
      let j = i + 1;
      while (j < n && t.charCodeAt(j) >= 0x80) j++;
      b.copy(this, copied, segStart);
      const seg = t.slice(segStart, j);
      if (!(longRuns && LONG_MARK_RUN.test(seg)) && seg.normalize(form) === seg) b.copy(this, segStart, j);
      else normalizeAligned(this, segStart, seg, form, b);
      copied = i = j;
    }
    b.copy(this, copied, n);
    return b.build(this.origin);
  }
}

function isWhitespaceAt(t: string, i: number): boolean {
  const c = t.charCodeAt(i);
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  if (c < 0x85) return false;
  return WS_RE.test(t[i]!);
}

/** Escapes `s` for use outside a character class in a `u`-flag regex (where `\-` would be an error). */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Accumulates normalised text and its alignments. */
export class Builder {
  private parts: string[] = [];
  private starts: Int32Array;
  private ends: Int32Array;
  private n = 0;
  constructor(capacity: number) {
    this.starts = alignmentArray(Math.max(16, capacity + 8));
    this.ends = alignmentArray(Math.max(16, capacity + 8));
  }
  private reserve(k: number): void {
    if (this.n + k <= this.starts.length) return;
    const size = Math.max(this.starts.length * 2, this.n + k);
    const s = alignmentArray(size);
    const e = alignmentArray(size);
    s.set(this.starts.subarray(0, this.n));
    e.set(this.ends.subarray(0, this.n));
    this.starts = s;
    this.ends = e;
  }
  copy(src: NormalizedString, a: number, b: number): void {
    if (b <= a) return;
    this.reserve(b - a);
    this.parts.push(src.text.slice(a, b));
    this.starts.set(src.starts.subarray(src.base + a, src.base + b), this.n);
    this.ends.set(src.ends.subarray(src.base + a, src.base + b), this.n);
    this.n += b - a;
  }
  push(s: string, start: number, end: number): void {
    this.reserve(s.length);
    this.parts.push(s);
    this.starts.fill(start, this.n, this.n + s.length);
    this.ends.fill(end, this.n, this.n + s.length);
    this.n += s.length;
  }
  build(origin: number): NormalizedString {
    // Views, not copies: the arrays are at most twice what they hold (a long text's alignments are big).
    return new NormalizedString(this.parts.join(''), this.starts.subarray(0, this.n), this.ends.subarray(0, this.n), origin);
  }
}
