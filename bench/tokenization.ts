// Tokenisation rate: this project's tokenizer against transformers.js' on the same tokenizer.json,
// one sentence at a time over the Brown corpus (special tokens added, no padding), in interleaved chunks.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TjsTokenizer } from './transformersjs.ts';

const here = dirname(fileURLToPath(import.meta.url));

export type Encode = (text: string) => number[];

/**
 * SLOT — this project's tokenizer is being finished by another engineer (`AutoTokenizer` in src/tokenizers/).
 * Until it exports one, the row reports "not available". Looked up at run time so the bench type-checks
 * either way: the first of these modules that exports `AutoTokenizer.fromPretrained(dir)`.
 */
const OUR_TOKENIZER_MODULES = ['../src/tokenizers/index.ts', '../src/tokenizers/auto.ts', '../src/index.ts'];

export async function ourTokenizer(dir: string): Promise<Encode | string> {
  for (const rel of OUR_TOKENIZER_MODULES) {
    if (!existsSync(join(here, rel))) continue;
    const mod = (await import(rel)) as { AutoTokenizer?: { fromPretrained?: (d: string) => Promise<unknown> } };
    if (typeof mod.AutoTokenizer?.fromPretrained !== 'function') continue;
    const tok = (await mod.AutoTokenizer.fromPretrained(dir)) as { encode?: (t: string) => unknown };
    if (typeof tok.encode !== 'function') return `${rel}: AutoTokenizer has no encode(text)`;
    return (text) => idsOf(tok.encode!(text));
  }
  return `not available yet (no AutoTokenizer in ${OUR_TOKENIZER_MODULES.join(', ')})`;
}

/** encode() may return the ids or an encoding object holding them. */
function idsOf(x: unknown): number[] {
  if (Array.isArray(x)) return x as number[];
  const o = x as { ids?: ArrayLike<number>; inputIds?: ArrayLike<number>; input_ids?: ArrayLike<number> };
  const ids = o.ids ?? o.inputIds ?? o.input_ids;
  if (!ids) throw new Error('encode(text) returned no ids');
  return Array.from(ids);
}

export function tjsEncode(tok: TjsTokenizer): Encode {
  return (text) => tok.encode(text);
}

export interface TokRate { sentences: number; chars: number; tokens: number; ms: number; sentencesPerS: number; tokensPerS: number; mbPerS: number }
export interface TokResult { ours: TokRate | string; tjs: TokRate; ratio?: number; mismatches?: number; checked?: number }

export async function measureTokenization(sentences: string[], ours: Encode | string, tjs: Encode, chunk = 2000): Promise<TokResult> {
  const chunks: string[][] = [];
  for (let i = 0; i < sentences.length; i += chunk) chunks.push(sentences.slice(i, i + chunk));
  const chars = sentences.reduce((a, s) => a + s.length, 0);
  const sides: Record<string, Encode> = typeof ours === 'string' ? { tjs } : { ours, tjs };
  const names = Object.keys(sides);
  const tokens: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  const ms: Record<string, number> = Object.fromEntries(names.map((k) => [k, 0]));
  for (const enc of Object.values(sides)) for (const s of chunks[0] ?? []) enc(s); // warm-up
  // Every chunk once per side, the side going first alternating; the total time over the corpus.
  for (const [i, c] of chunks.entries()) {
    for (const k of i % 2 ? [...names].reverse() : names) {
      const enc = sides[k]!;
      const t0 = performance.now();
      let count = 0;
      for (const s of c) count += enc(s).length;
      ms[k]! += performance.now() - t0;
      tokens[k]! += count;
    }
  }
  const rate = (k: string): TokRate => ({
    sentences: sentences.length, chars, tokens: tokens[k]!, ms: ms[k]!, sentencesPerS: sentences.length / (ms[k]! / 1e3),
    tokensPerS: tokens[k]! / (ms[k]! / 1e3), mbPerS: chars / 1e6 / (ms[k]! / 1e3),
  });
  const tjsRate = rate('tjs');
  if (typeof ours === 'string') return { ours, tjs: tjsRate };
  const oursRate = rate('ours');
  let mismatches = 0;
  const sample = sentences.filter((_, i) => i % 10 === 0);
  for (const s of sample) if (ours(s).join() !== tjs(s).join()) mismatches++;
  return { ours: oursRate, tjs: tjsRate, ratio: oursRate.tokensPerS / tjsRate.tokensPerS, mismatches, checked: sample.length };
}
