// A string under normalisation that remembers, for every UTF-16 code unit of the normalised text, which
// range of the original input it came from. Token offsets are read back through these alignments, the
// way Hugging Face `tokenizers` does it (their NormalizedString, tracked per byte; ours per code unit):
// - a character replaced one for one keeps the alignment of the character it replaces;
// - characters inserted by a replacement take the alignment of the last replaced character;
// - removed characters vanish with their alignment (so "e\u0301" -> "é" aligns to the "e" only).
// The offsets of a normalised range [a, b) are [starts[a], ends[b - 1]].

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
   * A string not normalised yet: code unit i of `text` is original [offset + i, offset + i + 1).
   * `into`: arrays of at least `text.length` entries to write the alignments into (a caller that reuses
   * them from text to text, done with the string before the next), instead of new ones.
   */
  static fromOriginal(text: string, offset = 0, into?: { starts: Int32Array; ends: Int32Array }): NormalizedString {
    const n = text.length;
    const starts = into ? into.starts : new Int32Array(n);
    const ends = into ? into.ends : new Int32Array(n);
    if (starts.length < n || ends.length < n) throw new RangeError(`fromOriginal: alignment arrays of ${starts.length} entries for ${n} code units`);
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

// --- Unicode normalisation with `tokenizers`' alignments -------------------------------------------------
// `tokenizers` normalises with the `unicode-normalization-alignments` crate, which tags every output
// character with a change: each input character is decomposed (its first character tagged 0, the others +1,
// insertions), runs of combining marks are sorted by combining class (stably, tags travelling with their
// characters), and for the composed forms a starter and the marks it absorbs become one character tagged
// (sum of their tags) - (number absorbed). The tags are then read positionally (`transform`): a character
// tagged 0 or -k takes the alignment of the next input character and consumes it and k more, a character
// tagged +1 the alignment of the input character before. This reimplements that sequence; the character
// properties it needs come from `String.prototype.normalize` (cached per character or pair).

/** A run of combining marks too long to hand to `String.prototype.normalize` (see `unicodeNormalize`). */
const LONG_MARK_RUN = /\p{M}{32}/u;

/**
 * `compute` with its results remembered, up to `limit` keys; past that the memory starts over (a long text
 * moves on to other characters). Unicode's tables are read through String.prototype.normalize, so each
 * character's facts cost a normalisation once.
 */
function remembered<K, V>(limit: number, compute: (key: K) => V): (key: K) => V {
  const cache = new Map<K, V>();
  return (key) => {
    let v = cache.get(key);
    if (v === undefined) {
      v = compute(key);
      if (cache.size >= limit) cache.clear();
      cache.set(key, v);
    }
    return v;
  };
}

/** Two code points as one number key. */
const pair = (a: number, b: number) => a * 0x110000 + b;
const first = (key: number) => Math.floor(key / 0x110000);
const second = (key: number) => key % 0x110000;

/** A normalisation form and one character as one string key, and back. */
const formKey = (form: string, ch: string) => `${form}:${ch}`;
const fromKey = (key: string): [NormalizationForm, string] => {
  const at = key.indexOf(':');
  return [key.slice(0, at) as NormalizationForm, key.slice(at + 1)];
};
type NormalizationForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** The full decomposition of one character (NFD or NFKD). */
const decomposed = remembered(50_000, (key: string) => {
  const [form, ch] = fromKey(key);
  return ch.normalize(form);
});
const decomposition = (ch: string, form: 'NFD' | 'NFKD'): string => decomposed(formKey(form, ch));

/** Whether mark `a` has a higher combining class than mark `b` (canonical ordering puts it after). */
const greaterClassOf = remembered(100_000, (key: number) => {
  const ab = `a${String.fromCodePoint(first(key))}${String.fromCodePoint(second(key))}`;
  return ab.normalize('NFD') !== ab;
});
const greaterClass = (a: number, b: number): boolean => greaterClassOf(pair(a, b));

/** Canonical ordering: each run of marks (non-starters) sorted stably by combining class, tags along. */
function canonicalOrder(cps: number[], tags: number[]): void {
  const n = cps.length;
  for (let i = 0; i < n; ) {
    if (isStarter(cps[i]!)) {
      i++;
      continue;
    }
    let j = i + 1;
    let sorted = true;
    while (j < n && !isStarter(cps[j]!)) {
      if (sorted && greaterClass(cps[j - 1]!, cps[j]!)) sorted = false;
      j++;
    }
    if (!sorted) {
      const order = Array.from({ length: j - i }, (_, k) => i + k);
      order.sort((x, y) => (greaterClass(cps[x]!, cps[y]!) ? 1 : greaterClass(cps[y]!, cps[x]!) ? -1 : x - y));
      const c = order.map((k) => cps[k]!);
      const t = order.map((k) => tags[k]!);
      for (let k = 0; k < c.length; k++) {
        cps[i + k] = c[k]!;
        tags[i + k] = t[k]!;
      }
    }
    i = j;
  }
}
/** Canonical combining class 0, for a character already in decomposed form. */
const isStarter = remembered(100_000, (cp: number): boolean => {
  const c = String.fromCodePoint(cp);
  // U+0345 has the highest class (240), U+0334 the lowest (1): a mark of any class swaps with one of them
  // under canonical ordering; a starter with neither.
  return `a\u0345${c}`.normalize('NFD') === `a\u0345${c}` && `a${c}\u0334`.normalize('NFD') === `a${c}\u0334`;
});

/** Whether two marks (non-starters) have the same combining class: canonical ordering swaps neither way. */
const sameClassOf = remembered(100_000, (key: number): boolean => {
  const x = String.fromCodePoint(first(key));
  const y = String.fromCodePoint(second(key));
  return `a${x}${y}`.normalize('NFD') === `a${x}${y}` && `a${y}${x}`.normalize('NFD') === `a${y}${x}`;
});
const sameClass = (a: number, b: number): boolean => sameClassOf(pair(a, b));

/** The primary composite of a starter and the character after it, or -1. */
const composeOf = remembered(100_000, (key: number): number => {
  const c = String.fromCodePoint(first(key), second(key)).normalize('NFC');
  const cp = c.codePointAt(0)!;
  return c.length === (cp > 0xffff ? 2 : 1) ? cp : -1;
});
const compose = (a: number, b: number): number => composeOf(pair(a, b));

const BACKWARD_RE = /[\p{M}\u1160-\u11ff\ud7b0-\ud7ff]/u;

/**
 * Whether the character `ch` starts a piece that normalises independently of what precedes it: its
 * decomposition starts with a starter that composes with nothing before it (the characters that can are
 * combining marks and Hangul medial and final jamo).
 */
const independentOf = remembered(50_000, (key: string): boolean => {
  const d = decomposed(key); // the same key: form and character
  const cp = d.codePointAt(0)!;
  return isStarter(cp) && !BACKWARD_RE.test(String.fromCodePoint(cp));
});
const independent = (ch: string, form: 'NFD' | 'NFKD'): boolean => independentOf(formKey(form, ch));

/** Whether one character on its own is left unchanged by `form`. */
const stableAloneOf = remembered(50_000, (key: string): boolean => {
  const [form, ch] = fromKey(key);
  return ch.normalize(form) === ch;
});
const stableAlone = (ch: string, form: NormalizationForm): boolean => stableAloneOf(formKey(form, ch));

/**
 * Normalises `seg` (= `src.text` from `start`) into `b` with `tokenizers`' alignments, piece by piece: a
 * piece starts at each `independent` character (the crate's state is the same there whatever came before),
 * and a piece of one character that normalisation leaves alone is copied.
 */
function normalizeAligned(src: NormalizedString, start: number, seg: string, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD', b: Builder): void {
  const decomposeForm = form === 'NFC' || form === 'NFD' ? 'NFD' : 'NFKD';
  const n = seg.length;
  let p = 0;
  while (p < n) {
    let q = p + charLen(seg, p);
    while (q < n) {
      const len = charLen(seg, q);
      if (independent(len === 1 ? seg[q]! : seg.slice(q, q + len), decomposeForm)) break;
      q += len;
    }
    const piece = seg.slice(p, q);
    if (q - p <= 2 && charLen(seg, p) === q - p && stableAlone(piece, form)) b.copy(src, start + p, start + q);
    else normalizePiece(src, start + p, piece, form, b);
    p = q;
  }
}

/** Normalises `seg` (= `src.text` from `start`) into `b` with `tokenizers`' alignments. */
function normalizePiece(src: NormalizedString, start: number, seg: string, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD', b: Builder): void {
  const decomposeForm = form === 'NFC' || form === 'NFD' ? 'NFD' : 'NFKD';
  // Decomposed characters with their tags, in input order; then in canonical order.
  const cps: number[] = [];
  const tags: number[] = [];
  for (let i = 0; i < seg.length; ) {
    const len = charLen(seg, i);
    const d = decomposition(len === 1 ? seg[i]! : seg.slice(i, i + len), decomposeForm);
    for (let k = 0; k < d.length; ) {
      const cp = d.codePointAt(k)!;
      cps.push(cp);
      tags.push(k === 0 ? 0 : 1);
      k += cp > 0xffff ? 2 : 1;
    }
    i += len;
  }
  canonicalOrder(cps, tags);
  let outCps = cps;
  let outTags = tags;
  if (form === 'NFC' || form === 'NFKC') {
    outCps = [];
    outTags = [];
    let composee = -1;
    let composeeTag = 0;
    // Marks after the composee that it did not absorb, waiting to be written after it.
    const bufCps: number[] = [];
    const bufTags: number[] = [];
    const flush = (): void => {
      if (composee >= 0) {
        outCps.push(composee);
        outTags.push(composeeTag);
      }
      for (let k = 0; k < bufCps.length; k++) {
        outCps.push(bufCps[k]!);
        outTags.push(bufTags[k]!);
      }
      bufCps.length = 0;
      bufTags.length = 0;
    };
    for (let k = 0; k < cps.length; k++) {
      const ch = cps[k]!;
      const tag = tags[k]!;
      const starter = isStarter(ch);
      if (composee < 0) {
        if (starter) {
          composee = ch;
          composeeTag = tag;
        } else {
          outCps.push(ch);
          outTags.push(tag);
        }
        continue;
      }
      // A mark is blocked from the composee by a buffered mark of the same class (the buffer is sorted);
      // a starter by any buffered mark.
      const blocked = bufCps.length > 0 && (starter || sameClass(bufCps[bufCps.length - 1]!, ch));
      if (!blocked) {
        const r = compose(composee, ch);
        if (r >= 0) {
          composee = r;
          composeeTag += tag - 1;
          continue;
        }
      }
      if (starter) {
        flush();
        composee = ch;
        composeeTag = tag;
      } else {
        bufCps.push(ch);
        bufTags.push(tag);
      }
    }
    flush();
  }
  // Read the tags positionally over the segment's input characters.
  let pos = start;
  const end = start + seg.length;
  let prev = start - 1;
  for (let k = 0; k < outCps.length; k++) {
    const c = String.fromCodePoint(outCps[k]!);
    const tag = outTags[k]!;
    if (tag > 0) {
      if (prev >= 0) b.push(c, src.start(prev), src.end(prev));
      else b.push(c, 0, 0);
      continue;
    }
    if (pos >= end) throw new Error('NormalizedString.unicodeNormalize: alignment ran past the input');
    b.push(c, src.start(pos), src.end(pos));
    pos += charLen(src.text, pos);
    for (let r = 0; r < -tag && pos < end; r++) pos += charLen(src.text, pos);
    prev = pos - 1;
  }
}

export function charLen(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length) {
    const d = t.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
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

// --- Scratch memory for the alignments of one text ----------------------------------------------------------

/** The most entries (4 bytes each) a scratch keeps between texts: 32 MB, the alignments of about 1.3M characters. */
const SCRATCH_LIMIT = 1 << 23;

/**
 * Memory for alignment arrays that live only while one text is tokenised (the normalisation steps' results,
 * the Metaspace prefix): cut one after the other from a buffer reused from text to text, instead of new
 * arrays each time. A 1M-character text's steps ask for about 24 MB; new buffers of that size are fresh
 * pages from the system, written for the first time (page faults, zeroing) and left to the garbage
 * collector, where the same work on a 100k text reuses memory already there. What does not fit is
 * allocated as before, and the next text gets a buffer as large as this one asked for (up to
 * `SCRATCH_LIMIT`).
 */
export class AlignmentScratch {
  private buf = new Int32Array(0);
  private used = 0;
  /** Entries asked for since the last reset, whether they fitted or not. */
  private asked = 0;

  take(n: number): Int32Array {
    this.asked += n;
    if (this.used + n > this.buf.length) return new Int32Array(n);
    const a = this.buf.subarray(this.used, this.used + n);
    this.used += n;
    return a;
  }

  /** Forgets everything cut so far (the arrays handed out must be dead by now). */
  reset(): void {
    if (this.asked > this.buf.length && this.buf.length < SCRATCH_LIMIT) this.buf = new Int32Array(Math.min(this.asked, SCRATCH_LIMIT));
    this.used = 0;
    this.asked = 0;
  }

  /** Holding memory, in bytes (for tests and diagnostics). */
  get bytes(): number {
    return this.buf.byteLength;
  }
}

let scratch: AlignmentScratch | null = null;

/**
 * Runs `f` with alignment arrays cut from `s` (reset first): every NormalizedString made by `f` must be
 * dead when it returns — nothing made from them may keep their arrays (token offsets are copied out).
 */
export function withAlignmentScratch<T>(s: AlignmentScratch, f: () => T): T {
  const outer = scratch;
  s.reset();
  scratch = s;
  try {
    return f();
  } finally {
    scratch = outer;
  }
}

/** An alignment array of `n` entries (contents undefined: the caller writes every entry it reads). */
function alignmentArray(n: number): Int32Array {
  return scratch ? scratch.take(n) : new Int32Array(n);
}
