// A Darts-clone compatible double-array trie over byte strings: the structure inside SentencePiece's
// `precompiled_charsmap`. Only the unit layout has to match Darts-clone (its readers walk the array);
// how the array is packed is ours (a trie whose identical subtrees are stored once, as Darts-clone's
// DAWG does). Each 32-bit unit is either
//   - an inner node: bits 0-7 the label (byte) that leads to it, bit 8 "has a leaf child", bit 9 the
//     offset-scale flag (always 0 here: arrays stay below 2^21 units), bits 10-31 the XOR offset to its
//     children's base; or
//   - a value unit: bit 31 set, bits 0-30 the value (found at `base ^ 0` of a node with a leaf).
// A child labelled c of the node at position p sits at p ^ offset(p) ^ c; unit 0 is the root.

const MAX_DIRECT_OFFSET = 1 << 21;

export interface PrefixMatch {
  /** Number of key bytes matched. */
  length: number;
  value: number;
}

/**
 * Builds the unit array for `keys` (byte strings, non-empty, without NUL bytes, sorted and unique) mapped
 * to `values` (0 .. 2^31-1).
 */
export function buildDoubleArray(keys: Uint8Array[], values: number[]): Uint32Array {
  if (keys.length !== values.length) throw new Error('buildDoubleArray: keys and values differ in length');
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k.length === 0) throw new Error(`buildDoubleArray: key ${i} is empty`);
    if (k.includes(0)) throw new Error(`buildDoubleArray: key ${i} holds a NUL byte`);
    if (i > 0 && compareBytes(keys[i - 1]!, k) >= 0) throw new Error(`buildDoubleArray: keys must be sorted and unique (at ${i})`);
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new Error(`buildDoubleArray: value ${i} out of range`);
  }
  const b = new Builder();
  b.build(keys, values);
  return b.finish();
}

interface Node {
  labels: number[]; // ascending; 0 = a key ends here
  children: number[]; // node index per label (for label 0: the value)
  sig: number; // identical subtrees share one id, and so one place in the array
}

class Builder {
  private units = new Uint32Array(1024);
  private used = new Uint8Array(1024); // slot taken
  private baseUsed = new Uint8Array(1024); // some node's children start here
  private size = 1; // slots [0, size) may be referenced; grows in blocks of 256
  private nextFree = new Int32Array(1024);
  private prevFree = new Int32Array(1024);
  private firstFree = -1; // head of the doubly linked list of free slots in [0, allocated)
  private lastFree = -1;
  private allocated = 0;
  private nodes: Node[] = [];
  private sigIds = new Map<string, number>();
  private sigBase = new Map<number, number>();

  build(keys: Uint8Array[], values: number[]): void {
    this.freshBlock();
    this.take(0); // the root
    if (keys.length === 0) {
      this.size = 256;
      return;
    }
    const root = this.makeNode(keys, values, 0, keys.length, 0);
    this.place(0, root);
  }

  finish(): Uint32Array {
    const n = Math.ceil(this.size / 256) * 256;
    return this.units.slice(0, n);
  }

  /** The trie node for keys[lo..hi), which share their first `depth` bytes. */
  private makeNode(keys: Uint8Array[], values: number[], lo: number, hi: number, depth: number): number {
    const labels: number[] = [];
    const children: number[] = [];
    for (let i = lo; i < hi; ) {
      const c = depth < keys[i]!.length ? keys[i]![depth]! : 0;
      let j = i + 1;
      if (c !== 0) while (j < hi && keys[j]![depth] === c) j++;
      labels.push(c);
      children.push(c === 0 ? values[i]! : this.makeNode(keys, values, i, j, depth + 1));
      i = j;
    }
    // Subtrees with the same labels, values and (shared) child subtrees are one DAWG node.
    const key = labels.map((c, k) => `${c}:${c === 0 ? children[k] : this.nodes[children[k]!]!.sig}`).join(',');
    let sig = this.sigIds.get(key);
    if (sig === undefined) {
      sig = this.sigIds.size;
      this.sigIds.set(key, sig);
    }
    this.nodes.push({ labels, children, sig });
    return this.nodes.length - 1;
  }

  private ensure(n: number): void {
    if (n <= this.units.length) return;
    let cap = this.units.length;
    while (cap < n) cap *= 2;
    const grow = <T extends Uint8Array | Uint32Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.units = grow(this.units, (c) => new Uint32Array(c));
    this.used = grow(this.used, (c) => new Uint8Array(c));
    this.baseUsed = grow(this.baseUsed, (c) => new Uint8Array(c));
    this.nextFree = grow(this.nextFree, (c) => new Int32Array(c));
    this.prevFree = grow(this.prevFree, (c) => new Int32Array(c));
  }

  /** Writes the offset of the node at `pos` and lays out its children (once per distinct subtree). */
  private place(pos: number, nodeIndex: number): void {
    const node = this.nodes[nodeIndex]!;
    const hasLeaf = node.labels[0] === 0;
    let base = this.sigBase.get(node.sig);
    const fresh = base === undefined;
    if (base === undefined) {
      base = this.findBase(node.labels);
      this.sigBase.set(node.sig, base);
      this.baseUsed[base] = 1;
      for (const c of node.labels) this.take(base ^ c);
    }
    const offset = pos ^ base;
    if (offset >= MAX_DIRECT_OFFSET) throw new Error('buildDoubleArray: trie too large');
    this.units[pos] = ((this.units[pos]! & 0xff) | (offset << 10) | (hasLeaf ? 1 << 8 : 0)) >>> 0;
    if (!fresh) return;
    for (let j = 0; j < node.labels.length; j++) {
      const c = node.labels[j]!;
      const child = base ^ c;
      if (c === 0) {
        this.units[child] = (node.children[j]! | 0x80000000) >>> 0;
      } else {
        this.units[child] = c;
        this.place(child, node.children[j]!);
      }
    }
  }

  private take(p: number): void {
    this.used[p] = 1;
    // Unlink p from the list of free slots.
    const prev = this.prevFree[p]!;
    const next = this.nextFree[p]!;
    if (prev >= 0) this.nextFree[prev] = next;
    else this.firstFree = next;
    if (next >= 0) this.prevFree[next] = prev;
    else this.lastFree = prev;
  }

  private findBase(labels: number[]): number {
    // Candidates are free slots for the first label; after a bounded search, open a fresh block so
    // the build stays near-linear (as Darts-clone bounds its search to recent blocks).
    let tries = 0;
    for (let p = this.firstFree; ; p = this.nextFree[p]!) {
      if (p < 0 || tries++ > 2048) {
        p = this.freshBlock();
        tries = -256; // the fresh block's slots are all candidates
      }
      const base = p ^ labels[0]!;
      if (this.baseUsed[base]) continue;
      let ok = true;
      for (let j = 1; j < labels.length && ok; j++) if (this.used[base ^ labels[j]!]) ok = false;
      if (!ok) continue;
      // Every label lookup from this base stays inside its 256-unit block: make the block addressable.
      const end = (base | 0xff) + 1;
      if (end > this.size) this.size = end;
      return base;
    }
  }

  /** Appends a block of 256 free slots and returns its first one. */
  private freshBlock(): number {
    const start = this.allocated;
    this.ensure(start + 256);
    for (let q = start; q < start + 256; q++) {
      this.prevFree[q] = q === start ? this.lastFree : q - 1;
      this.nextFree[q] = q === start + 255 ? -1 : q + 1;
    }
    if (this.lastFree >= 0) this.nextFree[this.lastFree] = start;
    else this.firstFree = start;
    this.lastFree = start + 255;
    this.allocated = start + 256;
    return start;
  }
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
}
function labelOf(unit: number): number {
  return unit & (0x80000000 | 0xff);
}

/** The longest key that is a prefix of bytes[start..end), as SentencePiece's normaliser looks it up. */
export function longestPrefix(units: Uint32Array, bytes: Uint8Array, start: number, end: number): PrefixMatch | null {
  if (units.length === 0) return null;
  let pos = offsetOf(units[0]!);
  let best: PrefixMatch | null = null;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0) break;
    pos ^= c;
    if (pos >= units.length) break;
    const unit = units[pos]!;
    if (labelOf(unit) !== c) break;
    pos ^= offsetOf(unit);
    if ((unit >>> 8) & 1) best = { length: i - start + 1, value: units[pos]! & 0x7fffffff };
  }
  return best;
}

/** Every (key, value) pair stored in the array, keys in byte order: the inverse of buildDoubleArray. */
export function listKeys(units: Uint32Array): { key: Uint8Array; value: number }[] {
  // Nodes that share a base share their whole subtree (the DAWG), so each subtree is listed once.
  const memo = new Map<number, { suffix: number[]; value: number }[]>();
  const below = (pos: number): { suffix: number[]; value: number }[] => {
    const unit = units[pos]!;
    const base = pos ^ offsetOf(unit);
    const key = base * 2 + ((unit >>> 8) & 1);
    const hit = memo.get(key);
    if (hit) return hit;
    const out: { suffix: number[]; value: number }[] = [];
    if ((unit >>> 8) & 1) out.push({ suffix: [], value: units[base]! & 0x7fffffff });
    for (let c = 1; c < 256; c++) {
      const child = base ^ c;
      if (child >= units.length || labelOf(units[child]!) !== c) continue;
      for (const k of below(child)) out.push({ suffix: [c, ...k.suffix], value: k.value });
    }
    memo.set(key, out);
    return out;
  };
  return units.length ? below(0).map((k) => ({ key: Uint8Array.from(k.suffix), value: k.value })) : [];
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
