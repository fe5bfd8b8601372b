// SentencePiece's BPE trainer on a table of distinct words: start from characters, repeatedly merge the
// adjacent pair of symbols with the highest count (ties: the shorter result, then the smaller string),
// never making a piece that breaks the piece rules; a piece reached twice by different merges counts
// once. Scores are -(rank); the alphabet follows the merges, most frequent character first.
//
// A pair's count is its number of adjacent occurrences weighted by word counts, overlapping ones
// included ("aaa" holds "aa" twice), as SentencePiece 0.1.99 and later count (0.1.98 and earlier counted
// such a run once per two symbols; on Brown that reorders a few hundred merges). Counts are kept exact
// incrementally: a merge removes the adjacencies around each occurrence it rewrites and adds the new
// ones, so counts of existing pairs only ever fall and a max-heap with lazy re-insertion finds the best
// pair.
import type { TrainOptions } from './options.ts';
import { compareCodePoints, isValidPiece, toCodePoints, UNK_CHAR } from './pieces.ts';
import type { TrainingWords } from './corpus.ts';
import type { ScoredPiece } from './unigram-trainer.ts';

type Log = (line: string) => void;

export function trainBpe(tw: TrainingWords, o: TrainOptions, wanted: number, log: Log = () => {}): ScoredPiece[] {
  const merges = wanted - tw.chars.length;
  const t0 = Date.now();

  // Symbols: characters first, then pairs as they are made.
  const symStr: string[] = [];
  const symLen: number[] = [];
  const charSym = new Map<number, number>();
  const symOfChar = (cp: number): number => {
    let s = charSym.get(cp);
    if (s === undefined) {
      s = symStr.length;
      symStr.push(String.fromCodePoint(cp));
      symLen.push(1);
      charSym.set(cp, s);
    }
    return s;
  };

  // Every character position of every distinct word, linked within its word.
  let total = 0;
  const wordCps = tw.words.map((w) => {
    const c = toCodePoints(w);
    total += c.length;
    return c;
  });
  const sym = new Int32Array(total);
  const next = new Int32Array(total);
  const prev = new Int32Array(total);
  const posFreq = new Float64Array(total);
  let p = 0;
  wordCps.forEach((c, w) => {
    for (let k = 0; k < c.length; k++, p++) {
      sym[p] = symOfChar(c[k]!);
      prev[p] = k === 0 ? -1 : p - 1;
      next[p] = k === c.length - 1 ? -1 : p + 1;
      posFreq[p] = tw.freqs[w]!;
    }
  });

  // Pair symbols: (left, right) -> id (-1: not a valid piece).
  const pairIds = new Map<number, number>();
  const pairLeft: number[] = [];
  const pairRight: number[] = [];
  const pairFreq: number[] = [];
  const pairPos: number[][] = [];
  const pairActive: boolean[] = [];
  const pairSym: number[] = []; // the symbol id the pair becomes
  const unkSym = charSym.get(UNK_CHAR) ?? -1;

  const pairOf = (l: number, r: number, create: boolean): number => {
    const key = l * 0x4000000 + r;
    const got = pairIds.get(key);
    if (got !== undefined || !create) return got ?? -1;
    let id = -1;
    if (l !== unkSym && r !== unkSym && symLen[l]! + symLen[r]! <= o.maxSentencepieceLength) {
      const str = symStr[l]! + symStr[r]!;
      const cps = toCodePoints(str);
      if (isValidPiece(cps, 0, cps.length, o)) {
        id = pairLeft.length;
        pairLeft.push(l);
        pairRight.push(r);
        pairFreq.push(0);
        pairPos.push([]);
        pairActive.push(true);
        pairSym.push(symStr.length);
        symStr.push(str);
        symLen.push(cps.length);
      }
    }
    pairIds.set(key, id);
    return id;
  };

  // Max-heap of [pair id, count when pushed].
  const heapId: number[] = [];
  const heapFreq: number[] = [];
  const better = (a: number, fa: number, b: number, fb: number): boolean => {
    if (fa !== fb) return fa > fb;
    const la = symLen[pairSym[a]!]!;
    const lb = symLen[pairSym[b]!]!;
    if (la !== lb) return la < lb;
    return compareCodePoints(symStr[pairSym[a]!]!, symStr[pairSym[b]!]!) < 0;
  };
  const push = (id: number, f: number): void => {
    let i = heapId.length;
    heapId.push(id);
    heapFreq.push(f);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!better(heapId[i]!, heapFreq[i]!, heapId[parent]!, heapFreq[parent]!)) break;
      swap(i, parent);
      i = parent;
    }
  };
  const swap = (i: number, j: number): void => {
    const a = heapId[i]!;
    heapId[i] = heapId[j]!;
    heapId[j] = a;
    const f = heapFreq[i]!;
    heapFreq[i] = heapFreq[j]!;
    heapFreq[j] = f;
  };
  const pop = (): void => {
    const last = heapId.length - 1;
    swap(0, last);
    heapId.pop();
    heapFreq.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heapId.length && better(heapId[l]!, heapFreq[l]!, heapId[m]!, heapFreq[m]!)) m = l;
      if (r < heapId.length && better(heapId[r]!, heapFreq[r]!, heapId[m]!, heapFreq[m]!)) m = r;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
  };

  for (let q = 0; q < total; q++) {
    const r = next[q]!;
    if (r < 0) continue;
    const id = pairOf(sym[q]!, sym[r]!, true);
    if (id < 0) continue;
    pairFreq[id]! += posFreq[q]!;
    pairPos[id]!.push(q);
  }
  for (let id = 0; id < pairLeft.length; id++) push(id, pairFreq[id]!);
  log(`bpe: ${tw.chars.length} characters, ${pairLeft.length} initial pairs over ${tw.words.length} distinct words (${Date.now() - t0} ms)`);

  const final: ScoredPiece[] = [];
  const seen = new Set<string>();
  const pending = new Set<number>();
  let lastLog = Date.now();
  while (final.length < merges) {
    // The best live pair whose heap entry is current.
    let best = -1;
    while (heapId.length) {
      const id = heapId[0]!;
      const f = heapFreq[0]!;
      pop();
      if (!pairActive[id]) continue;
      if (f !== pairFreq[id]) {
        push(id, pairFreq[id]!);
        continue;
      }
      best = id;
      break;
    }
    if (best < 0) {
      throw new Error(
        `tokenizer training: --vocab-size ${wanted + 4} is more than this corpus allows for BPE ` +
          `(it ran out of pairs to merge after ${final.length} merges; at most ${final.length + tw.chars.length + 4})`,
      );
    }
    pairActive[best] = false;
    const bestSym = pairSym[best]!;
    const str = symStr[bestSym]!;
    if (seen.has(str)) continue; // the same string by another merge path
    seen.add(str);
    final.push({ piece: str, score: -final.length });

    const L0 = pairLeft[best]!;
    const R0 = pairRight[best]!;
    const positions = pairPos[best]!.sort((a, b) => a - b);
    pairPos[best] = [];
    for (const L of positions) {
      if (sym[L] !== L0) continue;
      const R = next[L]!;
      if (R < 0 || sym[R] !== R0) continue;
      const f = posFreq[L]!;
      const pv = prev[L]!;
      const nx = next[R]!;
      // The adjacencies around the occurrence go away…
      if (pv >= 0) {
        const id = pairOf(sym[pv]!, L0, false);
        if (id >= 0 && id !== best) pairFreq[id]! -= f;
      }
      if (nx >= 0) {
        const id = pairOf(R0, sym[nx]!, false);
        if (id >= 0 && id !== best) pairFreq[id]! -= f;
      }
      // …the two symbols become one…
      sym[L] = bestSym;
      sym[R] = -1;
      next[L] = nx;
      if (nx >= 0) prev[nx] = L;
      // …and it makes new pairs with its neighbours.
      if (pv >= 0) {
        const id = pairOf(sym[pv]!, bestSym, true);
        if (id >= 0) {
          pairFreq[id]! += f;
          pairPos[id]!.push(pv);
          pending.add(id);
        }
      }
      if (nx >= 0) {
        const id = pairOf(bestSym, sym[nx]!, true);
        if (id >= 0) {
          pairFreq[id]! += f;
          pairPos[id]!.push(L);
          pending.add(id);
        }
      }
    }
    for (const id of pending) push(id, pairFreq[id]!);
    pending.clear();
    if (Date.now() - lastLog > 2000) {
      lastLog = Date.now();
      log(`bpe: ${final.length}/${merges} merges, last ${JSON.stringify(str)}`);
    }
  }
  for (const c of tw.chars) final.push({ piece: String.fromCodePoint(c.cp), score: -final.length });
  log(`bpe: ${merges} merges in ${Date.now() - t0} ms`);
  return final;
}
