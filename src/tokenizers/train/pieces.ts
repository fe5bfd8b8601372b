// Which strings may become pieces (SentencePiece's rules), on code point arrays.
import { pieceScriptOf } from './unicode-script.ts';
import type { TrainOptions } from './options.ts';

export const WS_CHAR = 0x2581; // "▁", the escaped space
export const UNK_CHAR = 0x2585; // stands for characters outside the alphabet while training

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

export type PieceRules = Pick<TrainOptions, 'maxSentencepieceLength' | 'splitByUnicodeScript' | 'splitByNumber' | 'splitDigits'>;

/**
 * Whether cps[start..end) can be a piece: not too long, no alphabet outsiders, "▁" only in front, and
 * (by default) one Unicode script and digits apart from letters.
 */
export function isValidPiece(cps: ArrayLike<number>, start: number, end: number, rules: PieceRules): boolean {
  const len = end - start;
  if (len <= 0 || len > rules.maxSentencepieceLength) return false;
  let prev = -1;
  for (let i = start; i < end; i++) {
    const c = cps[i]!;
    if (c === UNK_CHAR || c === 0 || c === 0x20) return false;
    if (c === WS_CHAR) {
      if (i > start) return false;
      continue;
    }
    if (rules.splitDigits && isDigit(c) && len > 1) return false;
    if (!rules.splitByUnicodeScript) continue;
    if (!rules.splitByNumber && isDigit(c)) continue; // digits then join any script
    const s = pieceScriptOf(c);
    if (prev !== -1 && s !== prev) return false;
    prev = s;
  }
  return true;
}

export function toCodePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!;
    out.push(c);
    i += c > 0xffff ? 2 : 1;
  }
  return out;
}

/** SentencePiece compares pieces as UTF-8 bytes; for code points that is code point order. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort after the rest of the BMP in UTF-8.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
