// The unigram language model (SentencePiece "unigram", and what transformers 5 builds from any
// `spm.model`): the segmentation of a word that maximises the sum of piece scores (Viterbi), with the
// rules of Hugging Face `tokenizers`: a character no piece starts with becomes the unknown id with score
// `min score - 10`, consecutive unknowns are fused into one token, and on equal scores the first path
// found (shorter piece, earlier start) wins.
import type { Model, WordTokens } from './model.ts';

const UNK_PENALTY = 10;

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
    if (this.bestScore.length < n + 1) {
      const size = Math.max(n + 1, this.bestScore.length * 2);
      this.bestScore = new Float64Array(size);
      this.bestStart = new Int32Array(size);
      this.bestId = new Int32Array(size);
    }
    const score = this.bestScore;
    const from = this.bestStart;
    const best = this.bestId;
    from.fill(-1, 0, n + 1);
    score[0] = 0;
    const unk = this.unkId ?? -1;
    for (let start = 0; start < n; ) {
      const c0 = word.charCodeAt(start);
      const charLen = c0 >= 0xd800 && c0 <= 0xdbff && start + 1 < n && (word.charCodeAt(start + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      const base = score[start]!;
      let single = false;
      let node = this.root[c0]!;
      let pos = start + 1;
      while (node >= 0) {
        const id = this.terminal[node]!;
        if (id >= 0) {
          const cand = base + this.scores[id]!;
          if (from[pos] === -1 || cand > score[pos]!) {
            score[pos] = cand;
            from[pos] = start;
            best[pos] = id;
          }
          if (pos - start === charLen) single = true;
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
        if (from[end] === -1 || cand > score[end]!) {
          score[end] = cand;
          from[end] = start;
          best[end] = unk;
        }
      }
      start += charLen;
    }
    // Walk back from the end, fusing runs of unknown tokens (into the `bestId` and `bestStart` slots
    // the walk has passed: the k-th token found is written at n - k, never ahead of the walk).
    const revIds = best;
    const revEnds = from;
    let found = 0;
    let end = n;
    let unkRunEnd = -1;
    while (end > 0) {
      const start = from[end]!;
      const id = best[end]!;
      if (id === unk) {
        if (unkRunEnd < 0) unkRunEnd = end;
      } else {
        if (unkRunEnd >= 0) {
          found++;
          revIds[n + 1 - found] = unk;
          revEnds[n + 1 - found] = unkRunEnd;
          unkRunEnd = -1;
        }
        found++;
        revIds[n + 1 - found] = id;
        revEnds[n + 1 - found] = end;
      }
      end = start;
    }
    if (unkRunEnd >= 0) {
      found++;
      revIds[n + 1 - found] = unk;
      revEnds[n + 1 - found] = unkRunEnd;
    }
    let prevEnd = 0;
    for (let k = n + 1 - found; k <= n; k++) {
      const id = revIds[k]!;
      const e = revEnds[k]!;
      if (id === unk && this.byteFallback && this.pushBytes(word.slice(prevEnd, e), e, out)) {
        prevEnd = e;
        continue;
      }
      out.push(id, e);
      prevEnd = e;
    }
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
