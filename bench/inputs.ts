// The benchmark's model inputs, the same for every side.

/** Token ids spread over the vocabulary, and a padded batch: row r keeps n − ⌊r·n / 2B⌋ tokens. */
export function makeInputs(vocab: number, batch: number, n: number): { ids: BigInt64Array; mask: BigInt64Array; dims: number[] } {
  const ids = new BigInt64Array(batch * n);
  const mask = new BigInt64Array(batch * n);
  for (let r = 0; r < batch; r++) {
    const len = n - Math.floor((r * n) / (2 * batch));
    for (let i = 0; i < n; i++) {
      const k = r * n + i;
      const on = i < len;
      mask[k] = on ? 1n : 0n;
      ids[k] = BigInt(!on ? 0 : i === 0 ? 1 : i === len - 1 ? 2 : 5 + ((k * 2654435761) >>> 0) % (vocab - 5));
    }
  }
  return { ids, mask, dims: [batch, n] };
}
