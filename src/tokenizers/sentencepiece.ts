// SentencePiece itself, as the `sentencepiece` library encodes with an `spm.model`: its normaliser (the
// precompiled character map, longest match, then the whitespace rules of NormalizerSpec) and its unigram
// or BPE model. DeBERTa does NOT tokenise this way under transformers 5, which rebuilds any spm.model as a
// `tokenizers` unigram pipeline (see auto.ts); this is for checking models trained with SentencePiece
// against `spm.encode`, and what the fixtures' `spm_pieces` / `spm_ids` record.
import { readSentencePieceModel, TRAINER_SPEC_DEFAULTS, NORMALIZER_SPEC_DEFAULTS, type SentencePieceModel } from './sentencepiece-proto.ts';
import { PrecompiledCharsMap } from './precompiled.ts';
import { UnigramModel } from './models/unigram.ts';
import { WordTokens } from './models/model.ts';

const SPACE = '\u2581';

export interface SentencePieceEncoding {
  pieces: string[];
  ids: number[];
}

export class SentencePieceProcessor {
  private charsMap: PrecompiledCharsMap | null;
  private pieceIds = new Map<string, number>();
  private unigram: UnigramModel | null = null;
  private unkId: number;
  private addDummyPrefix: boolean;
  private removeExtraWhitespaces: boolean;
  private escapeWhitespaces: boolean;
  private byteFallback: boolean;

  constructor(
    readonly model: SentencePieceModel,
    file = 'spm.model',
  ) {
    const ns = model.normalizerSpec;
    const map = ns.precompiledCharsmap;
    this.charsMap = map?.length ? new PrecompiledCharsMap(map, `${file}: normalizer_spec.precompiled_charsmap`) : null;
    this.addDummyPrefix = ns.addDummyPrefix ?? NORMALIZER_SPEC_DEFAULTS.addDummyPrefix;
    this.removeExtraWhitespaces = ns.removeExtraWhitespaces ?? NORMALIZER_SPEC_DEFAULTS.removeExtraWhitespaces;
    this.escapeWhitespaces = ns.escapeWhitespaces ?? NORMALIZER_SPEC_DEFAULTS.escapeWhitespaces;
    this.byteFallback = model.trainerSpec.byteFallback ?? TRAINER_SPEC_DEFAULTS.byteFallback;
    if (model.trainerSpec.treatWhitespaceAsSuffix) throw new Error(`${file}: trainer_spec.treat_whitespace_as_suffix is not supported`);
    // Only normal, user-defined and unused pieces are matched in text (control pieces never are).
    model.pieces.forEach((p, id) => {
      if (p.type === 'NORMAL' || p.type === 'USER_DEFINED' || p.type === 'UNUSED' || p.type === 'BYTE') this.pieceIds.set(p.piece, id);
    });
    this.unkId = model.pieces.findIndex((p) => p.type === 'UNKNOWN');
    const type = model.trainerSpec.modelType ?? TRAINER_SPEC_DEFAULTS.modelType;
    if (type === 'UNIGRAM') {
      let min = Infinity;
      for (const p of model.pieces) if (p.type === 'NORMAL' && p.score < min) min = p.score;
      const inTrie = (id: number): boolean => {
        const t = model.pieces[id]!.type;
        return t === 'NORMAL' || t === 'USER_DEFINED';
      };
      this.unigram = new UnigramModel(
        model.pieces.map((p) => [p.piece, p.score]),
        this.unkId,
        false,
        { inTrie, minScore: min },
      );
    } else if (type !== 'BPE') {
      throw new Error(`${file}: trainer_spec.model_type ${type} is not supported (UNIGRAM and BPE are)`);
    }
  }

  static fromBytes(bytes: Uint8Array, file: string): SentencePieceProcessor {
    return new SentencePieceProcessor(readSentencePieceModel(bytes, file), file);
  }

  get vocabSize(): number {
    return this.model.pieces.length;
  }

  idToPiece(id: number): string | undefined {
    return this.model.pieces[id]?.piece;
  }

  /** Id of a piece (control pieces included); the unknown id for anything else. */
  pieceToId(piece: string): number {
    const id = this.pieceIds.get(piece);
    if (id !== undefined) return id;
    const k = this.model.pieces.findIndex((p) => p.piece === piece);
    return k >= 0 ? k : this.unkId;
  }

  /** The normalised text SentencePiece segments (spaces as U+2581). */
  normalize(text: string): string {
    const out: string[] = [];
    let i = 0;
    const next = (): string => {
      const m = this.charsMap?.longest(text, i) ?? null;
      if (m) {
        i += m.length;
        return m.replacement;
      }
      const cp = text.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      i += len;
      return cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : text.slice(i - len, i);
    };
    if (this.removeExtraWhitespaces) {
      // Leading whitespace (after normalisation) is dropped.
      while (i < text.length) {
        const save = i;
        if (next() !== ' ') {
          i = save;
          break;
        }
      }
    }
    if (i >= text.length) return '';
    if (this.addDummyPrefix) out.push(this.escapeWhitespaces ? SPACE : ' ');
    let prevSpace = this.removeExtraWhitespaces;
    while (i < text.length) {
      let s = next();
      if (prevSpace) s = s.replace(/^ +/, '');
      if (s.length) {
        out.push(this.escapeWhitespaces ? s.replaceAll(' ', SPACE) : s);
        prevSpace = s.endsWith(' ');
      }
    }
    let result = out.join('');
    if (this.removeExtraWhitespaces) {
      const sp = this.escapeWhitespaces ? SPACE : ' ';
      while (result.endsWith(sp)) result = result.slice(0, -sp.length);
    }
    return result;
  }

  /** Pieces and ids as `SentencePieceProcessor.encode` gives them (consecutive unknowns merged). */
  encode(text: string): SentencePieceEncoding {
    if (typeof text !== 'string') throw new TypeError(`SentencePieceProcessor.encode: text must be a string, got ${typeof text}`);
    const norm = this.normalize(text);
    const raw: [string, number][] = [];
    if (this.unigram) {
      const tokens = new WordTokens();
      this.unigram.tokenize(norm, tokens);
      let a = 0;
      for (let k = 0; k < tokens.length; k++) {
        const e = tokens.ends[k]!;
        raw.push([norm.slice(a, e), tokens.ids[k]!]);
        a = e;
      }
    } else {
      for (const piece of this.bpe(norm)) raw.push([piece, this.pieceIds.get(piece) ?? this.unkId]);
    }
    const out: SentencePieceEncoding = { pieces: [], ids: [] };
    for (const [piece, id] of raw) {
      if (id === this.unkId && this.byteFallback && this.pushBytes(piece, out)) continue;
      const last = out.ids.length - 1;
      if (id === this.unkId && last >= 0 && out.ids[last] === this.unkId) out.pieces[last] += piece;
      else {
        out.pieces.push(piece);
        out.ids.push(id);
      }
    }
    return out;
  }

  private pushBytes(piece: string, out: SentencePieceEncoding): boolean {
    const found: [string, number][] = [];
    for (const b of new TextEncoder().encode(piece)) {
      const name = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
      const id = this.pieceIds.get(name);
      if (id === undefined) return false;
      found.push([name, id]);
    }
    for (const [p, id] of found) {
      out.pieces.push(p);
      out.ids.push(id);
    }
    return true;
  }

  /**
   * SentencePiece's BPE: start from characters, repeatedly merge the adjacent pair whose concatenation is
   * the highest-scoring piece (leftmost on ties).
   */
  private bpe(text: string): string[] {
    const sym: string[] = Array.from(text);
    const n = sym.length;
    if (n === 0) return [];
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    // Max-heap on (score, -left), kept as a sorted insertion is too slow; a binary heap.
    const heap: { score: number; left: number; right: number; piece: string }[] = [];
    const better = (a: (typeof heap)[0], b: (typeof heap)[0]): boolean => a.score > b.score || (a.score === b.score && a.left < b.left);
    const push = (e: (typeof heap)[0]): void => {
      heap.push(e);
      let i = heap.length - 1;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!better(heap[i]!, heap[p]!)) break;
        [heap[i], heap[p]] = [heap[p]!, heap[i]!];
        i = p;
      }
    };
    const pop = (): (typeof heap)[0] => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let s = i;
          if (l < heap.length && better(heap[l]!, heap[s]!)) s = l;
          if (r < heap.length && better(heap[r]!, heap[s]!)) s = r;
          if (s === i) break;
          [heap[i], heap[s]] = [heap[s]!, heap[i]!];
          i = s;
        }
      }
      return top;
    };
    const maybeAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const piece = sym[left]! + sym[right]!;
      const id = this.pieceIds.get(piece);
      if (id === undefined) return;
      push({ score: this.model.pieces[id]!.score, left, right, piece });
    };
    for (let i = 0; i + 1 < n; i++) maybeAdd(i, i + 1);
    while (heap.length) {
      const top = pop();
      // Stale: one side was merged away or has grown since.
      if (sym[top.left] === '' || sym[top.right] === '' || sym[top.left]! + sym[top.right]! !== top.piece || next[top.left] !== top.right) continue;
      sym[top.left] = top.piece;
      sym[top.right] = '';
      next[top.left] = next[top.right]!;
      if (next[top.right]! >= 0) prev[next[top.right]!] = top.left;
      maybeAdd(prev[top.left]!, top.left);
      maybeAdd(top.left, next[top.left]!);
    }
    return sym.filter((s) => s !== '');
  }

  /** Pieces back to text: U+2581 to spaces, the dummy prefix removed; unknown ids as ` ⁇ `. */
  decode(ids: number[]): string {
    let text = '';
    for (const id of ids) {
      const p = this.model.pieces[id];
      if (!p) throw new RangeError(`SentencePieceProcessor.decode: id ${id} is out of range`);
      if (p.type === 'CONTROL') continue;
      text += p.type === 'UNKNOWN' ? (this.model.trainerSpec.unkSurface ?? TRAINER_SPEC_DEFAULTS.unkSurface) : p.piece.replaceAll(SPACE, ' ');
    }
    return this.addDummyPrefix && text.startsWith(' ') ? text.slice(1) : text;
  }
}
