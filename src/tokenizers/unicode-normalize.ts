// Unicode normalisation with `tokenizers`' alignments (NormalizedString.unicodeNormalize runs it).
// `tokenizers` normalises with the `unicode-normalization-alignments` crate, which tags every output
// character with a change: each input character is decomposed (its first character tagged 0, the others +1,
// insertions), runs of combining marks are sorted by combining class (stably, tags travelling with their
// characters), and for the composed forms a starter and the marks it absorbs become one character tagged
// (sum of their tags) - (number absorbed). The tags are then read positionally (`transform`): a character
// tagged 0 or -k takes the alignment of the next input character and consumes it and k more, a character
// tagged +1 the alignment of the input character before. This reimplements that sequence; the character
// properties it needs come from `String.prototype.normalize` (cached per character or pair).
import type { Builder, NormalizedString } from './normalized.ts';

/** Code units (1 or 2) of the character at `i` of `t`; a lone surrogate counts as one. */
export function charLen(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length) {
    const d = t.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** A run of combining marks too long to hand to `String.prototype.normalize` (see `unicodeNormalize`). */
export const LONG_MARK_RUN = /\p{M}{32}/u;

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
export function normalizeAligned(src: NormalizedString, start: number, seg: string, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD', b: Builder): void {
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
