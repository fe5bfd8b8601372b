// The unigram language-model trainer of SentencePiece (Kudo 2018), on a table of distinct words:
//  1. seeds: every character of the alphabet, plus the substrings (up to maxSentencepieceLength) that
//     occur at least twice and are right-branching (an internal node of the suffix tree, or a whole
//     word-final suffix), scored by frequency × length; the best `seedSentencepieceSize` are kept;
//  2. EM: the E-step runs forward-backward over each word's lattice of pieces (weighted by the word's
//     count) for the expected count of every piece; the M-step turns counts into log-probabilities with
//     the Bayesian (digamma) update and drops pieces expected less than half a time;
//  3. pruning: each piece's loss is how much the corpus likelihood drops when its occurrences (on the
//     Viterbi paths) are re-segmented with its second-best segmentation; pieces with no alternative are
//     kept, the rest are kept by loss until `shrinkingFactor` of the pieces remain;
//  4. repeat 2-3 until at most 1.1 × the wanted size remain; then keep the alphabet (characters the EM
//     dropped come back just below the lowest score) and the best-scoring pieces up to the wanted size.
import type { TrainOptions } from './options.ts';
import { isValidPiece, compareCodePoints, toCodePoints } from './pieces.ts';
import type { TrainingWords } from './corpus.ts';
import { CodePointTrie } from './trie.ts';
import { Lattices, type WordArrays } from './unigram-lattices.ts';

export interface ScoredPiece {
  piece: string;
  score: number;
}

type Log = (line: string) => void;

const UNK_PENALTY = 10; // an unknown character scores this far below the lowest piece, as in SentencePiece
const EXPECTED_FREQUENCY_THRESHOLD = 0.5;

/** The words as code points: word w is cps[off[w] .. off[w+1]). */

function toWordArrays(tw: Pick<TrainingWords, 'words' | 'freqs'>): WordArrays {
  let total = 0;
  const lists = tw.words.map((w) => {
    const c = toCodePoints(w);
    total += c.length;
    return c;
  });
  const cps = new Int32Array(total);
  const off = new Int32Array(lists.length + 1);
  let o = 0;
  lists.forEach((c, i) => {
    off[i] = o;
    cps.set(c, o);
    o += c.length;
  });
  off[lists.length] = o;
  return { cps, off, freq: tw.freqs };
}

// ---- seeds ------------------------------------------------------------------------------------------

interface Seeds {
  pieces: string[];
  /** Initial log-probabilities. */
  scores: Float64Array;
}

/**
 * Seed pieces: the alphabet and the frequent substrings, found by sorting the suffixes of the distinct
 * words (each weighted by its word's count) and walking their longest-common-prefix intervals.
 */
export function makeSeeds(words: WordArrays, tw: TrainingWords, o: TrainOptions): Seeds {
  const { cps, off, freq } = words;
  const nWords = off.length - 1;
  const maxLen = o.maxSentencepieceLength;
  // Text: each word followed by a 0 sentinel. pos -> word, and the suffix start positions.
  const textLen = cps.length + nWords;
  const text = new Int32Array(textLen);
  const wordEnd = new Int32Array(textLen); // text position of the sentinel after this position's word
  const weight = new Float64Array(textLen);
  const sa = new Int32Array(cps.length);
  let t = 0;
  let n = 0;
  for (let w = 0; w < nWords; w++) {
    const end = t + (off[w + 1]! - off[w]!);
    for (let k = off[w]!; k < off[w + 1]!; k++) {
      text[t] = cps[k]!;
      wordEnd[t] = end;
      weight[t] = freq[w]!;
      sa[n++] = t++;
    }
    text[t] = 0;
    wordEnd[t] = t;
    t++;
  }
  const window = maxLen + 1;
  sa.sort((a, b) => {
    for (let k = 0; k < window; k++) {
      const x = text[a + k]!;
      const y = text[b + k]!;
      if (x !== y) return x - y;
      if (x === 0) return 0;
    }
    return 0;
  });
  // lcp[i] = common prefix of suffixes i-1 and i (at most `window`, never across a sentinel).
  const lcp = new Int32Array(n + 1);
  for (let i = 1; i < n; i++) {
    const a = sa[i - 1]!;
    const b = sa[i]!;
    let k = 0;
    while (k < window && text[a + k] === text[b + k] && text[a + k] !== 0) k++;
    lcp[i] = k;
  }
  const cum = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) cum[i + 1] = cum[i]! + weight[sa[i]!]!;

  const candStart: number[] = [];
  const candLen: number[] = [];
  const candScore: number[] = [];
  const report = (start: number, len: number, f: number): void => {
    if (len < 2 || len > maxLen || f < 2) return;
    if (!isValidPiece(text, start, start + len, o)) return;
    candStart.push(start);
    candLen.push(len);
    candScore.push(f * len);
  };
  // Internal nodes: lcp intervals [lb, rb] with lcp value h.
  const stH: number[] = [0];
  const stLb: number[] = [0];
  for (let i = 1; i <= n; i++) {
    const h = i < n ? lcp[i]! : 0;
    let lb = i - 1;
    while (h < stH[stH.length - 1]!) {
      const hh = stH.pop()!;
      lb = stLb.pop()!;
      report(sa[lb]!, hh, cum[i]! - cum[lb]!);
    }
    if (h > stH[stH.length - 1]!) {
      stH.push(h);
      stLb.push(lb);
    }
  }
  // Word-final suffixes seen in one word only (a word that repeats is followed by varied text).
  for (let i = 0; i < n; i++) {
    const p = sa[i]!;
    const len = wordEnd[p]! - p;
    if (len > maxLen) continue;
    if (lcp[i]! >= len || (i + 1 < n && lcp[i + 1]! >= len)) continue;
    report(p, len, weight[p]!);
  }

  let order = candScore.map((_, i) => i);
  if (order.length > o.seedSentencepieceSize) {
    order.sort((a, b) => candScore[b]! - candScore[a]! || a - b);
    order = order.slice(0, o.seedSentencepieceSize);
  }
  const pieces: string[] = [];
  const raw: number[] = [];
  for (const c of tw.chars) {
    pieces.push(String.fromCodePoint(c.cp));
    raw.push(c.count);
  }
  for (const i of order) {
    pieces.push(String.fromCodePoint(...text.subarray(candStart[i]!, candStart[i]! + candLen[i]!)));
    raw.push(candScore[i]!);
  }
  let sum = 0;
  for (const r of raw) sum += r;
  const logSum = Math.log(sum);
  return { pieces, scores: Float64Array.from(raw, (r) => Math.log(r) - logSum) };
}

/** ψ(x), by recurrence up to 7 and the asymptotic series. */
function digamma(x: number): number {
  let r = 0;
  for (; x < 7; x++) r -= 1 / x;
  x -= 0.5;
  const xx = 1 / x;
  const xx2 = xx * xx;
  const xx4 = xx2 * xx2;
  return r + Math.log(x) + xx2 / 24 - (7 * xx4) / 960 + (31 * xx4 * xx2) / 8064 - (127 * xx4 * xx4) / 30720;
}

// ---- training ---------------------------------------------------------------------------------------

export function trainUnigram(tw: TrainingWords, o: TrainOptions, wanted: number, log: Log = () => {}): ScoredPiece[] {
  const words = toWordArrays(tw);
  let t0 = Date.now();
  const seeds = makeSeeds(words, tw, o);
  log(`unigram: ${seeds.pieces.length} seed pieces (${tw.chars.length} characters) from ${tw.words.length} distinct words in ${Date.now() - t0} ms`);
  const P = seeds.pieces.length;
  const pieceCps = seeds.pieces.map(toCodePoints);
  const trie = CodePointTrie.of(pieceCps);
  t0 = Date.now();
  const lat = new Lattices(words, trie, o.maxSentencepieceLength);
  // The pieces' own lattices, for their second-best segmentations when pruning.
  const own = new Lattices(toWordArrays({ words: seeds.pieces, freqs: new Float64Array(P).fill(1) }), trie, o.maxSentencepieceLength);
  log(`unigram: ${lat.edgeCount} lattice edges in ${Date.now() - t0} ms`);

  const score = seeds.scores;
  const alive = new Uint8Array(P).fill(1);
  let aliveCount = P;
  const expected = new Float64Array(P);
  const minScore = (): number => {
    let m = Infinity;
    for (let i = 0; i < P; i++) if (alive[i] && score[i]! < m) m = score[i]!;
    return m;
  };
  const desired = Math.floor(wanted * 1.1);

  for (let round = 1; ; round++) {
    for (let iter = 0; iter < o.numSubIterations; iter++) {
      t0 = Date.now();
      expected.fill(0);
      const obj = lat.expect(score, minScore() - UNK_PENALTY, expected);
      // M-step (Bayesian EM: digamma instead of log acts as a sparse prior).
      let sum = 0;
      for (let i = 0; i < P; i++) {
        if (!alive[i]) continue;
        if (expected[i]! < EXPECTED_FREQUENCY_THRESHOLD) {
          alive[i] = 0;
          aliveCount--;
        } else sum += expected[i]!;
      }
      const logSum = digamma(sum);
      for (let i = 0; i < P; i++) if (alive[i]) score[i] = digamma(expected[i]!) - logSum;
      lat.compact(alive);
      own.compact(alive);
      log(`unigram: round ${round} EM ${iter + 1}/${o.numSubIterations}: ${aliveCount} pieces, objective ${obj.toFixed(4)} (${Date.now() - t0} ms)`);
    }
    if (aliveCount <= desired) break;
    t0 = Date.now();
    const before = aliveCount;
    aliveCount = prune(lat, own, pieceCps, score, alive, aliveCount, desired, o);
    lat.compact(alive);
    own.compact(alive);
    log(`unigram: round ${round} pruned to ${aliveCount} pieces (${Date.now() - t0} ms)`);
    if (aliveCount >= before) break; // nothing left that can go
  }
  return finalize(seeds.pieces, score, alive, tw, minScore(), wanted);
}

function prune(
  lat: Lattices,
  own: Lattices,
  pieceCps: number[][],
  score: Float64Array,
  alive: Uint8Array,
  aliveCount: number,
  desired: number,
  o: TrainOptions,
): number {
  const P = score.length;
  let minScore = Infinity;
  for (let i = 0; i < P; i++) if (alive[i] && score[i]! < minScore) minScore = score[i]!;
  const unkScore = minScore - UNK_PENALTY;

  // 1. How would each piece be segmented without itself? (Its second-best segmentation.)
  const alwaysKeep = new Uint8Array(P);
  const alternatives: (number[] | null)[] = new Array(P).fill(null);
  for (let i = 0; i < P; i++) {
    if (!alive[i]) continue;
    if (pieceCps[i]!.length === 1) {
      alwaysKeep[i] = 1; // no other segmentation
      continue;
    }
    const best = own.bestPath(i, score, unkScore, -1);
    if (best?.length !== 1 || best[0] !== i) continue; // already split on its best path: removable
    alwaysKeep[i] = 1;
    alternatives[i] = own.bestPath(i, score, unkScore, own.wholeEdge(i, i));
  }

  // 2. Piece frequencies on the Viterbi paths of the corpus.
  const freq = new Float64Array(P);
  lat.viterbiCounts(score, unkScore, freq);
  let vsum = 0;
  for (const f of lat.words.freq) vsum += f;
  let sum = 0;
  for (let i = 0; i < P; i++) sum += freq[i]!;
  const logSum = Math.log(sum);

  // 3. Loss of removing each piece: its occurrences re-segmented with its alternative.
  const keep: number[] = [];
  const candidates: { i: number; loss: number }[] = [];
  for (let i = 0; i < P; i++) {
    if (!alive[i]) continue;
    if (freq[i] === 0 || !alwaysKeep[i]) continue;
    const alt = alternatives[i];
    if (!alt) {
      keep.push(i);
      continue;
    }
    const F = freq[i]! / vsum;
    const logProbSp = Math.log(freq[i]!) - logSum;
    const logSumAlt = Math.log(sum + freq[i]! * (alt.length - 1));
    let logProbAlt = 0;
    for (const n of alt) logProbAlt += Math.log(freq[n]! + freq[i]!) - logSumAlt;
    candidates.push({ i, loss: F * (logProbSp - logProbAlt) });
  }
  const target = Math.max(desired, Math.floor(o.shrinkingFactor * aliveCount));
  candidates.sort((a, b) => b.loss - a.loss || a.i - b.i);
  const next = new Uint8Array(P);
  let count = 0;
  for (const i of keep) {
    next[i] = 1;
    count++;
  }
  for (const c of candidates) {
    if (count >= target) break;
    next[c.i] = 1;
    count++;
  }
  alive.set(next);
  return count;
}

function finalize(pieces: string[], score: Float64Array, alive: Uint8Array, tw: TrainingWords, minScore: number, wanted: number): ScoredPiece[] {
  const final = new Map<string, number>();
  const index = new Map<string, number>();
  pieces.forEach((p, i) => index.set(p, i));
  // The alphabet is always in; characters the EM dropped get scores just under the lowest piece.
  let dropped = 0;
  for (const c of tw.chars) {
    const s = String.fromCodePoint(c.cp);
    const i = index.get(s);
    if (i !== undefined && alive[i]) final.set(s, score[i]!);
    else final.set(s, minScore - 1 - 1e-4 * dropped++); // more frequent characters a little higher
  }
  const order: number[] = [];
  for (let i = 0; i < pieces.length; i++) if (alive[i]) order.push(i);
  order.sort((a, b) => score[b]! - score[a]! || compareCodePoints(pieces[a]!, pieces[b]!));
  for (const i of order) {
    if (final.size >= wanted) break;
    if (!final.has(pieces[i]!)) final.set(pieces[i]!, score[i]!);
  }
  return [...final].map(([piece, s]) => ({ piece, score: s })).sort((a, b) => b.score - a.score || compareCodePoints(a.piece, b.piece));
}
