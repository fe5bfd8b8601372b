// Byte-pair encoding as Hugging Face `tokenizers` runs it: start from characters (with the optional
// continuing-subword prefix / end-of-word suffix), then repeatedly apply the lowest-ranked merge, leftmost
// first. Used for GPT-2 style byte-level vocabularies (DeBERTa v1) and any `tokenizer.json` BPE model.
import { MapVocabularyModel, type Model, type WordTokens } from './model.ts';

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
  /** (left id, right id) -> rank and merged id. */
  private merges: PairTable;
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
    this.merges = new PairTable(merges.length);
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
      this.merges.set(ia, ib, rank, id);
    });
    if (options.unkToken != null) this.unkId = vocab.get(options.unkToken);
  }

  /** Id of each one-unit symbol when there is no prefix nor suffix to add (-1: not in the vocabulary). */
  private unitIds: Int32Array | null = null;
  // Scratch space of the word under way, reused from word to word (no arrays per word).
  private symIds = new Int32Array(64);
  private symEnds = new Int32Array(64);
  private next = new Int32Array(64);
  private prev = new Int32Array(64);
  private heap = new MergeHeap();

  private unitTable(): Int32Array {
    if (!this.unitIds) {
      const t = new Int32Array(65536).fill(-1);
      for (let c = 0; c < 65536; c++) {
        const id = this.vocab.get(String.fromCharCode(c));
        if (id !== undefined) t[c] = id;
      }
      this.unitIds = t;
    }
    return this.unitIds;
  }

  private reserve(n: number): void {
    if (n <= this.symIds.length) return;
    const size = Math.max(n, this.symIds.length * 2);
    this.symIds = new Int32Array(size);
    this.symEnds = new Int32Array(size);
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
  }

  tokenize(word: string, out: WordTokens): void {
    if (word.length === 0) return;
    if (this.options.ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) {
        out.push(id, word.length);
        return;
      }
    }
    // Initial symbols: one per character (byte fallback: up to 3 per UTF-16 unit).
    const n = word.length;
    this.reserve(3 * n + 1);
    const symIds = this.symIds;
    const symEnds = this.symEnds;
    let m = 0;
    const units = !this.prefix && !this.suffix ? this.unitTable() : null;
    let pendingUnkEnd = -1;
    for (let i = 0; i < n; ) {
      const c = word.charCodeAt(i);
      const len = c >= 0xd800 && c <= 0xdbff && i + 1 < n && (word.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      let id: number | undefined;
      if (units && len === 1) {
        const u = units[c]!;
        id = u >= 0 ? u : undefined;
      } else {
        let s = word.slice(i, i + len);
        if (i > 0 && this.prefix) s = this.prefix + s;
        if (i + len === n && this.suffix) s += this.suffix;
        id = this.vocab.get(s);
      }
      i += len;
      if (id !== undefined) {
        if (pendingUnkEnd >= 0) {
          symIds[m] = this.unkId!;
          symEnds[m++] = pendingUnkEnd;
          pendingUnkEnd = -1;
        }
        symIds[m] = id;
        symEnds[m++] = i;
      } else if (this.options.byteFallback && this.bytesOf(word.slice(i - len, i))) {
        for (let k = 0; k < this.byteIds.length; k++) {
          symIds[m] = this.byteIds[k]!;
          symEnds[m++] = i;
        }
      } else if (this.unkId !== undefined) {
        if (this.options.fuseUnk) pendingUnkEnd = i;
        else {
          symIds[m] = this.unkId;
          symEnds[m++] = i;
        }
      }
      // Without an unknown token the character is dropped, as in `tokenizers`.
    }
    if (pendingUnkEnd >= 0) {
      symIds[m] = this.unkId!;
      symEnds[m++] = pendingUnkEnd;
    }
    this.mergeAll(m);
    for (let k = 0; k < m; k++) {
      if (symIds[k]! >= 0) {
        out.push(symIds[k]!, symEnds[k]!);
      }
    }
  }

  /** The byte pieces (`<0xNN>`) of `ch`, into `byteIds`; false when one is missing. */
  private byteIds: number[] = [];
  private bytesOf(ch: string): boolean {
    this.byteIds.length = 0;
    for (const b of new TextEncoder().encode(ch)) {
      const id = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (id === undefined) return false;
      this.byteIds.push(id);
    }
    return true;
  }

  /** Applies merges in place to the first `m` symbols; merged-away symbols get id -1. A min-heap on (rank, position). */
  private mergeAll(m: number): void {
    if (m < 2) return;
    const ids = this.symIds;
    const ends = this.symEnds;
    const next = this.next;
    const prev = this.prev;
    for (let i = 0; i < m; i++) {
      next[i] = i + 1 < m ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = this.heap;
    heap.clear();
    const merges = this.merges;
    for (let i = 0; i + 1 < m; i++) {
      const at = merges.find(ids[i]!, ids[i + 1]!);
      if (at >= 0) heap.push(merges.rank[at]!, i, merges.merged[at]!);
    }
    while (heap.size) {
      heap.pop();
      const pos = heap.topPos;
      const newId = heap.topId;
      if (ids[pos]! < 0) continue;
      const right = next[pos]!;
      if (right < 0) continue;
      const cur = merges.find(ids[pos]!, ids[right]!);
      if (cur < 0 || merges.merged[cur] !== newId) continue; // stale entry
      ids[pos] = newId;
      ends[pos] = ends[right]!;
      ids[right] = -1;
      const after = next[right]!;
      next[pos] = after;
      if (after >= 0) prev[after] = pos;
      const before = prev[pos]!;
      if (before >= 0) {
        const at = merges.find(ids[before]!, newId);
        if (at >= 0) heap.push(merges.rank[at]!, before, merges.merged[at]!);
      }
      if (after >= 0) {
        const at = merges.find(newId, ids[after]!);
        if (at >= 0) heap.push(merges.rank[at]!, pos, merges.merged[at]!);
      }
    }
  }
}

/**
 * A hash table from a pair of ids to a merge's rank and merged id, in flat typed arrays with open
 * addressing: a lookup allocates nothing (a Map keyed by left * stride + right boxes keys past 2^31).
 */
class PairTable {
  private left: Int32Array;
  private right: Int32Array;
  rank: Int32Array;
  merged: Int32Array;
  private mask: number;

  constructor(count: number) {
    let size = 16;
    while (size < count * 2) size *= 2;
    this.mask = size - 1;
    this.left = new Int32Array(size).fill(-1);
    this.right = new Int32Array(size);
    this.rank = new Int32Array(size);
    this.merged = new Int32Array(size);
  }

  private slot(a: number, b: number): number {
    let i = (Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(b | 0, 0x85ebca6b)) & this.mask;
    while (this.left[i] !== -1 && (this.left[i] !== a || this.right[i] !== b)) i = (i + 1) & this.mask;
    return i;
  }

  /** Sets (a, b); a repeated pair takes the later values, as a map filled in order does. */
  set(a: number, b: number, rank: number, merged: number): void {
    const i = this.slot(a, b);
    this.left[i] = a;
    this.right[i] = b;
    this.rank[i] = rank;
    this.merged[i] = merged;
  }

  /** The slot of (a, b), or -1. */
  find(a: number, b: number): number {
    const i = this.slot(a, b);
    return this.left[i] === -1 ? -1 : i;
  }
}

/** Binary min-heap of (rank, position, merged id), ordered by rank then position; reused from word to word. */
class MergeHeap {
  private a = new Int32Array(3 * 64);
  private n = 0;
  /** The position and merged id of the entry `pop` took. */
  topPos = 0;
  topId = 0;
  get size(): number {
    return this.n;
  }
  clear(): void {
    this.n = 0;
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
    if (3 * (this.n + 1) > this.a.length) {
      const grown = new Int32Array(this.a.length * 2);
      grown.set(this.a);
      this.a = grown;
    }
    const a = this.a;
    let i = this.n++;
    a[i * 3] = rank;
    a[i * 3 + 1] = pos;
    a[i * 3 + 2] = id;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Removes the least entry, leaving its position and id in `topPos` and `topId`. */
  pop(): void {
    const a = this.a;
    this.topPos = a[1]!;
    this.topId = a[2]!;
    const last = --this.n;
    if (last > 0) {
      a[0] = a[last * 3]!;
      a[1] = a[last * 3 + 1]!;
      a[2] = a[last * 3 + 2]!;
    }
    let i = 0;
    const n = this.n;
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
  }
}
