// Reverse-mode automatic differentiation over the graph IR. The backward pass is built as more nodes
// of the same graph (so one ONNX model computes the loss and its gradients); each op's rule lives beside
// its shape rule in src/graph/ops (the `grad` field of defineOp).
import type { DType } from '../tensor.ts';
import type { Graph } from './graph.ts';
import { getOp } from './ops/registry.ts';
import { isKnown } from './shape-rules.ts';
import type { Node, Shape, Value } from './value.ts';

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

/**
 * Gradients of `loss` with respect to each of `wrt`: null where `loss` does not depend on it (callers
 * turn that into zeros). A non-scalar loss is seeded with ones, i.e. its elements are summed.
 */
export function gradients(loss: Value, wrt: Value[]): (Value | null)[] {
  const g = loss.graph;
  if (!isFloat(loss.dtype)) throw new Error(`gradients: the loss must be floating point, got ${loss.dtype}`);
  for (const w of wrt) {
    if (w.graph !== g) throw new Error(`gradients: ${w} belongs to another graph`);
    if (!isFloat(w.dtype)) throw new Error(`gradients: cannot differentiate with respect to ${w} (not floating point)`);
  }
  const nodes = activeNodes(loss, wrt);
  const pending = new Map<Value, Value[]>();
  const add = (v: Value, d: Value) => {
    const list = pending.get(v);
    if (list) list.push(d);
    else pending.set(v, [d]);
  };
  const total = (v: Value): Value | null => {
    const list = pending.get(v);
    if (!list) return null;
    const sum = list.reduce((a, b) => a.add(b));
    pending.set(v, [sum]);
    return sum;
  };
  add(loss, ones(g, loss));
  const gelu = new GeluBackward();

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    const dy = node.outputs.map(total);
    if (dy.every((d) => d === null)) continue;
    const where = `${node.type} (node ${node.id})`;
    const geluInput = geluOf(node);
    if (geluInput && dy[0]) {
      // The whole GELU at once (see geluOf): its inner values get no gradient, so nothing of the backward
      // pass reads them and ONNX Runtime can fuse the forward chain into one Gelu kernel.
      const dx = dy[0].mul(gelu.derivative(geluInput));
      checkGradient(geluInput, dx, where);
      add(geluInput, dx);
      continue;
    }
    const own = node.outputs.length === 1 ? composites.get(node.outputs[0]!) : undefined;
    if (own && dy[0]) {
      // A value built from several ops with a rule of its own (defineGradient): the ops in between get
      // nothing from it, and their backward (and whatever it would keep of the forward) is not built.
      const dx = own.grad(dy[0]);
      checkGradient(own.x, dx, where);
      add(own.x, dx);
      continue;
    }
    const flipped = transposedProduct(node, dy[0]);
    if (flipped) {
      // (A B)^T as B^T A^T: a linear layer's weight gradient comes out in the weight's own layout, with
      // no transpose of the result (ONNX Runtime folds the operand transposes into the product).
      checkGradient(node.inputs[0]!, flipped, where);
      add(node.inputs[0]!, flipped);
      continue;
    }
    const def = getOp(node.type);
    if (!def.grad) throw new Error(`gradients: ${where} lies between the parameters and the loss but has no gradient rule`);
    const dx = def.grad({ g, node, x: node.inputs.map((v) => gelu.view(v)), y: node.outputs, attrs: node.attrs, dy });
    node.inputs.forEach((x, k) => {
      const d = dx[k];
      if (!x || !d || !isFloat(x.dtype)) return;
      checkGradient(x, d, `${where}, input #${k}`);
      add(x, d);
    });
  }
  return wrt.map(total);
}

/** Gradient rules of composite values (see defineGradient), by the composite's output. */
const composites = new WeakMap<Value, { x: Value; grad: (dy: Value) => Value }>();

/**
 * Gives y, computed from x by several ops, its own gradient rule: dL/dx = grad(dL/dy), built in place of
 * the ops' own rules along that path (other uses of the values in between still get theirs). For data
 * movement whose backward is simpler than its parts' (see functional.skew), or that would otherwise read
 * shapes off forward activations and keep them alive. `grad` must use only values that exist in the
 * forward pass anyway or small ones. Returns y.
 */
export function defineGradient(y: Value, x: Value, grad: (dy: Value) => Value): Value {
  if (!y.producer) throw new Error(`defineGradient: ${y} is not computed by an op`);
  composites.set(y, { x, grad });
  return y;
}

/** A 2-D Transpose's gradient when it is a 2-D product A B: B^T A^T (undefined otherwise). */
function transposedProduct(node: Node, d: Value | null | undefined): Value | undefined {
  const swap2 = (n: Node | undefined) => n?.type === 'Transpose' && n.outputs[0]!.rank === 2 && (n.attrs.perm as number[] | undefined)?.join() === '1,0';
  if (!d || !swap2(node) || d.producer?.type !== 'MatMul') return undefined;
  const [a, b] = d.producer.inputs;
  if (a?.rank !== 2 || b?.rank !== 2) return undefined;
  const t = (v: Value) => (swap2(v.producer) ? v.producer!.inputs[0]! : v.transpose([1, 0]));
  return t(b).matmul(t(a));
}

/** The scalar value of a constant, if `v` is one. */
function scalarConst(v: Value | null | undefined): number | undefined {
  const t = v?.kind === 'const' ? v.constValue : undefined;
  return t && t.data.length === 1 && (t.dtype === 'float32' || t.dtype === 'float64') ? Number(t.data[0]) : undefined;
}

const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) <= 1e-6 * Math.abs(b);

/**
 * If `node` ends the exact-GELU chain functional.gelu builds in float32, x * (Erf(x / sqrt 2) + 1) * 0.5,
 * its input x; else undefined.
 */
function geluOf(node: Node): Value | undefined {
  if (node.type !== 'Mul' || !near(scalarConst(node.inputs[1]), 0.5)) return undefined;
  const prod = node.inputs[0]?.producer;
  if (prod?.type !== 'Mul') return undefined;
  const [x, plus] = prod.inputs;
  const add = plus?.producer;
  if (x?.dtype !== 'float32' || add?.type !== 'Add' || !near(scalarConst(add.inputs[1]), 1)) return undefined;
  const erf = add.inputs[0]?.producer;
  const div = erf?.type === 'Erf' ? erf.inputs[0]?.producer : undefined;
  if (div?.type !== 'Div' || div.inputs[0] !== x || !near(scalarConst(div.inputs[1]), Math.SQRT2)) return undefined;
  return x;
}

/**
 * The backward pass's view of exact GELUs: their derivatives, and their outputs recomputed from their inputs.
 * A GELU's output is what the next linear layer's weight gradient reads; recomputed there as x Phi(x), with
 * the Phi(x) the derivative needs anyway (one product), it need not stay in memory from the forward pass to
 * the backward, only the input x does (the derivative reads it).
 */
class GeluBackward {
  private readonly cdfs = new Map<Value, Value>();
  private readonly outputs = new Map<Value, Value>();

  /** Phi(x) = (erf(x / sqrt 2) + 1) / 2, once per x. */
  private cdf(x: Value): Value {
    let c = this.cdfs.get(x);
    if (!c) this.cdfs.set(x, c = x.graph.op1('Erf', [x.mul(Math.SQRT1_2)]).add(1).mul(0.5));
    return c;
  }

  /** d/dx of exact GELU: Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi). */
  derivative(x: Value): Value {
    const tail = x.mul(x.graph.op1('Exp', [x.mul(x.mul(-0.5))])).mul(1 / Math.sqrt(2 * Math.PI));
    return this.cdf(x).add(tail);
  }

  /** v as the backward pass reads it: a GELU's output recomputed from its input, anything else as it is. */
  view(v: Value | null): Value | null {
    const x = v?.producer && geluOf(v.producer);
    if (!x) return v;
    let y = this.outputs.get(v!);
    if (!y) this.outputs.set(v!, y = x.mul(this.cdf(x)));
    return y;
  }
}

/** The nodes that lie on a path from some `wrt` value to the loss, in graph (topological) order. */
function activeNodes(loss: Value, wrt: Value[]): Node[] {
  const feedsLoss = new Set<Node>();
  const stack = [loss];
  while (stack.length) {
    const v = stack.pop()!;
    const n = v.producer;
    if (!n || feedsLoss.has(n)) continue;
    feedsLoss.add(n);
    for (const x of n.inputs) if (x) stack.push(x);
  }
  const depends = new Set<Value>(wrt);
  const nodes: Node[] = [];
  for (const n of [...feedsLoss].sort((a, b) => a.id - b.id)) {
    if (!n.inputs.some((x) => x && isFloat(x.dtype) && depends.has(x))) continue;
    nodes.push(n);
    for (const y of n.outputs) depends.add(y);
  }
  return nodes;
}

function ones(g: Graph, like: Value): Value {
  if (like.rank === 0) return g.scalar(1, like.dtype);
  return g.op1('ConstantOfShape', [g.op1('Shape', [like])], { value: oneElement(like.dtype, 1) });
}

function oneElement(dtype: DType, x: number) {
  if (dtype !== 'float64' && dtype !== 'float32') throw new Error(`gradients: ${dtype} tensors are not supported`);
  return { dtype, dims: [1], data: dtype === 'float64' ? Float64Array.of(x) : Float32Array.of(x) };
}

/** A gradient must have its input's dtype and (where both are known) dims. */
function checkGradient(x: Value, d: Value, where: string): void {
  if (d.dtype !== x.dtype) throw new Error(`gradients: ${where}: gradient is ${d.dtype}, input is ${x.dtype}`);
  const bad = d.rank !== x.rank || x.shape.some((s, i) => isKnown(s) && isKnown(d.shape[i]!) && s !== d.shape[i]);
  if (bad) throw new Error(`gradients: ${where}: gradient has shape [${d.shape.join(', ')}], input [${x.shape.join(', ')}]`);
}

/** A zero-filled tensor shaped like `like` at run time (the gradient of gathered-from data). */
export function zerosLike(like: Value): Value {
  return like.graph.op1('ConstantOfShape', [shapeOf(like)], { value: oneElement(like.dtype, 0) });
}

/**
 * x's runtime shape as a 1-D int64 value that does not keep x alive: known dims are constants, and each
 * symbolic dim is read off the smallest of x's ancestors (graph inputs included) that has it, e.g. the
 * input ids for batch and sequence, or a small index for a relative-table width. A Shape of x itself,
 * built for the backward pass, would hold a forward activation in memory until the backward reached it.
 * Only ancestors qualify: they are computed whenever x is, so no extra work is added.
 */
export function shapeOf(x: Value): Value {
  const g = x.graph;
  if (x.shape.every(isKnown)) return g.constInt64(x.shape as number[]);
  const sources = smallestAncestors(x);
  const parts: Value[] = [];
  let known: number[] = [];
  const flush = () => { if (known.length) parts.push(g.constInt64(known)); known = []; };
  x.shape.forEach((d, axis) => {
    if (isKnown(d)) { known.push(d); return; }
    flush();
    parts.push(symbolicDim(x, axis, sources));
  });
  flush();
  return parts.length === 1 ? parts[0]! : g.op1('Concat', parts, { axis: 0 });
}

/** One dim of x as a 1-element int64 vector, read as shapeOf reads it (x itself is not kept alive). */
export function dimOf(x: Value, axis: number): Value {
  const d = x.shape[axis]!;
  return isKnown(d) ? x.graph.constInt64([d]) : symbolicDim(x, axis, smallestAncestors(x));
}

function symbolicDim(x: Value, axis: number, sources: ReturnType<typeof smallestAncestors>): Value {
  const g = x.graph;
  const src = sources.get(x.shape[axis] as string) ?? { value: x, axis };
  return g.op1('Slice', [g.op1('Shape', [src.value]), g.constInt64([src.axis]), g.constInt64([src.axis + 1]), g.constInt64([0])]);
}

/** For each symbolic dim, the ancestor of x with the fewest elements that has it (symbols counted as 512). */
function smallestAncestors(x: Value): Map<string, { value: Value; axis: number; size: number }> {
  const map = new Map<string, { value: Value; axis: number; size: number }>();
  const seen = new Set<Value>();
  const stack = x.producer ? x.producer.inputs.filter((v): v is Value => v !== null) : [];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const size = v.shape.reduce<number>((a, d) => a * (isKnown(d) ? d : 512), 1);
    v.shape.forEach((d, axis) => {
      if (isKnown(d)) return;
      const best = map.get(d);
      if (!best || size < best.size) map.set(d, { value: v, axis, size });
    });
    if (v.producer) for (const u of v.producer.inputs) if (u && !seen.has(u)) stack.push(u);
  }
  return map;
}

/**
 * Sums a gradient of the broadcast shape back to `shape` (numpy broadcasting in reverse): leading extra
 * axes are summed away, and axes where `shape` has a 1 and the gradient has not are summed with keepdims.
 * Symbolic dims count as not 1.
 */
export function reduceTo(d: Value, shape: Shape): Value {
  const extra = d.rank - shape.length;
  if (extra < 0) throw new Error(`reduceTo: gradient of rank ${d.rank} for an input of rank ${shape.length}`);
  let out = d;
  if (extra > 0) out = reduceSum(out, Array.from({ length: extra }, (_, i) => i), false);
  const axes = shape.flatMap((s, i) => (s === 1 && out.shape[i] !== 1 ? [i] : []));
  if (axes.length) out = reduceSum(out, axes, true);
  return out;
}

export function reduceSum(x: Value, axes: number[], keepdims: boolean): Value {
  const g = x.graph;
  return g.op1('ReduceSum', [x, g.constInt64(axes)], { keepdims: keepdims ? 1 : 0 });
}
