// The lattices the unigram trainer runs EM and pruning on: every place a live piece matches inside each
// distinct word (or inside the pieces themselves), as flat typed arrays, with forward-backward (in linear
// space while it cannot underflow, else in log space) and Viterbi over them.
import type { CodePointTrie } from './trie.ts';

/** The distinct words as code points, with their counts. */
export interface WordArrays {
  cps: Int32Array;
  off: Int32Array;
  freq: Float64Array;
}

/**
 * All places where a (live) piece matches inside each sequence (the distinct words, or the pieces
 * themselves): the edges of their lattices, as flat arrays.
 */
export class Lattices {
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

  /**
   * Forward-backward on probabilities for sequence w; returns log Z. `expectLog` is the same recursion in
   * log space; the two stay separate loops on purpose: a shared one through add/multiply callbacks would
   * put a call in the innermost loop of the trainer's hottest code.
   */
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
        alpha[pos + l]! += a * prob[piece[e]!]!;
      }
      if (!single) alpha[pos + 1]! += a * unkProb;
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
      expected[id]! += scale * alpha[s]! * prob[id]! * beta[s + len[k]!]!;
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
      expected[id]! += f * Math.exp(alpha[s]! + score[id]! + beta[s + len[k]!]! - Z);
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
          counts[piece[k]!]! += f;
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

