// A trie over code points (piece strings → piece ids). Children live in one hash map keyed by
// node × (alphabet size) + character index, which stays a small integer for the alphabets of real
// corpora (fast map keys).

export class CodePointTrie {
  private next = new Map<number, number>();
  private ids: number[] = [-1];
  private charIndex = new Map<number, number>();
  private stride: number;

  /** `alphabet`: every code point the pieces use (others are simply never matched). */
  constructor(alphabet: Iterable<number>) {
    for (const cp of alphabet) if (!this.charIndex.has(cp)) this.charIndex.set(cp, this.charIndex.size);
    this.stride = this.charIndex.size + 1;
  }

  /** A trie of `pieces` (piece i gets id i), its alphabet taken from the pieces. */
  static of(pieces: ArrayLike<number>[]): CodePointTrie {
    const alphabet = new Set<number>();
    for (const p of pieces) for (let i = 0; i < p.length; i++) alphabet.add(p[i]!);
    const trie = new CodePointTrie(alphabet);
    for (let id = 0; id < pieces.length; id++) trie.add(pieces[id]!, 0, pieces[id]!.length, id);
    return trie;
  }

  get nodeCount(): number {
    return this.ids.length;
  }

  /** Adds `cps[start..end)` as piece `id` (the last id wins for a repeated string). */
  add(cps: ArrayLike<number>, start: number, end: number, id: number): void {
    let node = 0;
    for (let i = start; i < end; i++) {
      const c = this.charIndex.get(cps[i]!);
      if (c === undefined) throw new Error(`CodePointTrie: U+${cps[i]!.toString(16)} is not in the alphabet`);
      const key = node * this.stride + c;
      let child = this.next.get(key);
      if (child === undefined) {
        child = this.ids.length;
        this.ids.push(-1);
        this.next.set(key, child);
      }
      node = child;
    }
    this.ids[node] = id;
  }

  /** The child of `node` by code point `cp`, or -1. The root is node 0. */
  child(node: number, cp: number): number {
    const c = this.charIndex.get(cp);
    if (c === undefined) return -1;
    return this.next.get(node * this.stride + c) ?? -1;
  }

  /** The piece id ending at `node`, or -1. */
  idAt(node: number): number {
    return this.ids[node]!;
  }

  /**
   * The pieces that are prefixes of cps[start..end), at most `maxLen` code points long, shortest first:
   * their lengths go to `lens` and ids to `ids`; returns how many.
   */
  prefixes(cps: ArrayLike<number>, start: number, end: number, maxLen: number, lens: Int32Array, ids: Int32Array): number {
    let node = 0;
    let n = 0;
    const stop = Math.min(end, start + maxLen);
    for (let i = start; i < stop; i++) {
      node = this.child(node, cps[i]!);
      if (node < 0) break;
      const id = this.ids[node]!;
      if (id >= 0) {
        lens[n] = i - start + 1;
        ids[n++] = id;
      }
    }
    return n;
  }
}
