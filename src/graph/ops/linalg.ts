// Matrix products with numpy's matmul rule (batch dims broadcast; 1-D operands promoted and dropped).
import { broadcast, isKnown } from '../shape-rules.ts';
import type { Shape, Value } from '../value.ts';
import { defineOp } from './registry.ts';

export function matmulShape(a: Shape, b: Shape, where: string): Shape {
  if (a.length === 0 || b.length === 0) throw new Error(`${where}: scalar operand`);
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (isKnown(k1) && isKnown(k2) && k1 !== k2) {
    throw new Error(`${where}: inner dims differ, [${a.join(', ')}] x [${b.join(', ')}]`);
  }
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)], where);
  const out = [...batch, a2[a2.length - 2]!, b2[b2.length - 1]!];
  if (b.length === 1) out.splice(out.length - 1, 1);
  if (a.length === 1) out.splice(out.length - (b.length === 1 ? 1 : 2), 1);
  return out;
}

function operands(inputs: (Value | null)[], where: string): [Value, Value] {
  const [a, b] = inputs;
  if (!a || !b) throw new Error(`${where}: needs two inputs`);
  if (a.dtype !== b.dtype) throw new Error(`${where}: mixed dtypes ${a.dtype} and ${b.dtype}`);
  return [a, b];
}

defineOp({
  type: 'MatMul',
  infer(inputs) {
    const [a, b] = operands(inputs, 'MatMul');
    return [{ dtype: a.dtype, shape: matmulShape(a.shape, b.shape, 'MatMul') }];
  },
});

function swapLast(s: Shape): Shape {
  if (s.length < 2) return s;
  const t = [...s];
  [t[t.length - 1], t[t.length - 2]] = [t[t.length - 2]!, t[t.length - 1]!];
  return t;
}

/** ONNX Runtime's FusedMatMul: alpha * op(A) @ op(B), op a transpose of the last two dims when asked. */
defineOp({
  type: 'FusedMatMul',
  domain: 'com.microsoft',
  infer(inputs, attrs) {
    const [a, b] = operands(inputs, 'FusedMatMul');
    const sa = attrs.transA ? swapLast(a.shape) : a.shape;
    const sb = attrs.transB ? swapLast(b.shape) : b.shape;
    return [{ dtype: a.dtype, shape: matmulShape(sa, sb, 'FusedMatMul') }];
  },
});
