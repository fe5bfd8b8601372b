// Reductions over constant axes (opset 18: axes are an input).
import { constInts, normAxis } from '../shape-rules.ts';
import type { Dim } from '../value.ts';
import { defineOp } from './registry.ts';

for (const type of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceLogSumExp']) {
  defineOp({
    type,
    infer([x, a], attrs) {
      if (!x) throw new Error(`${type}: data is missing`);
      const keep = (attrs.keepdims as number | undefined) ?? 1;
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
  });
}
