// GPT-2's byte-level alphabet: every UTF-8 byte is shown as one printable character (printable Latin-1
// bytes stand for themselves, the others are moved to U+0100 and up), so that BPE runs over bytes
// without ever producing an unknown symbol.
import { NormalizedString } from './normalized.ts';
import { WHITESPACE_CLASS } from './normalized.ts';

let alphabet: string[] | null = null;
let reverse: Map<number, number> | null = null;

/** The character standing for each byte value 0..255. */
export function byteLevelAlphabet(): string[] {
  if (alphabet) return alphabet;
  const a: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    a[b] = String.fromCharCode(printable ? b : 256 + n++);
  }
  alphabet = a;
  return a;
}

let codesOf: { alphabet: string[]; codes: Uint16Array } | null = null;
/** The character codes of `a` (the byte-level alphabet). */
function alphabetCodes(a: string[]): Uint16Array {
  if (codesOf?.alphabet !== a) codesOf = { alphabet: a, codes: Uint16Array.from(a, (c) => c.charCodeAt(0)) };
  return codesOf.codes;
}

/** Character code of the byte-level alphabet -> byte value. */
export function byteLevelDecoderMap(): Map<number, number> {
  if (reverse) return reverse;
  const a = byteLevelAlphabet();
  reverse = new Map(a.map((c, b) => [c.charCodeAt(0), b]));
  return reverse;
}

/** GPT-2's split: contractions, letters, numbers, other symbols, whitespace (with Unicode `\s`). */
export const GPT2_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WHITESPACE_CLASS}\\p{L}\\p{N}]+|[${WHITESPACE_CLASS}]+(?![^${WHITESPACE_CLASS}])|[${WHITESPACE_CLASS}]+`,
  'gu',
);

const ASCII_REMAP = /[\x00-\x20\x7f]/g;
const HAS_REMAP = /[\x00-\x20\x7f]/;

/** ASCII text with controls and spaces remapped; the usual case is a single leading space. */
function remapAscii(t: string, a: string[]): string {
  const c0 = t.charCodeAt(0);
  if (c0 <= 0x20 || c0 === 0x7f) {
    const rest = t.slice(1);
    return a[c0]! + (HAS_REMAP.test(rest) ? rest.replace(ASCII_REMAP, (c) => a[c.charCodeAt(0)]!) : rest);
  }
  return t.replace(ASCII_REMAP, (c) => a[c.charCodeAt(0)]!);
}

/** The bytes of the word under way, then their characters' codes (reused from word to word). */
let scratch = new Uint16Array(256);

/**
 * Alignment arrays for words, cut from shared chunks: one buffer allocation per 64k entries instead of
 * two per word (each outside the heap, with its own bookkeeping for the garbage collector). A chunk is
 * never reused; it is freed when no word's arrays point into it any more.
 */
let chunk = new Int32Array(0);
let chunkUsed = 0;
function int32s(n: number): Int32Array {
  if (n > 4096) return new Int32Array(n);
  if (chunkUsed + n > chunk.length) {
    chunk = new Int32Array(65536);
    chunkUsed = 0;
  }
  const a = chunk.subarray(chunkUsed, chunkUsed + n);
  chunkUsed += n;
  return a;
}

/**
 * Alignment arrays reused from word to word, for a caller that is done with each word before asking for
 * the next (`transient`): a long text's words then allocate no alignment memory at all.
 */
let reusedStarts = new Int32Array(256);
let reusedEnds = new Int32Array(256);

/**
 * Rewrites `s` into byte-level characters; every byte keeps the alignment of its character. `transient`:
 * the result's alignment arrays are reused by the next call (the caller keeps nothing of the result).
 */
export function toByteLevel(s: NormalizedString, a: string[], transient = false): NormalizedString {
  const t = s.text;
  const n = t.length;
  // ASCII: one byte per character, alignments unchanged; only controls and space are remapped.
  let ascii = true;
  let plain = true;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    if (c <= 0x20 || c === 0x7f) plain = false;
  }
  if (ascii) {
    if (plain) return s;
    return new NormalizedString(remapAscii(t, a), s.starts, s.ends, s.origin, s.base);
  }
  // Count output length first (UTF-8 byte count).
  let size = 0;
  for (let i = 0; i < n; i++) {
    const c = t.charCodeAt(i);
    if (c < 0x80) size += 1;
    else if (c < 0x800) size += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (t.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      size += 4;
      i++;
    } else size += 3;
  }
  let starts: Int32Array;
  let ends: Int32Array;
  if (transient) {
    if (reusedStarts.length < size) {
      reusedStarts = new Int32Array(Math.max(size, 2 * reusedStarts.length));
      reusedEnds = new Int32Array(reusedStarts.length);
    }
    starts = reusedStarts;
    ends = reusedEnds;
  } else {
    starts = int32s(size);
    ends = int32s(size);
  }
  if (scratch.length < size) scratch = new Uint16Array(Math.max(size, 2 * scratch.length));
  const bytes = scratch;
  const codes = alphabetCodes(a);
  let o = 0;
  for (let i = 0; i < n; i++) {
    let c = t.charCodeAt(i);
    const k = o;
    if (c < 0x80) bytes[o++] = c;
    else if (c < 0x800) {
      bytes[o++] = 0xc0 | (c >> 6);
      bytes[o++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (t.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      c = 0x10000 + ((c - 0xd800) << 10) + (t.charCodeAt(i + 1) - 0xdc00);
      bytes[o++] = 0xf0 | (c >> 18);
      bytes[o++] = 0x80 | ((c >> 12) & 0x3f);
      bytes[o++] = 0x80 | ((c >> 6) & 0x3f);
      bytes[o++] = 0x80 | (c & 0x3f);
    } else {
      // Lone surrogates are encoded as U+FFFD, as a UTF-8 encoder would.
      if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      bytes[o++] = 0xe0 | (c >> 12);
      bytes[o++] = 0x80 | ((c >> 6) & 0x3f);
      bytes[o++] = 0x80 | (c & 0x3f);
    }
    starts.fill(s.start(i), k, o);
    ends.fill(s.end(i), k, o);
    if (o - k === 4) i++;
  }
  // The text in one piece (appending character by character builds a chain of string pieces per word).
  for (let j = 0; j < size; j++) bytes[j] = codes[bytes[j]!]!;
  let out = '';
  for (let j = 0; j < size; j += 8192) out += String.fromCharCode.apply(null, bytes.subarray(j, Math.min(size, j + 8192)) as unknown as number[]);
  return new NormalizedString(out, starts, ends, s.origin);
}

/**
 * Joins tokens back into text: a token made only of byte-level characters contributes those bytes, any
 * other token its own UTF-8; the bytes are then decoded, invalid UTF-8 becoming U+FFFD.
 */
export function decodeByteLevel(tokens: string[]): string {
  const map = byteLevelDecoderMap();
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  for (const t of tokens) {
    const mark = bytes.length;
    let ok = true;
    for (let i = 0; i < t.length; i++) {
      const b = map.get(t.charCodeAt(i));
      if (b === undefined) {
        ok = false;
        break;
      }
      bytes.push(b);
    }
    if (!ok) {
      bytes.length = mark;
      for (const b of encoder.encode(t)) bytes.push(b);
    }
  }
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(new Uint8Array(bytes));
}
