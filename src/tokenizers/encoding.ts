// One encoded sequence (or pair) with everything transformers reports per token, and the operations of
// `tokenizers`' Encoding that give transformers its truncation, overflow and padding behaviour.
//
// Columns are typed arrays: a long text's million tokens are a few flat buffers outside the JavaScript
// heap, not arrays of boxed numbers that the garbage collector copies and marks. Ids and type ids are
// unsigned 32-bit, as in `tokenizers` (u32; the readers refuse larger ones).

export type TruncationDirection = 'right' | 'left';

type Column = Uint32Array | Int32Array | Uint8Array | Int8Array;

export class Encoding {
  constructor(
    public ids: Uint32Array = new Uint32Array(0),
    public typeIds: Uint32Array = new Uint32Array(0),
    /** Token offsets in the original text (UTF-16 code units). */
    public starts: Int32Array = new Int32Array(0),
    public ends: Int32Array = new Int32Array(0),
    public specialTokensMask: Uint8Array = new Uint8Array(0),
    public attentionMask: Uint8Array = new Uint8Array(0),
    /** 0 or 1 for tokens of the first or second sequence, -1 for added special tokens and padding. */
    public sequenceIds: Int8Array = new Int8Array(0),
    public overflowing: Encoding[] = [],
  ) {}

  /** One sequence's tokens: the per-sequence columns filled with its type and sequence id. */
  static ofSequence(ids: Uint32Array, starts: Int32Array, ends: Int32Array, seq: 0 | 1): Encoding {
    const n = ids.length;
    return new Encoding(ids, new Uint32Array(n).fill(seq), starts, ends, new Uint8Array(n), new Uint8Array(n).fill(1), new Int8Array(n).fill(seq));
  }

  get length(): number {
    return this.ids.length;
  }

  clone(): Encoding {
    const c = this.range(0, this.ids.length);
    c.overflowing = this.overflowing.map((o) => o.clone());
    return c;
  }

  /** Tokens [a, b), copied (windows are changed independently afterwards). */
  private range(a: number, b: number): Encoding {
    return new Encoding(
      this.ids.slice(a, b),
      this.typeIds.slice(a, b),
      this.starts.slice(a, b),
      this.ends.slice(a, b),
      this.specialTokensMask.slice(a, b),
      this.attentionMask.slice(a, b),
      this.sequenceIds.slice(a, b),
    );
  }

  setTypeIds(t: number): void {
    this.typeIds.fill(t);
  }

  setSequenceId(s: number): void {
    this.sequenceIds.fill(s);
  }

  /**
   * Keeps `maxLen` tokens; the rest becomes `overflowing` windows of `maxLen` tokens that overlap the
   * previous window by `stride` tokens (the windows of `tokenizers`' Encoding::truncate).
   */
  truncate(maxLen: number, stride: number, direction: TruncationDirection): void {
    const n = this.ids.length;
    if (maxLen >= n) return;
    if (maxLen === 0) {
      const all = this.range(0, n);
      this.assign(new Encoding());
      this.overflowing = [all];
      return;
    }
    if (stride >= maxLen) throw new Error(`truncation: stride (${stride}) must be smaller than the length kept for the sequence (${maxLen})`);
    const step = maxLen - stride;
    const parts: [number, number][] = [];
    if (direction === 'right') {
      for (let start = 0; start < n; start += step) {
        const stop = Math.min(start + maxLen, n);
        parts.push([start, stop]);
        if (stop === n) break;
      }
    } else {
      for (let last = n - 1; last >= 0; last -= step) {
        const stop = last + 1;
        const start = stop < maxLen ? 0 : stop - maxLen;
        parts.push([start, stop]);
        if (start === 0) break;
      }
    }
    const first = this.range(parts[0]![0], parts[0]![1]);
    first.overflowing = parts.slice(1).map(([a, b]) => this.range(a, b));
    this.assign(first);
  }

  private assign(o: Encoding): void {
    this.ids = o.ids;
    this.typeIds = o.typeIds;
    this.starts = o.starts;
    this.ends = o.ends;
    this.specialTokensMask = o.specialTokensMask;
    this.attentionMask = o.attentionMask;
    this.sequenceIds = o.sequenceIds;
    this.overflowing = o.overflowing;
  }

  /** Appends `pair`; overflowing windows combine as in `tokenizers` (each of ours with the pair and its windows, then us with its windows). */
  mergeWith(pair: Encoding): void {
    const overflowing: Encoding[] = [];
    for (const o of this.overflowing) {
      const a = o.clone();
      a.mergeWith(pair.clone());
      overflowing.push(a);
      for (const po of pair.overflowing) {
        const b = o.clone();
        b.mergeWith(po.clone());
        overflowing.push(b);
      }
    }
    for (const po of pair.overflowing) {
      const c = this.range(0, this.ids.length);
      c.mergeWith(po.clone());
      overflowing.push(c);
    }
    this.assign(Encoding.concat([this, pair]));
    this.overflowing = overflowing;
  }

  /** The columns of `list` one after the other (one allocation and one copy per column; no windows). */
  private static concat(list: Encoding[]): Encoding {
    const n = list.reduce((k, e) => k + e.length, 0);
    const col = <T extends Column>(make: (n: number) => T, field: (e: Encoding) => T): T => {
      const out = make(n);
      let at = 0;
      for (const e of list) {
        out.set(field(e), at);
        at += e.length;
      }
      return out;
    };
    return new Encoding(
      col((k) => new Uint32Array(k), (e) => e.ids),
      col((k) => new Uint32Array(k), (e) => e.typeIds),
      col((k) => new Int32Array(k), (e) => e.starts),
      col((k) => new Int32Array(k), (e) => e.ends),
      col((k) => new Uint8Array(k), (e) => e.specialTokensMask),
      col((k) => new Uint8Array(k), (e) => e.attentionMask),
      col((k) => new Int8Array(k), (e) => e.sequenceIds),
    );
  }

  /** The encodings one after the other (overflowing windows combined as `mergeWith` combines them). */
  static merge(list: Encoding[]): Encoding {
    if (list.every((e) => e.overflowing.length === 0)) return Encoding.concat(list);
    const out = new Encoding();
    for (const e of list) out.mergeWith(e);
    return out;
  }

  pad(target: number, padId: number, padTypeId: number, side: 'right' | 'left'): void {
    for (const o of this.overflowing) o.pad(target, padId, padTypeId, side);
    const n = this.ids.length;
    const k = target - n;
    if (k <= 0) return;
    const at = side === 'right' ? 0 : k;
    const padAt = side === 'right' ? n : 0;
    const grow = <T extends Column>(make: (n: number) => T, old: T, v: number): T => {
      const out = make(target);
      out.set(old, at);
      out.fill(v, padAt, padAt + k);
      return out;
    };
    this.ids = grow((m) => new Uint32Array(m), this.ids, padId);
    this.typeIds = grow((m) => new Uint32Array(m), this.typeIds, padTypeId);
    this.starts = grow((m) => new Int32Array(m), this.starts, 0);
    this.ends = grow((m) => new Int32Array(m), this.ends, 0);
    this.specialTokensMask = grow((m) => new Uint8Array(m), this.specialTokensMask, 1);
    this.attentionMask = grow((m) => new Uint8Array(m), this.attentionMask, 0);
    this.sequenceIds = grow((m) => new Int8Array(m), this.sequenceIds, -1);
  }
}

/**
 * Token ids and offsets appended one token at a time into typed buffers that double as they fill (no
 * boxed numbers, no per-token objects). A pipeline keeps one per sequence and reuses it from encode to
 * encode (`reset`): a long text's token columns are written into memory already there instead of being
 * grown and copied in fresh buffers each time. `finish` gives the sequence's Encoding over views of
 * these buffers, valid until the next `reset`: the post-processing copies them once into the result.
 */
export class TokenBuffer {
  ids: Uint32Array;
  starts: Int32Array;
  ends: Int32Array;
  length = 0;
  // The columns that are the same for every token of a sequence, filled by `finish` (reused too).
  private typeIds = new Uint32Array(0);
  private zeros = new Uint8Array(0);
  private ones = new Uint8Array(0);
  private seqIds = new Int8Array(0);

  /** `expected`: the likely number of tokens (the buffers start that large, sparing most regrowth). */
  constructor(expected = 64) {
    const n = Math.max(64, Math.min(expected, 1 << 24));
    this.ids = new Uint32Array(n);
    this.starts = new Int32Array(n);
    this.ends = new Int32Array(n);
  }

  /** Empties the buffer for a new sequence, making room for `expected` tokens (kept contents are not copied). */
  reset(expected: number): void {
    this.length = 0;
    if (expected > this.ids.length) {
      const n = Math.min(Math.max(expected, 2 * this.ids.length), 1 << 24);
      if (n > this.ids.length) {
        this.ids = new Uint32Array(n);
        this.starts = new Int32Array(n);
        this.ends = new Int32Array(n);
      }
    }
  }

  push(id: number, start: number, end: number): void {
    const n = this.length;
    if (n === this.ids.length) this.grow(n * 2);
    this.ids[n] = id;
    this.starts[n] = start;
    this.ends[n] = end;
    this.length = n + 1;
  }

  private grow(size: number): void {
    const ids = new Uint32Array(size);
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    ids.set(this.ids);
    starts.set(this.starts);
    ends.set(this.ends);
    this.ids = ids;
    this.starts = starts;
    this.ends = ends;
  }

  /** The sequence's Encoding over views of the buffers (every token: type and sequence id `seq`, not special, attended). */
  finish(seq: 0 | 1): Encoding {
    const n = this.length;
    if (this.zeros.length < n) {
      const size = Math.max(n, Math.min(this.ids.length, 2 * this.zeros.length));
      this.typeIds = new Uint32Array(size);
      this.zeros = new Uint8Array(size);
      this.ones = new Uint8Array(size);
      this.seqIds = new Int8Array(size);
    }
    return new Encoding(
      this.ids.subarray(0, n),
      this.typeIds.subarray(0, n).fill(seq),
      this.starts.subarray(0, n),
      this.ends.subarray(0, n),
      this.zeros.subarray(0, n).fill(0),
      this.ones.subarray(0, n).fill(1),
      this.seqIds.subarray(0, n).fill(seq),
    );
  }
}

/** A column as the plain array of numbers the public API returns. */
export function toNumbers(col: ArrayLike<number>): number[] {
  const n = col.length;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = col[i]!;
  return out;
}
