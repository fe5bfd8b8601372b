// Dynamic masking for masked-LM pretraining, drawn afresh for every sequence and epoch from a seeded
// generator: 15 % of the (non-special) tokens are chosen for prediction, whole words when asked and in
// spans of up to `maxNgram` words or tokens (a span of n is picked with probability proportional to 1/n,
// as the DeBERTa authors' n-gram masker does); each chosen token becomes [MASK] (80 %), a random token
// (10 %) or stays itself (10 %). RTD pretraining uses the same selection with every chosen token masked.
import { Rng } from '../util/random.ts';

export interface MaskingOptions {
  /** Fraction of the maskable tokens to predict (default 0.15). */
  rate: number;
  /** Of the chosen tokens, the fractions replaced by [MASK], by a random token, and kept (the rest). */
  maskFraction: number;
  randomFraction: number;
  /** Choose whole words (a word: a token that starts one, e.g. with '▁', and the tokens that continue it). */
  wholeWord: boolean;
  /** Longest span, in words (whole-word masking) or tokens; 1 for no spans (at most 3 is usual). */
  maxNgram: number;
}

export const MLM_MASKING: MaskingOptions = { rate: 0.15, maskFraction: 0.8, randomFraction: 0.1, wholeWord: false, maxNgram: 1 };
/** The authors' RTD task masks every chosen token; the generator's samples then replace them. */
export const RTD_MASKING: MaskingOptions = { ...MLM_MASKING, maskFraction: 1, randomFraction: 0 };

/** What masking needs to know of the vocabulary. */
export interface MaskVocabulary {
  maskId: number;
  /** Per token id: 1 where the token starts a word (or is special), 0 where it continues the previous one. */
  wordStart: Uint8Array;
  /** Per token id: 1 for special tokens ([CLS], [SEP], [PAD], [MASK], [UNK]...), never chosen. */
  special: Uint8Array;
  /** The ids a random replacement draws from (every non-special id). */
  randomIds: Int32Array;
}

export function checkMasking(o: MaskingOptions): void {
  const bad = (what: string) => { throw new Error(`masking: ${what}`); };
  if (!(o.rate > 0 && o.rate < 1)) bad(`rate must lie in (0, 1), got ${o.rate}`);
  if (!(o.maskFraction >= 0 && o.randomFraction >= 0 && o.maskFraction + o.randomFraction <= 1 + 1e-12)) {
    bad(`the [MASK] and random fractions must be >= 0 and sum to at most 1, got ${o.maskFraction} and ${o.randomFraction}`);
  }
  if (!Number.isSafeInteger(o.maxNgram) || o.maxNgram < 1) bad(`maxNgram must be a positive integer, got ${o.maxNgram}`);
}

/** A masked sequence: the model's input ids, and the original id at each chosen position (-100 elsewhere). */
export interface MaskedSequence { inputIds: Int32Array; labels: Int32Array; chosen: number }

/** Groups the maskable positions into units: words (whole-word masking) or single tokens. */
function units(ids: ArrayLike<number>, v: MaskVocabulary, wholeWord: boolean): number[][] {
  const out: number[][] = [];
  let prevMaskable = false;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const maskable = v.special[id] !== 1;
    if (maskable) {
      if (wholeWord && prevMaskable && v.wordStart[id] === 0) out[out.length - 1]!.push(i);
      else out.push([i]);
    }
    prevMaskable = maskable;
  }
  return out;
}

/** Span lengths 1..n with probabilities proportional to 1/length, as a cumulative table. */
function spanTable(n: number): number[] {
  const w = Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  return w.map((x) => (acc += x / total));
}

/**
 * Chooses the positions to predict: span starts are visited in random order, each span takes the next n
 * free units, and choosing stops once rate * maskable tokens (rounded at random, at least 1) are chosen. A
 * span that would overshoot is shortened; a single word that would overshoot is skipped (unless nothing is
 * chosen yet).
 */
export function choosePositions(ids: ArrayLike<number>, v: MaskVocabulary, o: MaskingOptions, rng: Rng): number[] {
  const us = units(ids, v, o.wholeWord);
  const maskable = us.reduce((s, u) => s + u.length, 0);
  if (maskable === 0) return [];
  // rate * maskable, rounded up or down at random in proportion, so the expected share is exactly `rate`.
  const exact = maskable * o.rate;
  const target = Math.max(1, Math.floor(exact) + (rng.uniform() < exact - Math.floor(exact) ? 1 : 0));
  const table = spanTable(o.maxNgram);
  const taken = new Uint8Array(us.length);
  const chosen: number[] = [];
  for (const start of rng.shuffle([...us.keys()])) {
    if (chosen.length >= target) break;
    if (taken[start]) continue;
    const r = rng.uniform();
    let n = 1;
    while (n < table.length && r >= table[n - 1]!) n++;
    // The free units from `start`, up to n of them, that fit in what is left of the budget.
    const span: number[] = [];
    let size = 0;
    for (let u = start; u < us.length && span.length < n && !taken[u]; u++) {
      if (chosen.length + size + us[u]!.length > target && (span.length > 0 || chosen.length > 0)) break;
      span.push(u);
      size += us[u]!.length;
    }
    for (const u of span) {
      taken[u] = 1;
      chosen.push(...us[u]!);
    }
  }
  return chosen.sort((a, b) => a - b);
}

/** Masks one sequence: chooses positions, then replaces each by [MASK], a random token, or keeps it. */
export function maskSequence(ids: ArrayLike<number>, v: MaskVocabulary, o: MaskingOptions, rng: Rng): MaskedSequence {
  const inputIds = Int32Array.from(ids);
  const labels = new Int32Array(ids.length).fill(-100);
  const chosen = choosePositions(ids, v, o, rng);
  for (const i of chosen) {
    labels[i] = ids[i]!;
    const r = rng.uniform();
    if (r < o.maskFraction) inputIds[i] = v.maskId;
    else if (r < o.maskFraction + o.randomFraction) inputIds[i] = v.randomIds[rng.int(v.randomIds.length)]!;
  }
  return { inputIds, labels, chosen: chosen.length };
}

/** An independent generator for each (seed, epoch, sequence), so masks need no saved state to resume. */
export function maskRng(seed: number, epoch: number, index: number): Rng {
  const [a, b, c, d] = new Rng(seed).state();
  const rng = new Rng([(a! ^ 0x6d61736b) >>> 0, (b! ^ index) >>> 0, (c! ^ Math.floor(index / 2 ** 32) ^ (epoch + 1)) >>> 0, d!]);
  for (let i = 0; i < 12; i++) rng.u32();
  return rng;
}
