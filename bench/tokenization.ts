// Tokenisation rate: this project's tokenizer against transformers.js' on the same tokenizer.json,
// one sentence at a time over the Brown corpus (special tokens added, no padding), in interleaved chunks.
import { AutoTokenizer } from '../src/tokenizers/index.ts';
import type { TjsTokenizer } from './transformersjs.ts';

export type Encode = (text: string) => number[];

/** This project's tokenizer, reading the folder's tokenizer.json (the file transformers.js reads). */
export async function ourTokenizer(dir: string): Promise<Encode> {
  const tok = await AutoTokenizer.fromPretrained(dir, { use: 'tokenizer.json' });
  return (text) => tok.encode(text);
}

export function tjsEncode(tok: TjsTokenizer): Encode {
  return (text) => tok.encode(text);
}

export interface TokRate { sentences: number; chars: number; tokens: number; ms: number; sentencesPerS: number; tokensPerS: number; mbPerS: number }
export interface TokResult { ours: TokRate; tjs: TokRate; ratio: number; mismatches: number; checked: number }

export async function measureTokenization(sentences: string[], ours: Encode, tjs: Encode, chunk = 2000): Promise<TokResult> {
  const chunks: string[][] = [];
  for (let i = 0; i < sentences.length; i += chunk) chunks.push(sentences.slice(i, i + chunk));
  const chars = sentences.reduce((a, s) => a + s.length, 0);
  const sides: Record<string, Encode> = { ours, tjs };
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
  const oursRate = rate('ours');
  let mismatches = 0;
  const sample = sentences.filter((_, i) => i % 10 === 0);
  for (const s of sample) if (ours(s).join() !== tjs(s).join()) mismatches++;
  return { ours: oursRate, tjs: tjsRate, ratio: oursRate.tokensPerS / tjsRate.tokensPerS, mismatches, checked: sample.length };
}
