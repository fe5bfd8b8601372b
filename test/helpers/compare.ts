// Shared assertions: the fixtures' error measure, max |ours - ref| / max(1, max |ref|).
import assert from 'node:assert/strict';

/**
 * The smallest tolerance a float32 comparison is given where the measured error is exactly 0 (the same graph
 * run twice) or at rounding level: 4 units in the last place of float32 at scale 1 (4 · 2⁻²³ ≈ 4.8e-7), so
 * that another x86 CPU (other SIMD widths, other summation orders) does not fail the test.
 */
export const F32_FLOOR = 4 * 2 ** -23;

export function relError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(ours.length, ref.length, 'length mismatch');
  let diff = 0, scale = 1;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / scale;
}

export function assertClose(ours: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what: string): void {
  const err = relError(ours, ref);
  assert.ok(err <= tol, `${what}: error ${err.toExponential(3)} > ${tol}`);
}
