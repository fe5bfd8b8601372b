// The `nmt_nfkc` normalisation rule of SentencePiece, built from this runtime's Unicode tables, and its
// compiled form (`precompiled_charsmap`): what a trained `spm.model` carries so that sentencepiece,
// `tokenizers` and this project normalise text the same way at encoding time as we did when training.
//
// The rule set follows SentencePiece's recipe: every code point whose NFKC form differs maps to it; every
// sequence that is canonically equivalent to a composed character (spelled with any characters that
// decompose to its parts) maps to the composed form; rules that shorter rules already imply are dropped;
// then the "NMT" extras: control/format whitespace becomes a space, other control characters
// are removed, and the full-width tilde is kept.
//
// Blob layout (little-endian): uint32 trie byte size | trie units (uint32 each, see darts.ts) | the
// replacement strings, each UTF-8 and NUL-terminated; a trie value is the offset of its replacement.
import { buildDoubleArray, compareBytes, listKeys } from './darts.ts';

export type CharsMap = Map<string, string>;

const NMT_SPACES = [0x9, 0xa, 0xc, 0xd, 0x1680, 0x200b, 0x200c, 0x200e, 0x200f, 0x2028, 0x2029, 0x2581, 0xfeff, 0xfffd];
// Removed outright: C0 controls other than the whitespace above, DEL and two C1 controls.
const NMT_REMOVED = [
  ...[0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0xb, 0xe, 0xf],
  ...Array.from({ length: 16 }, (_, i) => 0x10 + i),
  ...[0x7f, 0x8f, 0x9f],
];
const FULLWIDTH_TILDE = 0xff5e;

function isUnicodeChar(cp: number): boolean {
  if (cp >= 0xd800 && cp <= 0xdfff) return false; // surrogates
  if (cp >= 0xfdd0 && cp <= 0xfdef) return false; // noncharacters
  return (cp & 0xfffe) !== 0xfffe; // U+xxFFFE / U+xxFFFF
}

/** The NFKC rules: single characters and composable sequences (keys and values as strings). */
export function buildNfkcRules(): CharsMap {
  const rules: CharsMap = new Map();
  const norm2orig = new Map<string, string[]>(); // fully decomposed char -> other chars that decompose to it
  const decomposed = new Set<string>();
  for (let cp = 1; cp <= 0x10ffff; cp++) {
    if (cp === 0x40000) cp = 0xe0000; // planes 4-13 hold no characters
    if (!isUnicodeChar(cp)) continue;
    const s = String.fromCodePoint(cp);
    const kd = s.normalize('NFKD');
    if (kd === s) continue; // no decomposition: NFKC leaves it alone too
    const kc = s.normalize('NFKC');
    if (kc !== s) rules.set(s, kc);
    if (kd.length <= 2 && [...kd].length === 1) {
      const list = norm2orig.get(kd);
      if (list) list.push(s);
      else norm2orig.set(kd, [s]);
    } else {
      decomposed.add(kd);
    }
  }
  for (const kd of decomposed) {
    const composed = kd.normalize('NFC');
    if (composed === kd) continue;
    // Every spelling whose characters each decompose to the parts of `kd` composes to `composed`.
    let spellings = [''];
    for (const ch of kd) {
      // The character itself, and every character whose decomposition is exactly it.
      const origs = [ch, ...(norm2orig.get(ch) ?? [])];
      const next: string[] = [];
      for (const prefix of spellings) for (const o of origs) next.push(prefix + o);
      spellings = next;
    }
    for (const sp of spellings) if (sp !== composed) rules.set(sp, composed);
  }
  return removeRedundant(rules);
}

/** SentencePiece's `nmt_nfkc`: NFKC plus whitespace-like controls as spaces, full-width tilde kept. */
export function buildNmtNfkcRules(): CharsMap {
  const rules = buildNfkcRules();
  for (const cp of NMT_SPACES) rules.set(String.fromCodePoint(cp), ' ');
  for (const cp of NMT_REMOVED) rules.set(String.fromCodePoint(cp), '');
  rules.delete(String.fromCodePoint(FULLWIDTH_TILDE));
  return removeRedundant(rules);
}

/** Applies `rules` to `text` by longest match over at most `maxLen` characters (the reference semantics). */
export function applyRules(rules: CharsMap, text: string, maxLen: number): string {
  // Code unit offsets of the characters.
  const at: number[] = [];
  for (let i = 0; i < text.length; i += text.codePointAt(i)! > 0xffff ? 2 : 1) at.push(i);
  at.push(text.length);
  const n = at.length - 1;
  let out = '';
  for (let i = 0; i < n; ) {
    let len = Math.min(maxLen, n - i);
    for (; len >= 1; len--) {
      const v = rules.get(text.slice(at[i]!, at[i + len]!));
      if (v !== undefined) {
        out += v;
        break;
      }
    }
    if (len >= 1) i += len;
    else {
      out += text.slice(at[i]!, at[i + 1]!);
      i++;
    }
  }
  return out;
}

/** Drops multi-character rules that the shorter rules already produce. */
function removeRedundant(rules: CharsMap): CharsMap {
  const byLen = new Map<number, [string, string][]>();
  const kept: CharsMap = new Map();
  let maxLen = 0;
  for (const [k, v] of rules) {
    const len = charCount(k);
    if (len === 1) {
      kept.set(k, v);
      continue;
    }
    maxLen = Math.max(maxLen, len);
    const list = byLen.get(len);
    if (list) list.push([k, v]);
    else byLen.set(len, [[k, v]]);
  }
  for (let len = 2; len <= maxLen; len++) {
    for (const [k, v] of byLen.get(len) ?? []) if (applyRules(kept, k, len - 1) !== v) kept.set(k, v);
  }
  return kept;
}

function charCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i += s.codePointAt(i)! > 0xffff ? 2 : 1) n++;
  return n;
}

/** Compiles rules into the `precompiled_charsmap` blob. */
export function compileCharsMap(rules: CharsMap): Uint8Array {
  const enc = new TextEncoder();
  // One copy of each distinct replacement, in a stable order.
  const targets = [...new Set(rules.values())].sort();
  const targetPos = new Map<string, number>();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const t of targets) {
    if (t.includes('\0')) throw new Error('compileCharsMap: a replacement holds NUL');
    targetPos.set(t, size);
    const b = enc.encode(t + '\0');
    parts.push(b);
    size += b.length;
  }
  const entries = [...rules].map(([k, v]) => ({ key: enc.encode(k), value: targetPos.get(v)! }));
  entries.sort((a, b) => compareBytes(a.key, b.key));
  const units = buildDoubleArray(
    entries.map((e) => e.key),
    entries.map((e) => e.value),
  );
  const out = new Uint8Array(4 + units.length * 4 + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, units.length * 4, true);
  for (let i = 0; i < units.length; i++) view.setUint32(4 + i * 4, units[i]!, true);
  let o = 4 + units.length * 4;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits a blob into its trie units and replacement strings. */
export function decodeCharsMap(blob: Uint8Array, where: string): { units: Uint32Array; normalized: Uint8Array } {
  if (blob.length < 4) throw new Error(`${where}: precompiled_charsmap is too short (${blob.length} bytes)`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const trieSize = view.getUint32(0, true);
  if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) throw new Error(`${where}: precompiled_charsmap is corrupt (trie size ${trieSize})`);
  const units = new Uint32Array(trieSize / 4);
  for (let i = 0; i < units.length; i++) units[i] = view.getUint32(4 + i * 4, true);
  return { units, normalized: blob.subarray(4 + trieSize) };
}

/** The rules a blob holds (for checks and documentation). */
export function decompileCharsMap(blob: Uint8Array, where = 'precompiled_charsmap'): CharsMap {
  const { units, normalized } = decodeCharsMap(blob, where);
  const dec = new TextDecoder('utf-8', { ignoreBOM: true });
  const out: CharsMap = new Map();
  for (const { key, value } of listKeys(units)) {
    let end = value;
    while (end < normalized.length && normalized[end] !== 0) end++;
    out.set(dec.decode(key), dec.decode(normalized.subarray(value, end)));
  }
  return out;
}

let nmtNfkcBlob: Uint8Array | undefined;

/** The compiled `nmt_nfkc` map of this runtime (built once per process, about two seconds). */
export function nmtNfkcCharsMap(): Uint8Array {
  nmtNfkcBlob ??= compileCharsMap(buildNmtNfkcRules());
  return nmtNfkcBlob;
}
