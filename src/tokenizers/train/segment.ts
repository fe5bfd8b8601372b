// Encoding with a SentencePiece model the way sentencepiece does, for the trainer's own checks and the
// benchmark (the project's tokenizers live in src/tokenizers): normalise, then Viterbi over the piece
// lattice (unigram) or highest-score-first merging (BPE); runs of unknown characters become one [UNK].
import type { SentencePieceModel } from '../sentencepiece-proto.ts';
import { SpmNormalizer } from './normalize.ts';
import { toCodePoints } from './pieces.ts';
import { CodePointTrie } from './trie.ts';

const UNK_PENALTY = 10;

export class SpmEncoder {
  readonly normalizer: SpmNormalizer;
  private trie: CodePointTrie;
  private lens = new Int32Array(0);
  private found = new Int32Array(0);
  private ids = new Map<string, number>();
  private scores: Float64Array;
  private unkId: number;
  private unkScore: number;
  private maxLen = 1;
  private bpe: boolean;

  constructor(model: SentencePieceModel) {
    const ns = model.normalizerSpec;
    this.normalizer = new SpmNormalizer({
      charsMap: ns.precompiledCharsmap ?? null,
      addDummyPrefix: ns.addDummyPrefix ?? true,
      removeExtraWhitespaces: ns.removeExtraWhitespaces ?? true,
      escapeWhitespaces: ns.escapeWhitespaces ?? true,
    });
    this.bpe = (model.trainerSpec.modelType ?? 'UNIGRAM') === 'BPE';
    this.scores = new Float64Array(model.pieces.length);
    let min = Infinity;
    this.unkId = -1;
    const matchable = model.pieces.map((p) => (p.type === 'NORMAL' || p.type === 'USER_DEFINED' ? toCodePoints(p.piece) : []));
    this.trie = new CodePointTrie(matchable.flat());
    model.pieces.forEach((p, id) => {
      this.scores[id] = p.score;
      if (p.type === 'UNKNOWN') this.unkId = id;
      if (p.type !== 'NORMAL' && p.type !== 'USER_DEFINED') return;
      const cps = matchable[id]!;
      this.trie.add(cps, 0, cps.length, id);
      this.ids.set(p.piece, id);
      this.maxLen = Math.max(this.maxLen, cps.length);
      if (p.type === 'NORMAL') min = Math.min(min, p.score);
    });
    if (this.unkId < 0) throw new Error('SpmEncoder: the model has no UNKNOWN piece');
    this.lens = new Int32Array(this.maxLen);
    this.found = new Int32Array(this.maxLen);
    this.unkScore = min - UNK_PENALTY;
  }

  /** Piece ids of `text` (no special tokens added). */
  encode(text: string): number[] {
    const norm = this.normalizer.normalize(text);
    if (!norm) return [];
    const cps = toCodePoints(norm);
    const raw = this.bpe ? this.encodeBpe(cps) : this.encodeUnigram(cps);
    const out: number[] = [];
    for (const id of raw) if (!(id === this.unkId && out.length && out[out.length - 1] === this.unkId)) out.push(id);
    return out;
  }

  private encodeUnigram(cps: number[]): number[] {
    const n = cps.length;
    const best = new Float64Array(n + 1).fill(-Infinity);
    const backLen = new Int32Array(n + 1);
    const backId = new Int32Array(n + 1);
    best[0] = 0;
    for (let pos = 0; pos < n; pos++) {
      const b = best[pos]!;
      let single = false;
      const m = this.trie.prefixes(cps, pos, n, this.maxLen, this.lens, this.found);
      for (let k = 0; k < m; k++) {
        const len = this.lens[k]!;
        const id = this.found[k]!;
        if (len === 1) single = true;
        const s = b + this.scores[id]!;
        if (s > best[pos + len]!) {
          best[pos + len] = s;
          backLen[pos + len] = len;
          backId[pos + len] = id;
        }
      }
      if (!single && b + this.unkScore > best[pos + 1]!) {
        best[pos + 1] = b + this.unkScore;
        backLen[pos + 1] = 1;
        backId[pos + 1] = this.unkId;
      }
    }
    const out: number[] = [];
    for (let pos = n; pos > 0; pos -= backLen[pos]!) out.push(backId[pos]!);
    return out.reverse();
  }

  private encodeBpe(cps: number[]): number[] {
    // No piece holds "▁" past its first character, so words ("▁" starts one) merge independently.
    const out: number[] = [];
    let start = 0;
    for (let i = 1; i <= cps.length; i++) {
      if (i === cps.length || cps[i] === 0x2581) {
        out.push(...this.mergeWord(cps.slice(start, i)));
        start = i;
      }
    }
    return out;
  }

  private mergeWord(cps: number[]): number[] {
    // Repeatedly merge the adjacent pair whose concatenation is the highest-scoring piece (leftmost
    // first on ties).
    let syms = cps.map((c) => String.fromCodePoint(c));
    for (;;) {
      let bestAt = -1;
      let bestScore = -Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const id = this.ids.get(syms[i]! + syms[i + 1]!);
        if (id === undefined) continue;
        const s = this.scores[id]!;
        if (s > bestScore) {
          bestScore = s;
          bestAt = i;
        }
      }
      if (bestAt < 0) break;
      syms = [...syms.slice(0, bestAt), syms[bestAt]! + syms[bestAt + 1]!, ...syms.slice(bestAt + 2)];
    }
    return syms.map((s) => this.ids.get(s) ?? this.unkId);
  }
}

/** Average number of pieces per whitespace-separated word over `lines`. */
export function tokensPerWord(encoder: SpmEncoder, lines: string[]): { tokens: number; words: number; ratio: number } {
  let tokens = 0;
  let words = 0;
  for (const l of lines) {
    tokens += encoder.encode(l).length;
    words += l.split(/\s+/).filter(Boolean).length;
  }
  return { tokens, words, ratio: tokens / words };
}
