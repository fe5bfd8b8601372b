// Shared assertions: the fixtures' error measure, max |ours - ref| / max(1, max |ref|).
import assert from 'node:assert/strict';

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
