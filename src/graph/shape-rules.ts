// Shape arithmetic shared by the op rules: broadcasting, products of symbolic dims, constant reads.
import type { Dim, Shape, Value } from './value.ts';

export function isKnown(d: Dim): d is number { return typeof d === 'number'; }

/** Numpy broadcasting. A symbolic dim is assumed not to be 1, so it wins against a numeric 1. */
export function broadcast(shapes: Shape[], where: string): Shape {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (isKnown(dim) && isKnown(d) && dim !== d) {
        throw new Error(`${where}: cannot broadcast shapes ${shapes.map((x) => `[${x.join(', ')}]`).join(' and ')}`);
      } else if (!isKnown(dim) && isKnown(d)) dim = d;
    }
    out.push(dim);
  }
  return out;
}

/** The integer contents of a constant input (int64/int32), or undefined when only known at run time. */
export function constInts(v: Value | null | undefined): number[] | undefined {
  if (!v?.constValue) return undefined;
  return Array.from(v.constValue.data as ArrayLike<number | bigint>, (x) => Number(x));
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Product of dims as a number times a multiset of symbols, so reshapes can cancel symbols. */
export function dimProduct(dims: Shape): { num: number; syms: string[] } {
  let num = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (isKnown(d)) num *= d;
    else syms.push(d);
  }
  return { num, syms };
}
