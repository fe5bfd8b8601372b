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

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    const dy = node.outputs.map(total);
    if (dy.every((d) => d === null)) continue;
    const def = getOp(node.type);
    const where = `${node.type} (node ${node.id})`;
    if (!def.grad) throw new Error(`gradients: ${where} lies between the parameters and the loss but has no gradient rule`);
    const dx = def.grad({ g, node, x: node.inputs, y: node.outputs, attrs: node.attrs, dy });
    node.inputs.forEach((x, k) => {
      const d = dx[k];
      if (!x || !d || !isFloat(x.dtype)) return;
      checkGradient(x, d, `${where}, input #${k}`);
      add(x, d);
    });
  }
  return wrt.map(total);
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
  const g = like.graph;
  const shape = like.shape.every(isKnown) ? g.constInt64(like.shape as number[]) : g.op1('Shape', [like]);
  return g.op1('ConstantOfShape', [shape], { value: oneElement(like.dtype, 0) });
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
