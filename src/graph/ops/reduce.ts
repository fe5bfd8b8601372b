// Reductions over constant axes (opset 18: axes are an input).
import { dimOf, shapeOf } from '../autodiff.ts';
import { constInts, isKnown, normAxis } from '../shape-rules.ts';
import type { Dim, Value } from '../value.ts';
import { defineOp, type GradContext } from './registry.ts';

/** The reduced axes of a reduction node, normalised (all axes when none are given). */
function reducedAxes(x: Value, a: Value | null | undefined): number[] {
  const axes = a ? constInts(a) : undefined;
  if (a && !axes) throw new Error('reduction gradient: axes must be constant');
  return (axes?.length ? axes : x.shape.map((_, i) => i)).map((ax) => normAxis(ax, x.rank)).sort((p, q) => p - q);
}

/**
 * The gradient rules, from the output gradient re-expanded to the input's shape (dk) and, where needed,
 * the output with the reduced axes kept (yk).
 */
const RULES: Record<string, (dk: Value, x: Value, yk: Value, axes: number[]) => Value> = {
  ReduceSum: (dk) => dk,
  ReduceSumSquare: (dk, x) => dk.mul(x).mul(2),
  ReduceMean: (dk, x, _yk, axes) => {
    const dims = axes.map((i) => x.shape[i]!);
    if (dims.every(isKnown)) return dk.mul(1 / dims.reduce((p, q) => p * q, 1));
    const count = axes.map((i) => dimOf(x, i)).reduce((p, q) => p.mul(q));
    return dk.div(count.cast(x.dtype));
  },
  // Ties share the gradient, as torch's amax does.
  ReduceMax: (dk, x, yk, axes) => {
    const g = x.graph;
    const hit = g.op1('Cast', [g.op1('Equal', [x, yk])], { to: x.dtype });
    const ties = g.op1('ReduceSum', [hit, g.constInt64(axes)], { keepdims: 1 });
    return dk.mul(hit).div(ties);
  },
  ReduceLogSumExp: (dk, x, yk) => dk.mul(x.graph.op1('Exp', [x.sub(yk)])),
};

type ReduceType = 'ReduceSum' | 'ReduceSumSquare' | 'ReduceMean' | 'ReduceMax' | 'ReduceLogSumExp';

function reduceGrad(type: ReduceType, { g, x: [x, a], y: [y], attrs, dy: [d] }: GradContext<ReduceType>): (Value | null)[] {
  const data = x!;
  if (attrs.noop_with_empty_axes && (!a || constInts(a)?.length === 0)) return [d!, null];
  const axes = reducedAxes(data, a);
  const keep = (attrs.keepdims ?? 1) !== 0;
  const unreduce = (v: Value) => (keep ? v : g.op1('Unsqueeze', [v, g.constInt64(axes)]));
  const dk = g.op1('Expand', [unreduce(d!), shapeOf(data)]);
  return [RULES[type]!(dk, data, unreduce(y!), axes), null];
}

for (const type of ['ReduceSum', 'ReduceSumSquare', 'ReduceMean', 'ReduceMax', 'ReduceLogSumExp'] as ReduceType[]) {
  defineOp({
    type,
    infer([x, a], attrs) {
      if (!x) throw new Error(`${type}: data is missing`);
      const keep = attrs.keepdims ?? 1;
      const axes = a ? constInts(a) : x.shape.map((_, i) => i);
      if (!axes) throw new Error(`${type}: axes must be constant`);
      const set = new Set(axes.map((ax) => normAxis(ax, x.rank)));
      const out: Dim[] = [];
      x.shape.forEach((d, i) => {
        if (!set.has(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return [{ dtype: x.dtype, shape: out }];
    },
    grad: (ctx) => reduceGrad(type, ctx),
  });
}
