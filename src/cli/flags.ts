// Flag parsers every command shares: each bad value fails naming the flag, before any work is done.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DTYPES, type Dtype } from '../models/auto.ts';
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

/**
 * Makes the missing folders above an output file (checkWritableFile lets paths still to be made pass), one
 * at a time: Node's recursive mkdir spins forever under some virtual file systems (/proc).
 */
export function makeFolderFor(file: string, flag: string): void {
  const missing: string[] = [];
  for (let dir = dirname(resolve(file)); !existsSync(dir) && dirname(dir) !== dir; dir = dirname(dir)) missing.unshift(dir);
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (err) {
      throw new Error(`${flag}: cannot create the folder ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
}

/** --dtype: one of the pipelines' dtypes, or undefined when not given. */
export function dtypeFlag(value: string | undefined): Dtype | undefined {
  return value === undefined ? undefined : oneOf(value, DTYPES, '--dtype');
}

export const DTYPE_HELP = `${DTYPES.join(', ')}: the weights' precision (fp16: half precision, for GPUs with shader-f16; q8, int8: dynamic int8 matrix products)`;
