// The seeded generator's bulk draws are the same stream as its single draws (dropout masks depend on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/util/random.ts';

test('fillAtLeast draws what as many u32() calls draw, and leaves the generator in the same state', () => {
  for (const threshold of [0.1 * 2 ** 32, 2 ** 31, 0, 2 ** 32, 2 ** 32 - 0.5]) {
    const bulk = new Rng(7), single = new Rng(7);
    const mask = new Uint8Array(10_007);
    bulk.fillAtLeast(mask, threshold);
    const expected = Uint8Array.from(mask, () => (single.u32() >= threshold ? 1 : 0));
    assert.deepEqual(mask, expected, `threshold ${threshold}`);
    assert.deepEqual(bulk.state(), single.state());
  }
  // Keep-rate 0.9 at threshold 0.1 · 2^32 (binomial sd 0.003 at this size).
  const mask = new Uint8Array(10_007);
  new Rng(1).fillAtLeast(mask, 0.1 * 2 ** 32);
  const kept = mask.reduce((a, b) => a + b, 0) / mask.length;
  assert.ok(Math.abs(kept - 0.9) < 0.012, `kept ${kept}`);
});
