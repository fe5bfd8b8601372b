// SentencePiece's precompiled normalisation map (`precompiled_charsmap`, as in `spm.model` and in the
// `Precompiled` normaliser of `tokenizer.json`): a Darts double-array trie over UTF-8 bytes whose values
// point into a blob of NUL-terminated replacement strings. Applied as `tokenizers` applies it: grapheme by
// grapheme (a grapheme shorter than 6 bytes is looked up whole, by its shortest mapped prefix), otherwise
// character by character.
import type { Normalizer } from './normalizers.ts';
import type { NormalizedString } from './normalized.ts';

export class PrecompiledCharsMap {
  private units: Uint32Array;
  private normalized: Uint8Array;
  private cache = new Map<string, string | null>();
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

export function applyCharsMap(map: PrecompiledCharsMap, s: NormalizedString): NormalizedString {
  const t = s.text;
  const items: [string, number][] = [];
  let modified = false;
  for (const { segment } of segmenter.segment(t)) {
    if (utf8Length(segment) < 6) {
      const norm = map.lookup(segment);
      if (norm !== null) {
        modified = true;
        pushReplacement(items, segment, norm);
        continue;
      }
    }
    for (const ch of segment) {
      const norm = map.lookup(ch);
      if (norm !== null) {
        modified = true;
        pushReplacement(items, ch, norm);
      } else items.push([ch, 0]);
    }
  }
  return modified ? s.transform(items) : s;
}

function pushReplacement(items: [string, number][], old: string, repl: string): void {
  const oldCount = [...old].length;
  const newChars = [...repl];
  const diff = newChars.length - oldCount;
  for (const c of newChars) items.push([c, 0]);
  if (diff > 0) for (let k = items.length - diff; k < items.length; k++) items[k]![1] = 1;
  else if (diff < 0) {
    if (items.length) items[items.length - 1]![1] += diff;
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
