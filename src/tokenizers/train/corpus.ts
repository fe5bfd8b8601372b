// Reading the training corpus: lines streamed from the input files (so the corpus never has to fit in
// memory), optionally a uniform sample of them, normalised and counted as whitespace-delimited words.
// The trainers work on that word table, as SentencePiece's do: its size grows with the vocabulary of
// the text, not with its length.
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { brownLineToText } from './brown.ts';
import type { InputFormat } from './options.ts';
import { compareCodePoints, UNK_CHAR, WS_CHAR } from './pieces.ts';
import type { SpmNormalizer } from './normalize.ts';

/** Fails, naming the file, when an input is missing or is not a readable file. */
export function checkInputs(files: string[]): void {
  if (files.length === 0) throw new Error('tokenizer training: no input files (--input)');
  for (const f of files) {
    let st;
    try {
      st = statSync(f);
    } catch {
      throw new Error(`tokenizer training: input file ${f} does not exist (--input)`);
    }
    if (!st.isFile()) throw new Error(`tokenizer training: input ${f} is not a file (--input)`);
  }
}

/** The sentences of the input files, one per line, in order. */
export async function* readSentences(files: string[], format: InputFormat): AsyncGenerator<string> {
  for (const file of files) {
    const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      const s = format === 'brown' ? brownLineToText(line) : line;
      if (s !== null && s.length > 0) yield s;
    }
  }
}

/** A uniform sample of `n` sentences (reservoir sampling, seeded), in corpus order. */
export async function sampleSentences(source: AsyncIterable<string>, n: number, seed: number): Promise<{ sample: string[]; seen: number }> {
  const rand = mulberry32(seed);
  const keep: { s: string; i: number }[] = [];
  let seen = 0;
  for await (const s of source) {
    if (keep.length < n) keep.push({ s, i: seen });
    else {
      const j = Math.floor(rand() * (seen + 1));
      if (j < n) keep[j] = { s, i: seen };
    }
    seen++;
  }
  keep.sort((a, b) => a.i - b.i);
  return { sample: keep.map((k) => k.s), seen };
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CountOptions {
  normalizer: SpmNormalizer;
  /** Special pieces: spelled in the text they are replaced by a space, so they never become pieces. */
  reserved: string[];
  maxSentenceLength: number;
  log?: (line: string) => void;
}

export interface WordCounts {
  words: Map<string, number>;
  sentences: number;
  skippedTooLong: number;
  skippedReserved: number;
}

/** Normalises each sentence and counts its words ("▁" starts a word). */
export async function countWords(source: AsyncIterable<string> | Iterable<string>, o: CountOptions): Promise<WordCounts> {
  const words = new Map<string, number>();
  const unk = String.fromCodePoint(UNK_CHAR);
  let sentences = 0;
  let skippedTooLong = 0;
  let skippedReserved = 0;
  let lastLog = Date.now();
  for await (let s of source) {
    if (s.length > o.maxSentenceLength || (s.length * 3 > o.maxSentenceLength && Buffer.byteLength(s) > o.maxSentenceLength)) {
      skippedTooLong++;
      continue;
    }
    if (s.includes(unk)) {
      skippedReserved++;
      continue;
    }
    if (s.includes('\0')) s = s.replaceAll('\0', '');
    for (const r of o.reserved) if (s.includes(r)) s = s.split(r).join(' ');
    const norm = o.normalizer.normalize(s);
    if (norm.length === 0) continue;
    sentences++;
    let start = 0;
    for (let i = 1; i <= norm.length; i++) {
      if (i === norm.length || norm.charCodeAt(i) === WS_CHAR) {
        const w = norm.slice(start, i);
        const n = words.get(w);
        // A new key is copied out of the sentence, so the table does not keep whole sentences alive.
        if (n === undefined) words.set(Buffer.from(w, 'utf16le').toString('utf16le'), 1);
        else words.set(w, n + 1);
        start = i;
      }
    }
    if (o.log && sentences % 100000 === 0 && Date.now() - lastLog > 2000) {
      lastLog = Date.now();
      o.log(`read ${sentences} sentences, ${words.size} distinct words`);
    }
  }
  return { words, sentences, skippedTooLong, skippedReserved };
}

export interface TrainingWords {
  /** Distinct words, most frequent first (ties in code point order); rare characters are UNK_CHAR. */
  words: string[];
  freqs: Float64Array;
  /** The alphabet: characters kept by the coverage, most frequent first, with their counts. */
  chars: { cp: number; count: number }[];
  /** Share of character occurrences the alphabet covers. */
  coverage: number;
}

/**
 * Picks the alphabet (the most frequent characters until `coverage` of all occurrences are covered;
 * "▁" counts as a character) and rewrites characters outside it as UNK_CHAR.
 */
export function buildTrainingWords(counts: Map<string, number>, coverage: number): TrainingWords {
  const charCount = new Map<number, number>();
  let total = 0;
  for (const [w, f] of counts) {
    for (let i = 0; i < w.length; ) {
      const c = w.codePointAt(i)!;
      i += c > 0xffff ? 2 : 1;
      charCount.set(c, (charCount.get(c) ?? 0) + f);
      total += f;
    }
  }
  const sorted = [...charCount].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const chars: { cp: number; count: number }[] = [];
  let acc = 0;
  for (const [cp, count] of sorted) {
    if (acc / total >= coverage) break;
    acc += count;
    chars.push({ cp, count });
  }
  const kept = new Set(chars.map((c) => c.cp));
  const merged = new Map<string, number>();
  const unk = String.fromCodePoint(UNK_CHAR);
  for (const [w, f] of counts) {
    let out = w;
    if (chars.length < charCount.size) {
      let rewritten = '';
      let changed = false;
      for (const ch of w) {
        if (kept.has(ch.codePointAt(0)!)) rewritten += ch;
        else {
          rewritten += unk;
          changed = true;
        }
      }
      if (changed) out = rewritten;
    }
    merged.set(out, (merged.get(out) ?? 0) + f);
  }
  const entries = [...merged].sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]));
  return {
    words: entries.map((e) => e[0]),
    freqs: Float64Array.from(entries.map((e) => e[1])),
    chars,
    coverage: total ? acc / total : 1,
  };
}
