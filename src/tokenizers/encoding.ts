// One encoded sequence (or pair) with everything transformers reports per token, and the operations of
// `tokenizers`' Encoding that give transformers its truncation, overflow and padding behaviour.

export type TruncationDirection = 'right' | 'left';

export class Encoding {
  constructor(
    public ids: number[] = [],
    public typeIds: number[] = [],
    /** Token offsets in the original text (UTF-16 code units). */
    public starts: number[] = [],
    public ends: number[] = [],
    public specialTokensMask: number[] = [],
    public attentionMask: number[] = [],
    /** 0 or 1 for tokens of the first or second sequence, -1 for added special tokens and padding. */
    public sequenceIds: number[] = [],
    public overflowing: Encoding[] = [],
  ) {}

  get length(): number {
    return this.ids.length;
  }

  clone(): Encoding {
    return new Encoding(
      this.ids.slice(),
      this.typeIds.slice(),
      this.starts.slice(),
      this.ends.slice(),
      this.specialTokensMask.slice(),
      this.attentionMask.slice(),
      this.sequenceIds.slice(),
      this.overflowing.map((o) => o.clone()),
    );
  }

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
      const c = this.withoutOverflow();
      c.mergeWith(po.clone());
      overflowing.push(c);
    }
    append(this.ids, pair.ids);
    append(this.typeIds, pair.typeIds);
    append(this.starts, pair.starts);
    append(this.ends, pair.ends);
    append(this.specialTokensMask, pair.specialTokensMask);
    append(this.attentionMask, pair.attentionMask);
    append(this.sequenceIds, pair.sequenceIds);
    this.overflowing = overflowing;
  }

  private withoutOverflow(): Encoding {
    const c = this.range(0, this.ids.length);
    return c;
  }

  /** An encoding whose every column is `column(the field of an encoding)`. */
  private static fromColumns(column: (field: (e: Encoding) => number[]) => number[]): Encoding {
    return new Encoding(column((e) => e.ids), column((e) => e.typeIds), column((e) => e.starts), column((e) => e.ends),
      column((e) => e.specialTokensMask), column((e) => e.attentionMask), column((e) => e.sequenceIds));
  }

  /**
   * The encodings one after the other. Columns of an encoding in `owned` (used once in `list`, not read
   * again by the caller) may be taken over and extended in place when what goes around it is short (the
   * special tokens around a long text), instead of copying a long text's columns.
   */
  static merge(list: Encoding[], owned?: ReadonlySet<Encoding>): Encoding {
    if (list.every((e) => e.overflowing.length === 0)) {
      let big = -1;
      if (owned) {
        list.forEach((e, i) => {
          if (owned.has(e) && list.indexOf(e) === list.lastIndexOf(e) && (big < 0 || e.length > list[big]!.length)) big = i;
        });
      }
      if (big >= 0 && list.reduce((n, e, i) => n + (i === big ? 0 : e.length), 0) <= 64) {
        const before = list.slice(0, big);
        const after = list.slice(big + 1);
        const col = (f: (e: Encoding) => number[]): number[] => {
          const arr = f(list[big]!);
          const pre = ([] as number[]).concat(...before.map(f));
          if (pre.length) arr.unshift(...pre);
          for (const e of after) append(arr, f(e));
          return arr;
        };
        return Encoding.fromColumns(col);
      }
      // No windows to combine: each column is the concatenation (one copy, not a push per token).
      return Encoding.fromColumns((f) => ([] as number[]).concat(...list.map(f)));
    }
    const out = new Encoding();
    for (const e of list) out.mergeWith(e);
    return out;
  }

  pad(target: number, padId: number, padTypeId: number, side: 'right' | 'left'): void {
    for (const o of this.overflowing) o.pad(target, padId, padTypeId, side);
    const k = target - this.ids.length;
    if (k <= 0) return;
    const fill = (arr: number[], v: number): void => {
      if (side === 'right') for (let j = 0; j < k; j++) arr.push(v);
      else {
        const old = arr.slice();
        arr.length = 0;
        for (let j = 0; j < k; j++) arr.push(v);
        append(arr, old);
      }
    };
    fill(this.ids, padId);
    fill(this.typeIds, padTypeId);
    fill(this.starts, 0);
    fill(this.ends, 0);
    fill(this.specialTokensMask, 1);
    fill(this.attentionMask, 0);
    fill(this.sequenceIds, -1);
  }
}

/** dst.push(...src) without the argument-count limit of spreading long arrays. */
function append(dst: number[], src: number[]): void {
  for (let i = 0; i < src.length; i++) dst.push(src[i]!);
}
