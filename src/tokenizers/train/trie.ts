// A trie over code points (piece strings → piece ids): one hash map from (node, code point) to child.

export class CodePointTrie {
  private next = new Map<number, number>();
  private ids: number[] = [-1];

  get nodeCount(): number {
    return this.ids.length;
  }

  /** Adds `cps[start..end)` as piece `id` (the last id wins for a repeated string). */
  add(cps: ArrayLike<number>, start: number, end: number, id: number): void {
    let node = 0;
    for (let i = start; i < end; i++) {
      const key = node * 0x110000 + cps[i]!;
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
    return this.next.get(node * 0x110000 + cp) ?? -1;
  }

  /** The piece id ending at `node`, or -1. */
  idAt(node: number): number {
    return this.ids[node]!;
  }

  /**
   * Calls `fn(length, id)` for every piece that is a prefix of cps[start..end), shortest first, at most
   * `maxLen` code points long.
   */
  prefixes(cps: ArrayLike<number>, start: number, end: number, maxLen: number, fn: (len: number, id: number) => void): void {
    let node = 0;
    const stop = Math.min(end, start + maxLen);
    for (let i = start; i < stop; i++) {
      node = this.child(node, cps[i]!);
      if (node < 0) return;
      const id = this.ids[node]!;
      if (id >= 0) fn(i - start + 1, id);
    }
  }
}
