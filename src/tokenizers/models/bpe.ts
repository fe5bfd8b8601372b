// Byte-pair encoding as Hugging Face `tokenizers` runs it: start from characters (with the optional
// continuing-subword prefix / end-of-word suffix), then repeatedly apply the lowest-ranked merge, leftmost
// first. Used for GPT-2 style byte-level vocabularies (DeBERTa v1) and any `tokenizer.json` BPE model.
import { MapVocabularyModel, type Model } from './model.ts';

export interface BpeOptions {
  unkToken?: string | null;
  continuingSubwordPrefix?: string | null;
  endOfWordSuffix?: string | null;
  fuseUnk?: boolean;
  byteFallback?: boolean;
  ignoreMerges?: boolean;
}

export class BpeModel extends MapVocabularyModel implements Model {
  readonly type = 'BPE' as const;
  /** (left id, right id) -> [rank, merged id]. */
  private merges = new Map<number, [number, number]>();
  private stride: number;
  private unkId: number | undefined;
  private prefix: string;
  private suffix: string;

  constructor(
    vocab: Map<string, number>,
    merges: [string, string][],
    private readonly options: BpeOptions = {},
    where = 'BPE model',
  ) {
    super(vocab);
    this.stride = this.maxId + 1;
    this.prefix = options.continuingSubwordPrefix ?? '';
    this.suffix = options.endOfWordSuffix ?? '';
    merges.forEach(([a, b], rank) => {
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      if (ia === undefined || ib === undefined) throw new Error(`${where}: merge ${rank} (${JSON.stringify(`${a} ${b}`)}) uses a token missing from the vocabulary`);
      const merged = a + (this.prefix && b.startsWith(this.prefix) ? b.slice(this.prefix.length) : b);
      const id = vocab.get(merged);
      if (id === undefined) throw new Error(`${where}: merge ${rank} gives ${JSON.stringify(merged)}, missing from the vocabulary`);
      // A repeated merge takes its last rank, as in `tokenizers` (a map filled in order).
      this.merges.set(ia * this.stride + ib, [rank, id]);
    });
    if (options.unkToken != null) this.unkId = vocab.get(options.unkToken);
  }

  tokenize(word: string, ids: number[], ends: number[]): void {
    if (word.length === 0) return;
    if (this.options.ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) {
        ids.push(id);
        ends.push(word.length);
        return;
      }
    }
    // Initial symbols: one per character.
    const symIds: number[] = [];
    const symEnds: number[] = [];
    const n = word.length;
    let pendingUnkEnd = -1;
    for (let i = 0; i < n; ) {
      const c = word.charCodeAt(i);
      const len = c >= 0xd800 && c <= 0xdbff && i + 1 < n && (word.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let s = word.slice(i, i + len);
      if (i > 0 && this.prefix) s = this.prefix + s;
      if (i + len === n && this.suffix) s += this.suffix;
      const id = this.vocab.get(s);
      i += len;
      if (id !== undefined) {
        if (pendingUnkEnd >= 0) {
          symIds.push(this.unkId!);
          symEnds.push(pendingUnkEnd);
          pendingUnkEnd = -1;
        }
        symIds.push(id);
        symEnds.push(i);
      } else if (this.options.byteFallback && this.pushBytes(word.slice(i - len, i), i, symIds, symEnds)) {
        // Bytes pushed.
      } else if (this.unkId !== undefined) {
        if (this.options.fuseUnk) pendingUnkEnd = i;
        else {
          symIds.push(this.unkId);
          symEnds.push(i);
        }
      }
      // Without an unknown token the character is dropped, as in `tokenizers`.
    }
    if (pendingUnkEnd >= 0) {
      symIds.push(this.unkId!);
      symEnds.push(pendingUnkEnd);
    }
    this.mergeAll(symIds, symEnds);
    for (let k = 0; k < symIds.length; k++) {
      if (symIds[k]! >= 0) {
        ids.push(symIds[k]!);
        ends.push(symEnds[k]!);
      }
    }
  }

  private pushBytes(ch: string, end: number, symIds: number[], symEnds: number[]): boolean {
    const found: number[] = [];
    for (const b of new TextEncoder().encode(ch)) {
      const id = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id === undefined) return false;
      found.push(id);
    }
    for (const id of found) {
      symIds.push(id);
      symEnds.push(end);
    }
    return true;
  }

  /** Applies merges in place; merged-away symbols get id -1. A min-heap on (rank, position). */
  private mergeAll(ids: number[], ends: number[]): void {
    const m = ids.length;
    if (m < 2) return;
    const next = new Int32Array(m);
    const prev = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      next[i] = i + 1 < m ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new MergeHeap();
    for (let i = 0; i + 1 < m; i++) {
      const mg = this.merges.get(ids[i]! * this.stride + ids[i + 1]!);
      if (mg) heap.push(mg[0], i, mg[1]);
    }
    while (heap.size) {
      const [, pos, newId] = heap.pop();
      if (ids[pos]! < 0) continue;
      const right = next[pos]!;
      if (right < 0) continue;
      const cur = this.merges.get(ids[pos]! * this.stride + ids[right]!);
      if (!cur || cur[1] !== newId) continue; // stale entry
      ids[pos] = newId;
      ends[pos] = ends[right]!;
      ids[right] = -1;
      const after = next[right]!;
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos]!;
      if (before >= 0) {
        const mg = this.merges.get(ids[before]! * this.stride + newId);
        if (mg) heap.push(mg[0], before, mg[1]);
      }
      if (after >= 0) {
        const mg = this.merges.get(newId * this.stride + ids[after]!);
        if (mg) heap.push(mg[0], pos, mg[1]);
      }
    }
  }
}

/** Binary min-heap of (rank, position, merged id), ordered by rank then position. */
class MergeHeap {
  private a: number[] = [];
  get size(): number {
    return this.a.length / 3;
  }
  private less(i: number, j: number): boolean {
    const a = this.a;
    return a[i * 3]! < a[j * 3]! || (a[i * 3] === a[j * 3] && a[i * 3 + 1]! < a[j * 3 + 1]!);
  }
  private swap(i: number, j: number): void {
    const a = this.a;
    for (let k = 0; k < 3; k++) {
      const t = a[i * 3 + k]!;
      a[i * 3 + k] = a[j * 3 + k]!;
      a[j * 3 + k] = t;
    }
  }
  push(rank: number, pos: number, id: number): void {
    this.a.push(rank, pos, id);
    let i = this.size - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number, number] {
    const a = this.a;
    const top: [number, number, number] = [a[0]!, a[1]!, a[2]!];
    const last = this.size - 1;
    if (last > 0) {
      a[0] = a[last * 3]!;
      a[1] = a[last * 3 + 1]!;
      a[2] = a[last * 3 + 2]!;
    }
    a.length = last * 3;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let s = i;
      if (l < n && this.less(l, s)) s = l;
      if (r < n && this.less(r, s)) s = r;
      if (s === i) break;
      this.swap(i, s);
      i = s;
    }
    return top;
  }
}
