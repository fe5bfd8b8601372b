// SentencePiece's precompiled normalisation map (`precompiled_charsmap`, as in `spm.model` and in the
// `Precompiled` normaliser of `tokenizer.json`): a Darts double-array trie over UTF-8 bytes whose values
// point into a blob of NUL-terminated replacement strings. Applied as `tokenizers` applies it: grapheme by
// grapheme (a grapheme shorter than 6 bytes is looked up whole, by its shortest mapped prefix), otherwise
// character by character.
import type { Normalizer } from './normalizers.ts';
import { Builder, type NormalizedString } from './normalized.ts';
import { charLen } from './unicode-normalize.ts';

export class PrecompiledCharsMap {
  private units: Uint32Array;
  private normalized: Uint8Array;
  private cache = new Map<string, string | null>();
  /** Per UTF-16 code unit, as a text of its own: 0 not looked up yet, 1 unmapped, 2 mapped. */
  private single = new Uint8Array(65536);
  private decoder = new TextDecoder();
  private encoder = new TextEncoder();

  constructor(blob: Uint8Array, where: string) {
    if (blob.length < 4) throw new Error(`${where}: precompiled_charsmap is too short`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) throw new Error(`${where}: precompiled_charsmap is corrupt (trie size ${trieSize})`);
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + i * 4, true);
    this.normalized = blob.subarray(4 + trieSize);
  }

  /** The longest mapped prefix of `text` at `pos`, walking the trie over the UTF-8 bytes. */
  longest(text: string, pos: number): PrefixMatch | null {
    const u = this.units;
    if (u.length === 0) return null;
    let node = offset(u[0]!);
    let best: PrefixMatch | null = null;
    const bytes: number[] = [];
    for (let i = pos; i < text.length; ) {
      let cp = text.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      bytes.length = 0;
      if (cp < 0x80) bytes.push(cp);
      else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
      else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
      else bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
      let leaf = false;
      for (const b of bytes) {
        node ^= b;
        const unit = u[node];
        if (unit === undefined || label(unit) !== b) return best;
        node ^= offset(unit);
        leaf = ((unit >>> 8) & 1) === 1;
      }
      i += len;
      if (leaf) best = { length: i - pos, replacement: this.stringAt(u[node]! & 0x7fffffff) };
    }
    return best;
  }

  private stringAt(value: number): string {
    let end = value;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return this.decoder.decode(this.normalized.subarray(value, end));
  }

  /** Whether the one-unit text `text[i]` is unmapped (the common case, answered without a string). */
  unmappedUnit(text: string, i: number): boolean {
    const c = text.charCodeAt(i);
    let k = this.single[c]!;
    if (k === 0) this.single[c] = k = this.lookup(text[i]!) === null ? 1 : 2;
    return k === 1;
  }

  /** The replacement for the shortest mapped prefix of `chunk`, or null when none is mapped. */
  lookup(chunk: string): string | null {
    const hit = this.cache.get(chunk);
    if (hit !== undefined) return hit;
    const key = this.encoder.encode(chunk);
    const u = this.units;
    if (u.length === 0) return null;
    let node = offset(u[0]!);
    let result: string | null = null;
    for (let i = 0; i < key.length; i++) {
      node ^= key[i]!;
      const unit = u[node];
      if (unit === undefined || label(unit) !== key[i]) break;
      node ^= offset(unit);
      if ((unit >>> 8) & 1) {
        result = this.stringAt(u[node]! & 0x7fffffff);
        break;
      }
    }
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(chunk, result);
    return result;
  }
}

export interface PrefixMatch {
  /** UTF-16 units of the input covered by the match. */
  length: number;
  replacement: string;
}

function offset(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}
function label(unit: number): number {
  return unit & ((1 << 31) | 0xff);
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Characters handed to `Intl.Segmenter` at a time (it is quadratic over a whole long text). */
const SEGMENT_WINDOW = 256;

/** How many characters `forEachGrapheme` has handed to `Intl.Segmenter` in all (for tests of linearity). */
export const segmenterWork = { chars: 0, calls: 0 };

/**
 * Characters that are each a grapheme cluster of their own between two others of the set: printable ASCII,
 * Latin letters, Greek, Cyrillic, Hebrew and Arabic letters, kana, CJK ideographs and punctuation, Hangul
 * syllables, full-width forms. None is a control, Extend, ZWJ, SpacingMark, Prepend or regional indicator,
 * and the only pairs of them that a grapheme rule could join (Hangul) are syllable + syllable, which no
 * rule joins; so between two of them there is always a boundary, whatever surrounds them.
 */
function standalone(c: number): boolean {
  if (c < 0x7f) return c >= 0x20;
  if (c < 0xc0) return false;
  if (c < 0x300) return true;
  if (c < 0x3400) {
    return (
      (c >= 0x370 && c <= 0x3ff) || (c >= 0x400 && c <= 0x482) || (c >= 0x48a && c <= 0x52f) || (c >= 0x5d0 && c <= 0x5ea) ||
      (c >= 0x620 && c <= 0x64a) || (c >= 0x3000 && c <= 0x3029) || (c >= 0x3041 && c <= 0x3096) || (c >= 0x30a1 && c <= 0x30fa)
    );
  }
  return (c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xff01 && c <= 0xff9d);
}

const MARK_RE = /[\p{Mn}\p{Me}]/u;
/** Per UTF-16 code unit: 0 not known yet, 1 a nonspacing or enclosing mark, 2 not. */
const markKind = new Uint8Array(65536);

/**
 * Nonspacing and enclosing marks: Grapheme_Extend, so grapheme break Extend (never SpacingMark, which has
 * exceptions that break). A standalone character after one always starts a grapheme: only a Prepend before
 * it, an Indic conjunct consonant, an emoji after a ZWJ or Hangul could join it to what precedes.
 */
function isMark(c: number): boolean {
  let k = markKind[c]!;
  if (k === 0) markKind[c] = k = MARK_RE.test(String.fromCharCode(c)) ? 1 : 2;
  return k === 1;
}

/** C0 and C1 controls but CR and LF: grapheme break Control. */
function isControl(c: number): boolean {
  return (c < 0x20 && c !== 10 && c !== 13) || (c >= 0x7f && c <= 0x9f);
}

/**
 * Whether there is a grapheme boundary before `text[i]` (0 < i < length) whatever else the text holds:
 * around a control, around CR and LF but between them (a lone surrogate is no control to the segmenter); before a `standalone` character
 * after another, after a mark, a ZWJ (a standalone character is no pictograph) or an emoji-block character
 * (none is Prepend or a Hangul jamo); before a lone surrogate after any of these or another lone
 * surrogate; after a lone surrogate before a standalone character or an emoji-block one but a skin-tone
 * modifier.
 */
function certainBoundary(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  const p = text.charCodeAt(i - 1);
  if (isControl(c) || isControl(p) || c === 13 || p === 10) return true;
  if (c === 10) return p !== 13;
  if (p === 13) return true;
  // A lone surrogate is grapheme break Other to the segmenter: a boundary before it unless what precedes
  // is Prepend, after it unless what follows is Extend, ZWJ or SpacingMark.
  if (loneSurrogate(text, i)) return standalone(p) || isMark(p) || p === 0x200d || loneSurrogate(text, i - 1) || emojiBefore(text, i);
  if (loneSurrogate(text, i - 1)) {
    if (standalone(c)) return true;
    if ((c & 0xfc00) === 0xd800 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // An emoji-block character but a skin-tone modifier (Extend).
      const cp = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(i + 1) - 0xdc00);
      return cp >= 0x1f000 && cp <= 0x1faff && !(cp >= 0x1f3fb && cp <= 0x1f3ff);
    }
    return false;
  }
  if (!standalone(c)) return false;
  if (standalone(p) || isMark(p) || p === 0x200d) return true;
  return emojiBefore(text, i);
}

/** Whether `text[i]` is a surrogate not part of a pair. */
function loneSurrogate(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  if ((c & 0xfc00) === 0xd800) return !(i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00);
  if ((c & 0xfc00) === 0xdc00) return !(i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800);
  return false;
}

/** Whether the character ending at `i` is in the emoji blocks U+1F000-1FAFF (none is Prepend or a Hangul jamo). */
function emojiBefore(text: string, i: number): boolean {
  const p = text.charCodeAt(i - 1);
  if ((p & 0xfc00) !== 0xdc00 || i < 2) return false;
  const h = text.charCodeAt(i - 2);
  if ((h & 0xfc00) !== 0xd800) return false;
  const cp = 0x10000 + ((h - 0xd800) << 10) + (p - 0xdc00);
  return cp >= 0x1f000 && cp <= 0x1faff;
}

/**
 * Calls `f(start, end)` for each extended grapheme cluster of `text`, as `Intl.Segmenter` finds them over
 * the whole text, in work linear in the text (`Intl.Segmenter` iterated over a whole long text is
 * quadratic, and costly per call). The text is cut at boundaries that hold whatever surrounds them (a
 * `standalone` character after another or after a mark); a piece that is one character, or a standalone
 * character with marks, is one grapheme; other pieces go to the segmenter a window at a time: grapheme
 * boundaries depend only on what precedes them and the character after, so segmenting from a known
 * boundary gives the whole text's boundaries up to the window's last one; the segment cut by the window's
 * end is segmented again in the next window (a window holding a single grapheme grows until it holds its
 * end).
 */
export function forEachGrapheme(text: string, f: (start: number, end: number) => void, window = SEGMENT_WINDOW): void {
  const n = text.length;
  let pos = 0; // always a boundary
  while (pos < n) {
    let j = pos + 1;
    let marksOnly = true;
    while (j < n && !certainBoundary(text, j)) {
      if (marksOnly && !isMark(text.charCodeAt(j))) marksOnly = false;
      j++;
    }
    // One code point, or a standalone character with marks, between two boundaries: one grapheme.
    const single = j === pos + 1 || (j === pos + 2 && (text.charCodeAt(pos) & 0xfc00) === 0xd800 && (text.charCodeAt(pos + 1) & 0xfc00) === 0xdc00);
    if (single || (marksOnly && standalone(text.charCodeAt(pos)))) f(pos, j);
    else segmentWindows(text, pos, j, f, window);
    pos = j;
  }
}

/** `forEachGrapheme` over [from, to), both boundaries, through `Intl.Segmenter` a window at a time. */
function segmentWindows(text: string, from: number, to: number, f: (start: number, end: number) => void, window: number): void {
  let pos = from;
  let size = window;
  while (pos < to) {
    let end = Math.min(to, pos + size);
    // Never cut a surrogate pair: the half left at the window's end would segment differently.
    if (end < to && (text.charCodeAt(end - 1) & 0xfc00) === 0xd800 && (text.charCodeAt(end) & 0xfc00) === 0xdc00) end++;
    const chunk = text.slice(pos, end);
    segmenterWork.chars += chunk.length;
    segmenterWork.calls++;
    let prev = -1;
    for (const { index } of segmenter.segment(chunk)) {
      if (prev >= 0) f(pos + prev, pos + index);
      prev = index;
    }
    if (end === to) {
      if (prev >= 0) f(pos + prev, to);
      return;
    }
    if (prev > 0) {
      // The last segment may continue past the window: start the next window with it.
      pos += prev;
      size = window;
    } else size *= 2; // one grapheme fills the whole window
  }
}

/**
 * The normalisation of `tokenizers`' Precompiled normaliser: each grapheme shorter than 6 bytes that the
 * map knows is replaced whole; otherwise each of its characters that the map knows. The replacements are
 * tagged as `tokenizers` tags them and laid over the input positionally, as `NormalizedString.transform`
 * does, but streamed (no list of tagged characters) and with unchanged stretches copied in one piece.
 */
export function applyCharsMap(map: PrecompiledCharsMap, s: NormalizedString): NormalizedString {
  const t = s.text;
  const w = new TagWriter(s);
  forEachGrapheme(t, (a, b) => {
    if (b - a === 1 && map.unmappedUnit(t, a)) {
      w.keep(a);
      return;
    }
    const segment = t.slice(a, b);
    if (b - a < 6 && utf8Length(segment) < 6) {
      const norm = map.lookup(segment);
      if (norm !== null) {
        w.replace(segment, norm);
        return;
      }
    }
    for (let i = a; i < b; ) {
      const len = charLen(t, i);
      if (len === 1 && map.unmappedUnit(t, i)) w.keep(i);
      else {
        const ch = t.slice(i, i + len);
        const norm = map.lookup(ch);
        if (norm !== null) w.replace(ch, norm);
        else w.item(ch, 0);
      }
      i += len;
    }
  });
  return w.finish();
}

/**
 * Tagged characters (0: replaces the next input character, +1: inserted, -k: replaces it and removes k
 * more) applied to `src` as they come. The last one is held back: a replacement by nothing adds its
 * removal to the character before it.
 */
class TagWriter {
  private b: Builder;
  private t: string;
  private pos = 0;
  /** Input consumed so far. Pending character: a string, or an input index (`keep`), with its tag. */
  private pendingChar: string | null = null;
  private pendingIndex = -1;
  private pendingTag = 0;
  /** A stretch [runStart, runEnd) of input copied unchanged, not yet written. */
  private runStart = 0;
  private runEnd = 0;
  private modified = false;

  constructor(private src: NormalizedString) {
    this.t = src.text;
    this.b = new Builder(src.length);
  }

  /** The input character at `i`, unchanged (tag 0). */
  keep(i: number): void {
    this.flush();
    this.pendingIndex = i;
    this.pendingTag = 0;
  }

  item(ch: string, tag: number): void {
    this.flush();
    this.pendingChar = ch;
    this.pendingTag = tag;
  }

  /** `old` replaced by `repl`, tagged as `tokenizers`' Precompiled normaliser tags it. */
  replace(old: string, repl: string): void {
    this.modified = true;
    let oldCount = 0;
    for (let i = 0; i < old.length; i += charLen(old, i)) oldCount++;
    const chars = Array.from(repl);
    const diff = chars.length - oldCount;
    chars.forEach((c, k) => this.item(c, diff > 0 && k >= chars.length - diff ? 1 : 0));
    if (diff < 0 && this.pending()) this.pendingTag += diff;
  }

  private pending(): boolean {
    return this.pendingChar !== null || this.pendingIndex >= 0;
  }

  private flush(): void {
    if (!this.pending()) return;
    const t = this.t;
    const src = this.src;
    const tag = this.pendingTag;
    const c = this.pendingChar ?? t[this.pendingIndex]!;
    this.pendingChar = null;
    this.pendingIndex = -1;
    if (tag > 0) {
      this.writeRun();
      if (this.pos > 0) this.b.push(c, src.start(this.pos - 1), src.end(this.pos - 1));
      else this.b.push(c, 0, 0);
      return;
    }
    const pos = this.pos;
    if (pos >= t.length) throw new Error('NormalizedString.transform: more replacements than input characters');
    const len = charLen(t, pos);
    // Laid over an equal input character with one alignment: a copy of the input.
    const same = c.length === len && t.startsWith(c, pos) && (len === 1 || (src.start(pos + 1) === src.start(pos) && src.end(pos + 1) === src.end(pos)));
    if (same && this.runEnd === pos) this.runEnd = pos + len;
    else if (same) {
      this.writeRun();
      this.runStart = pos;
      this.runEnd = pos + len;
    } else {
      this.writeRun();
      this.b.push(c, src.start(pos), src.end(pos));
    }
    let p = pos + len;
    for (let k = 0; k < -tag && p < t.length; k++) p += charLen(t, p);
    this.pos = p;
  }

  private writeRun(): void {
    if (this.runEnd > this.runStart) this.b.copy(this.src, this.runStart, this.runEnd);
    this.runStart = this.runEnd = 0;
  }

  finish(): NormalizedString {
    this.flush();
    if (!this.modified) return this.src;
    this.writeRun();
    return this.b.build(this.src.origin);
  }
}

export function precompiledNormalizer(base64: string | null, where: string): Normalizer {
  if (!base64) return (s) => s;
  const map = new PrecompiledCharsMap(decodeBase64(base64, `${where}.precompiled_charsmap`), `${where}.precompiled_charsmap`);
  return (s) => applyCharsMap(map, s);
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Base64 to bytes without Node's Buffer, so this module also runs in browsers. */
function decodeBase64(b64: string, where: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64.replace(/\s+/g, ''));
  } catch {
    throw new Error(`${where}: not valid base64`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
