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

export interface ScoredPiece {
  piece: string;
  score: number;
}

type Log = (line: string) => void;

const UNK_PENALTY = 10; // an unknown character scores this far below the lowest piece, as in SentencePiece
const EXPECTED_FREQUENCY_THRESHOLD = 0.5;

/** The words as code points: word w is cps[off[w] .. off[w+1]). */
interface WordArrays {
  cps: Int32Array;
  off: Int32Array;
  freq: Float64Array;
}

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

// ---- lattices ---------------------------------------------------------------------------------------

/**
 * All places where a (live) piece matches inside each sequence (the distinct words, or the pieces
 * themselves): the edges of their lattices, as flat arrays.
 */
class Lattices {
  start: Int32Array;
  len: Uint16Array;
  piece: Int32Array;
  /** Edges of sequence w: [wOff[w], wOff[w+1]), sorted by start then length. */
  wOff: Int32Array;
  private alpha = new Float64Array(64);
  private beta = new Float64Array(64);
  private back = new Int32Array(64);

  constructor(
    readonly words: WordArrays,
    trie: CodePointTrie,
    maxLen: number,
  ) {
    const { cps, off } = words;
    const nWords = off.length - 1;
    this.wOff = new Int32Array(nWords + 1);
    let cap = 1 << 16;
    let start = new Int32Array(cap);
    let len = new Uint16Array(cap);
    let piece = new Int32Array(cap);
    const lens = new Int32Array(maxLen);
    const ids = new Int32Array(maxLen);
    let e = 0;
    let maxWord = 0;
    for (let w = 0; w < nWords; w++) {
      this.wOff[w] = e;
      const a = off[w]!;
      const b = off[w + 1]!;
      maxWord = Math.max(maxWord, b - a);
      for (let s = a; s < b; s++) {
        const n = trie.prefixes(cps, s, b, maxLen, lens, ids);
        if (e + n > cap) {
          cap *= 2;
          start = grow(start, new Int32Array(cap));
          len = grow(len, new Uint16Array(cap));
          piece = grow(piece, new Int32Array(cap));
        }
        for (let k = 0; k < n; k++, e++) {
          start[e] = s - a;
          len[e] = lens[k]!;
          piece[e] = ids[k]!;
        }
      }
    }
    this.wOff[nWords] = e;
    this.start = start.slice(0, e);
    this.len = len.slice(0, e);
    this.piece = piece.slice(0, e);
    this.ensure(maxWord + 1);
  }

  get edgeCount(): number {
    return this.wOff[this.wOff.length - 1]!;
  }

  private ensure(n: number): void {
    if (this.alpha.length >= n) return;
    this.alpha = new Float64Array(n);
    this.beta = new Float64Array(n);
    this.back = new Int32Array(n);
  }

  /** Drops the edges of dead pieces. */
  compact(alive: Uint8Array): void {
    let e = 0;
    const nWords = this.wOff.length - 1;
    let from = this.wOff[0]!;
    for (let w = 0; w < nWords; w++) {
      const to = this.wOff[w + 1]!;
      this.wOff[w] = e;
      for (let k = from; k < to; k++) {
        if (!alive[this.piece[k]!]) continue;
        this.start[e] = this.start[k]!;
        this.len[e] = this.len[k]!;
        this.piece[e] = this.piece[k]!;
        e++;
      }
      from = to;
    }
    this.wOff[nWords] = e;
  }

  /** E-step: adds each piece's expected count to `expected`; returns the objective (-log-likelihood per word). */
  expect(score: Float64Array, unkScore: number, expected: Float64Array): number {
    const { off, freq } = this.words;
    const nWords = off.length - 1;
    let totalFreq = 0;
    for (let w = 0; w < nWords; w++) totalFreq += freq[w]!;
    // Short words run forward-backward on probabilities (no logs per edge); a path of at most
    // LINEAR_MAX tokens of score >= unkScore cannot underflow a double. Longer words use log space.
    const linearMax = Math.max(1, Math.floor(-600 / Math.min(unkScore, -1)));
    const prob = new Float64Array(score.length);
    for (let i = 0; i < score.length; i++) prob[i] = Math.exp(score[i]!);
    const unkProb = Math.exp(unkScore);
    let obj = 0;
    for (let w = 0; w < nWords; w++) {
      const L = off[w + 1]! - off[w]!;
      const f = freq[w]!;
      const Z = L <= linearMax ? this.expectLinear(w, L, f, prob, unkProb, expected) : this.expectLog(w, L, f, score, unkScore, expected);
      obj -= (Z * f) / totalFreq;
    }
    return obj;
  }

  /** Forward-backward on probabilities for sequence w; returns log Z. */
  private expectLinear(w: number, L: number, f: number, prob: Float64Array, unkProb: number, expected: Float64Array): number {
    const { start, len, piece, alpha, beta } = this;
    const e0 = this.wOff[w]!;
    const e1 = this.wOff[w + 1]!;
    alpha.fill(0, 0, L + 1);
    alpha[0] = 1;
    let e = e0;
    for (let pos = 0; pos < L; pos++) {
      const a = alpha[pos]!;
      let single = false;
      for (; e < e1 && start[e] === pos; e++) {
        const l = len[e]!;
        if (l === 1) single = true;
        alpha[pos + l] += a * prob[piece[e]!]!;
      }
      if (!single) alpha[pos + 1] += a * unkProb;
    }
    const Z = alpha[L]!;
    beta[L] = 1;
    e = e1 - 1;
    for (let pos = L - 1; pos >= 0; pos--) {
      let b = 0;
      let single = false;
      for (; e >= e0 && start[e] === pos; e--) {
        const l = len[e]!;
        if (l === 1) single = true;
        b += prob[piece[e]!]! * beta[pos + l]!;
      }
      if (!single) b += unkProb * beta[pos + 1]!;
      beta[pos] = b;
    }
    const scale = f / Z;
    for (let k = e0; k < e1; k++) {
      const s = start[k]!;
      const id = piece[k]!;
      expected[id] += scale * alpha[s]! * prob[id]! * beta[s + len[k]!]!;
    }
    return Math.log(Z);
  }

  /** Forward-backward in log space for sequence w; returns log Z. */
  private expectLog(w: number, L: number, f: number, score: Float64Array, unkScore: number, expected: Float64Array): number {
    const { start, len, piece, alpha, beta } = this;
    const e0 = this.wOff[w]!;
    const e1 = this.wOff[w + 1]!;
    alpha.fill(-Infinity, 0, L + 1);
    alpha[0] = 0;
    let e = e0;
    for (let pos = 0; pos < L; pos++) {
      const a = alpha[pos]!;
      let single = false;
      for (; e < e1 && start[e] === pos; e++) {
        const l = len[e]!;
        if (l === 1) single = true;
        alpha[pos + l] = logAdd(alpha[pos + l]!, a + score[piece[e]!]!);
      }
      if (!single) alpha[pos + 1] = logAdd(alpha[pos + 1]!, a + unkScore);
    }
    const Z = alpha[L]!;
    beta[L] = 0;
    e = e1 - 1;
    for (let pos = L - 1; pos >= 0; pos--) {
      let b = -Infinity;
      let single = false;
      for (; e >= e0 && start[e] === pos; e--) {
        const l = len[e]!;
        if (l === 1) single = true;
        b = logAdd(b, score[piece[e]!]! + beta[pos + l]!);
      }
      if (!single) b = logAdd(b, unkScore + beta[pos + 1]!);
      beta[pos] = b;
    }
    for (let k = e0; k < e1; k++) {
      const s = start[k]!;
      const id = piece[k]!;
      expected[id] += f * Math.exp(alpha[s]! + score[id]! + beta[s + len[k]!]! - Z);
    }
    return Z;
  }

  /** Adds each word's count to the pieces on its Viterbi path; returns the number of tokens. */
  viterbiCounts(score: Float64Array, unkScore: number, counts: Float64Array): number {
    const { off, freq } = this.words;
    const { start, len, piece } = this;
    const best = this.alpha;
    const back = this.back;
    const nWords = off.length - 1;
    let tokens = 0;
    for (let w = 0; w < nWords; w++) {
      const L = off[w + 1]! - off[w]!;
      viterbi(L, this.wOff[w]!, this.wOff[w + 1]!, start, len, piece, score, unkScore, -1, best, back);
      const f = freq[w]!;
      for (let pos = L; pos > 0; ) {
        const k = back[pos]!;
        tokens += f;
        if (k < 0) pos -= 1;
        else {
          counts[piece[k]!] += f;
          pos -= len[k]!;
        }
      }
    }
    return tokens;
  }

  /**
   * For sequence w (a piece's own characters): the piece ids of its best segmentation that does not use
   * edge `skip`, or null when that needs an unknown character or does not exist.
   */
  bestPath(w: number, score: Float64Array, unkScore: number, skip: number): number[] | null {
    const L = this.words.off[w + 1]! - this.words.off[w]!;
    viterbi(L, this.wOff[w]!, this.wOff[w + 1]!, this.start, this.len, this.piece, score, unkScore, skip, this.alpha, this.back);
    if (!(this.alpha[L]! > -Infinity)) return null;
    const path: number[] = [];
    for (let pos = L; pos > 0; ) {
      const k = this.back[pos]!;
      if (k < 0) return null;
      path.push(this.piece[k]!);
      pos -= this.len[k]!;
    }
    return path;
  }

  /** The edge of sequence w spanning all of it with piece `id`, or -1. */
  wholeEdge(w: number, id: number): number {
    const L = this.words.off[w + 1]! - this.words.off[w]!;
    for (let k = this.wOff[w]!; k < this.wOff[w + 1]! && this.start[k] === 0; k++) if (this.len[k] === L && this.piece[k] === id) return k;
    return -1;
  }
}

function grow<T extends Int32Array | Uint16Array>(a: T, b: T): T {
  b.set(a);
  return b;
}

/**
 * Viterbi over edges e0..e1 of a lattice of length L (edges sorted by start); back[pos] is the edge
 * ending at pos on the best path (-1: an unknown character). `skip` is an edge to leave out.
 */
function viterbi(
  L: number,
  e0: number,
  e1: number,
  start: Int32Array,
  len: Uint16Array,
  piece: Int32Array,
  score: Float64Array,
  unkScore: number,
  skip: number,
  best: Float64Array,
  back: Int32Array,
): void {
  for (let i = 0; i <= L; i++) best[i] = -Infinity;
  best[0] = 0;
  let e = e0;
  for (let pos = 0; pos < L; pos++) {
    const b = best[pos]!;
    let single = false;
    for (; e < e1 && start[e] === pos; e++) {
      const l = len[e]!;
      if (l === 1) single = true;
      if (e === skip) continue;
      const s = b + score[piece[e]!]!;
      if (s > best[pos + l]!) {
        best[pos + l] = s;
        back[pos + l] = e;
      }
    }
    if (!single) {
      const s = b + unkScore;
      if (s > best[pos + 1]!) {
        best[pos + 1] = s;
        back[pos + 1] = -1;
      }
    }
  }
}

function logAdd(x: number, y: number): number {
  if (x < y) {
    const t = x;
    x = y;
    y = t;
  }
  if (y === -Infinity || x > y + 50) return x;
  return x + Math.log1p(Math.exp(y - x));
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
    if (!best || best.length !== 1 || best[0] !== i) continue; // already split on its best path: removable
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
