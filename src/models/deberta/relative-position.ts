// Relative positions, computed once per model in TypeScript (they do not depend on the input).
//
// Both DeBERTa layouts reduce to one rule. For query i and key j, with delta = i - j and
// rp = the (possibly log-bucketed) relative position of delta, the content->position term reads row
// clamp(rp(delta) + span, 0, 2*span - 1) of the projected relative embeddings, and the position->content
// term (gathered along the keys, then transposed, as transformers does) reads row
// clamp(-rp(delta) + span, 0, 2*span - 1). In v1 the span is min(n, max_relative_positions) over a table
// sliced around its middle, which lands on the same rows as span = max_relative_positions over the whole
// table; so one set of tables serves every sequence length.

/** Log buckets beyond +-bucketSize/2, as DeBERTa-v2 computes them (in float32, like torch). */
export function logBucketPosition(delta: number, bucketSize: number, maxPosition: number): number {
  const mid = Math.floor(bucketSize / 2);
  const abs = delta < mid && delta > -mid ? mid - 1 : Math.abs(delta);
  if (abs <= mid) return delta;
  const f = Math.fround;
  const ratio = f(Math.log(f(abs / mid)));
  const denom = f(Math.log((maxPosition - 1) / mid));
  const logPos = Math.ceil(f(f(ratio / denom) * (mid - 1))) + mid;
  return logPos * Math.sign(delta);
}

export interface RelativePositionSpec {
  /** Rows of the relative embedding table in use are [0, 2 * span). */
  span: number;
  /** > 0: log buckets of this size. */
  buckets: number;
  /** max_relative_positions after defaulting (used as the bucket range). */
  maxRelative: number;
}

/**
 * Index tables over delta = i - j for delta in [-(maxLen - 1), maxLen - 1], stored at delta + maxLen - 1.
 * c2p[i][j] = c2pTable[i - j + maxLen - 1]; the p2c gather index at [a][b] is p2cTable[a - b + maxLen - 1].
 */
export function relativeIndexTables(spec: RelativePositionSpec, maxLen: number): { c2p: BigInt64Array; p2c: BigInt64Array } {
  const size = 2 * maxLen - 1;
  const c2p = new BigInt64Array(size);
  const p2c = new BigInt64Array(size);
  const clamp = (x: number) => Math.min(Math.max(x, 0), 2 * spec.span - 1);
  for (let k = 0; k < size; k++) {
    const delta = k - (maxLen - 1);
    const rp = spec.buckets > 0 && spec.maxRelative > 0 ? logBucketPosition(delta, spec.buckets, spec.maxRelative) : delta;
    c2p[k] = BigInt(clamp(rp + spec.span));
    p2c[k] = BigInt(clamp(-rp + spec.span));
  }
  return { c2p, p2c };
}
