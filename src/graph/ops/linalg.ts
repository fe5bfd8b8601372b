// Matrix products with numpy's matmul rule (batch dims broadcast; 1-D operands promoted and dropped).
import { reduceTo } from '../autodiff.ts';
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

/** Swaps the last two axes. */
function swapAxes(v: Value): Value {
  const r = v.rank;
  return v.transpose([...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

function unsqueeze(v: Value, axis: number): Value {
  return v.graph.op1('Unsqueeze', [v, v.graph.constInt64([axis])]);
}

/** Gradients of a @ b (numpy matmul rules, broadcast batch dims summed back) given d = dL/d(a @ b). */
export function matmulGrads(a: Value, b: Value, d: Value): [Value, Value] {
  const g = a.graph;
  // 1-D operands act as [1, k] and [k, 1]; put the dims they drop from the output back into d.
  const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.rank === 1 ? unsqueeze(b, 1) : b;
  let d2 = d;
  if (b.rank === 1) d2 = unsqueeze(d2, d2.rank);
  if (a.rank === 1) d2 = unsqueeze(d2, d2.rank - 1);
  let da = reduceTo(d2.matmul(swapAxes(b2)), a2.shape);
  const k = a2.shape[a2.rank - 1]!, n = b2.shape[1]!;
  let db: Value;
  if (b2.rank === 2 && a2.rank > 2 && isKnown(k) && isKnown(n)) {
    // A shared weight: one [k, rows] x [rows, n] product instead of a batch of them summed.
    db = swapAxes(a2.reshape([-1, k])).matmul(d2.reshape([-1, n]));
  } else {
    db = reduceTo(swapAxes(a2).matmul(d2), b2.shape);
  }
  if (a.rank === 1) da = g.op1('Squeeze', [da, g.constInt64([0])]);
  if (b.rank === 1) db = g.op1('Squeeze', [db, g.constInt64([1])]);
  return [da, db];
}

defineOp({
  type: 'MatMul',
  infer(inputs) {
    const [a, b] = operands(inputs, 'MatMul');
    return [{ dtype: a.dtype, shape: matmulShape(a.shape, b.shape, 'MatMul') }];
  },
  grad: ({ x: [a, b], dy: [d] }) => matmulGrads(a!, b!, d!),
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
  // The plain MatMul rule on op(A), op(B), with the transposes undone on the way back.
  grad: ({ x: [a, b], attrs, dy: [d] }) => {
    if (attrs.transBatchA || attrs.transBatchB) throw new Error('FusedMatMul: no gradient rule for transBatchA/transBatchB');
    const alpha = attrs.alpha ?? 1;
    const [da, db] = matmulGrads(attrs.transA ? swapAxes(a!) : a!, attrs.transB ? swapAxes(b!) : b!, alpha === 1 ? d! : d!.mul(alpha));
    return [attrs.transA ? swapAxes(da) : da, attrs.transB ? swapAxes(db) : db];
  },
});

/** Y = A @ op(B) + C for 2-D A; lowered to by the emitter for linear layers on baked weights. */
defineOp({
  type: 'Gemm',
  infer(inputs, attrs) {
    const [a, b] = operands(inputs, 'Gemm');
    const rows = attrs.transA ? a.shape[1]! : a.shape[0]!;
    const cols = attrs.transB ? b.shape[0]! : b.shape[1]!;
    return [{ dtype: a.dtype, shape: [rows, cols] }];
  },
  // alpha * op(A) @ op(B) + beta * C: the FusedMatMul rule, and C's share summed back over its broadcast.
  grad: ({ x: [a, b, c], attrs, dy: [d] }) => {
    const alpha = attrs.alpha ?? 1, beta = attrs.beta ?? 1;
    const [da, db] = matmulGrads(attrs.transA ? swapAxes(a!) : a!, attrs.transB ? swapAxes(b!) : b!, alpha === 1 ? d! : d!.mul(alpha));
    return [attrs.transA ? swapAxes(da) : da, attrs.transB ? swapAxes(db) : db, c ? reduceTo(beta === 1 ? d! : d!.mul(beta), c.shape) : null];
  },
});
