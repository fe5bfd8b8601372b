// The unigram language model (SentencePiece "unigram", and what transformers 5 builds from any
// `spm.model`): the segmentation of a word that maximises the sum of piece scores (Viterbi), with the
// rules of Hugging Face `tokenizers`: a character no piece starts with becomes the unknown id with score
// `min score - 10`, consecutive unknowns are fused into one token, and on equal scores the first path
// found (shorter piece, earlier start) wins.
import type { Model, WordTokens } from './model.ts';

const UNK_PENALTY = 10;
/** The least length of a Viterbi window (see `tokenize`). */
const WINDOW = 4096;

export class UnigramModel implements Model {
  readonly type = 'Unigram' as const;
  private pieces: string[];
  private scores: Float64Array;
  private ids = new Map<string, number>();
  // Trie over UTF-16 code units: root children in a flat table, deeper ones in per-node maps.
  private root = new Int32Array(65536).fill(-1);
  private children: (Map<number, number> | null)[] = [null];
  private terminal: number[] = [-1];
  private unkScore: number;
  private bestScore = new Float64Array(64);
  private bestStart = new Int32Array(64);
  private bestId = new Int32Array(64);
  /** The tokens of a window, in order (see `emitWindow`). */
  private revIds = new Int32Array(64);
  private revEnds = new Int32Array(64);
  /** The end of a run of unknown tokens not yet emitted, or -1; the end of the last token emitted. */
  private pendingUnk = -1;
  private prevEnd = 0;
  /** The longest piece in the trie, in UTF-16 units. */
  private maxPiece = 1;

  /**
   * `options.inTrie` keeps pieces out of the segmentation (SentencePiece itself never emits control or
   * unused pieces; `tokenizers` uses them all), `options.minScore` overrides the minimum score the unknown
   * penalty starts from.
   */
  constructor(
    vocab: [string, number][],
    readonly unkId: number | null,
    readonly byteFallback = false,
    options: { inTrie?: (id: number) => boolean; minScore?: number } = {},
  ) {
    this.pieces = vocab.map((v) => v[0]);
    this.scores = Float64Array.from(vocab, (v) => v[1]);
    let min = Infinity;
    vocab.forEach(([piece, score], id) => {
      if (!this.ids.has(piece)) this.ids.set(piece, id);
      if (!options.inTrie || options.inTrie(id)) this.insert(piece, id);
      if (score < min) min = score;
    });
    this.unkScore = (options.minScore ?? min) - UNK_PENALTY;
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id];
  }

  private insert(piece: string, id: number): void {
    if (piece.length === 0) return;
    if (piece.length > this.maxPiece) this.maxPiece = piece.length;
    let node = this.root[piece.charCodeAt(0)]!;
    if (node < 0) {
      node = this.newNode();
      this.root[piece.charCodeAt(0)] = node;
    }
    for (let i = 1; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      let map = this.children[node];
      if (!map) this.children[node] = map = new Map();
      let next = map.get(c);
      if (next === undefined) {
        next = this.newNode();
        map.set(c, next);
      }
      node = next;
    }
    if (this.terminal[node] === -1) this.terminal[node] = id;
  }

  private newNode(): number {
    this.children.push(null);
    this.terminal.push(-1);
    return this.terminal.length - 1;
  }

  tokenize(word: string, out: WordTokens): void {
    const n = word.length;
    if (n === 0) return;
    // Viterbi in windows. A position that no piece (nor unknown character) spans is on every path: the
    // best path up to it is final, and what follows starts from its score. At such a position, once the
    // window holds WINDOW units or more, the window's tokens are emitted and its slots reused for the next
    // one: the same additions and comparisons in the same order as over the whole word (the same ids),
    // in memory bounded by the longest run without such a position rather than by the word (a 1M-unit
    // word without spaces, CJK text through a Metaspace pre-tokeniser, kept its 16 bytes per unit).
    this.ensure(Math.min(n, WINDOW) + 1);
    let score = this.bestScore;
    let from = this.bestStart;
    let best = this.bestId;
    // Every slot this word may use is unset (slots past n + 1 never are; those past the array come unset from `grow`).
    from.fill(-1, 0, Math.min(n + 1, from.length));
    score[0] = 0;
    const unk = this.unkId ?? -1;
    this.pendingUnk = -1;
    this.prevEnd = 0;
    // Slot i holds position origin + i; `reach`: the furthest position a candidate ended at so far.
    let origin = 0;
    let reach = 0;
    for (let start = 0; start < n; ) {
      if (start === reach && start - origin >= WINDOW) {
        this.emitWindow(word, origin, start, out);
        const used = start - origin;
        score[0] = score[used]!;
        from.fill(-1, 0, Math.min(used, n - start) + 1);
        origin = start;
      }
      const c0 = word.charCodeAt(start);
      const charLen = c0 >= 0xd800 && c0 <= 0xdbff && start + 1 < n && (word.charCodeAt(start + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      const at = start - origin;
      if (at + this.maxPiece + 2 > score.length) {
        this.grow(at + this.maxPiece + 2, Math.min(n - origin, at + this.maxPiece + 1) + 1);
        score = this.bestScore;
        from = this.bestStart;
        best = this.bestId;
      }
      const base = score[at]!;
      let single = false;
      let node = this.root[c0]!;
      let pos = start + 1;
      while (node >= 0) {
        const id = this.terminal[node]!;
        if (id >= 0) {
          const cand = base + this.scores[id]!;
          const j = pos - origin;
          if (from[j] === -1 || cand > score[j]!) {
            score[j] = cand;
            from[j] = start;
            best[j] = id;
          }
          if (pos - start === charLen) single = true;
          if (pos > reach) reach = pos;
        }
        if (pos >= n) break;
        const map = this.children[node];
        if (!map) break;
        const next = map.get(word.charCodeAt(pos));
        if (next === undefined) break;
        node = next;
        pos++;
      }
      if (!single) {
        if (unk < 0) throw new Error(`Unigram model: no piece for ${JSON.stringify(word.slice(start, start + charLen))} and no unk_id`);
        const end = start + charLen;
        const cand = base + this.unkScore;
        const j = end - origin;
        if (from[j] === -1 || cand > score[j]!) {
          score[j] = cand;
          from[j] = start;
          best[j] = unk;
        }
        if (end > reach) reach = end;
      }
      start += charLen;
    }
    this.emitWindow(word, origin, n, out);
    this.flushUnk(word, out);
  }

  /** The best path's tokens over [origin, end) (a position every path goes through), in order. */
  private emitWindow(word: string, origin: number, end: number, out: WordTokens): void {
    // Walk back, then forward: the k-th token found goes to slot `end - origin - k` of two scratch columns.
    const size = end - origin + 1;
    if (this.revIds.length < size) {
      this.revIds = new Int32Array(Math.max(size, 2 * this.revIds.length));
      this.revEnds = new Int32Array(this.revIds.length);
    }
    const ids = this.revIds;
    const ends = this.revEnds;
    let k = size;
    for (let e = end; e > origin; ) {
      k--;
      ids[k] = this.bestId[e - origin]!;
      ends[k] = e;
      e = this.bestStart[e - origin]!;
    }
    const unk = this.unkId ?? -1;
    for (; k < size; k++) {
      const id = ids[k]!;
      const e = ends[k]!;
      // Consecutive unknown tokens are fused into one (ending with the last).
      if (id === unk) {
        this.pendingUnk = e;
        continue;
      }
      this.flushUnk(word, out);
      out.push(id, e);
      this.prevEnd = e;
    }
  }

  /** Emits the unknown token of a run waiting to be fused, if any. */
  private flushUnk(word: string, out: WordTokens): void {
    const e = this.pendingUnk;
    if (e < 0) return;
    this.pendingUnk = -1;
    if (!(this.byteFallback && this.pushBytes(word.slice(this.prevEnd, e), e, out))) out.push(this.unkId!, e);
    this.prevEnd = e;
  }

  private ensure(size: number): void {
    if (this.bestScore.length >= size) return;
    const n = Math.max(size, this.bestScore.length * 2);
    this.bestScore = new Float64Array(n);
    this.bestStart = new Int32Array(n);
    this.bestId = new Int32Array(n);
  }

  /** Room for `size` slots, the first `keep` kept; new slots unset. */
  private grow(size: number, keep: number): void {
    const n = Math.max(size, this.bestScore.length * 2);
    const score = new Float64Array(n);
    const from = new Int32Array(n).fill(-1);
    const best = new Int32Array(n);
    score.set(this.bestScore.subarray(0, keep));
    from.set(this.bestStart.subarray(0, keep));
    best.set(this.bestId.subarray(0, keep));
    this.bestScore = score;
    this.bestStart = from;
    this.bestId = best;
  }

  /** Byte fallback: the unknown text as `<0xNN>` pieces, when all of them exist. */
  private pushBytes(text: string, end: number, out: WordTokens): boolean {
    const bytes = new TextEncoder().encode(text);
    const found: number[] = [];
    for (const b of bytes) {
      const id = this.ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id === undefined) return false;
      found.push(id);
    }
    // All byte pieces share the unknown text's span; ends cannot express that, so they end together.
    for (const id of found) {
      out.push(id, end);
    }
    return true;
  }
}
