// Flag parsers every command shares: each bad value fails naming the flag, before any work is done.
import type { HeadKind } from '../models/deberta/modeling.ts';

export const HEADS: HeadKind[] = [
  'base', 'masked-lm', 'sequence-classification', 'token-classification', 'question-answering', 'multiple-choice',
];

export function parseHead(value: string, flag: string): HeadKind {
  if (!(HEADS as string[]).includes(value)) throw new Error(`${flag}: unknown head '${value}' (expected one of ${HEADS.join(', ')})`);
  return value as HeadKind;
}

export function parseIntFlag(value: string, flag: string, min = -Infinity): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`${flag}: expected an integer${min > -Infinity ? ` >= ${min}` : ''}, got '${value}'`);
  }
  return n;
}

/** A commander parser for an integer flag: a bad value fails naming the flag, before any work is done. */
export function intArg(flag: string, min = -Infinity): (value: string) => number {
  return (value) => parseIntFlag(value, flag, min);
}

export function num(value: string, flag: string, min = -Infinity): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new Error(`${flag}: expected a number${min > -Infinity ? ` >= ${min}` : ''}, got '${value}'`);
  return n;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${flag}: expected one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}
