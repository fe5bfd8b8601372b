// Ops that move data without arithmetic: reshapes, transposes, slices, gathers and scatters.
import type { Tensor } from '../../tensor.ts';
import type { Graph } from '../graph.ts';
import { broadcast, constInts, dimProduct, isKnown, normAxis } from '../shape-rules.ts';
import type { Dim, Shape, Value } from '../value.ts';
import { defineOp } from './registry.ts';

function need(v: Value | null | undefined, what: string): Value {
  if (!v) throw new Error(`${what} is missing`);
  return v;
}

/** A shape given as a 1-D int64 input: its contents when constant, else fresh symbols of the right rank. */
function shapeFromInput(v: Value, g: Graph, where: string): Shape {
  const known = constInts(v);
  if (known) return known;
  const n = v.shape[0];
  if (!isKnown(n)) throw new Error(`${where}: shape input of unknown length`);
  return Array.from({ length: n }, () => g.freshDim());
}

defineOp({
  type: 'Reshape',
  infer([x, s], _attrs, g) {
    const data = need(x, 'Reshape: data');
    const target = constInts(need(s, 'Reshape: shape'));
    if (!target) return [{ dtype: data.dtype, shape: shapeFromInput(s!, g, 'Reshape') }];
    const out: Dim[] = target.map((d, i) => (d === 0 ? data.shape[i] ?? g.freshDim() : d));
    const inferred = out.indexOf(-1);
    if (inferred >= 0) {
      const total = dimProduct(data.shape);
      const rest = dimProduct(out.filter((_, i) => i !== inferred));
      const syms = [...total.syms];
      let ok = rest.num !== 0 && total.num % rest.num === 0;
      for (const sym of rest.syms) {
        const at = syms.indexOf(sym);
        if (at < 0) ok = false;
        else syms.splice(at, 1);
      }
      const num = total.num / rest.num;
      out[inferred] = ok && syms.length === 0 ? num : ok && syms.length === 1 && num === 1 ? syms[0]! : g.freshDim();
    }
    const a = dimProduct(data.shape), b = dimProduct(out);
    if (a.syms.length === 0 && b.syms.length === 0 && a.num !== b.num) {
      throw new Error(`Reshape: cannot reshape [${data.shape.join(', ')}] to [${target.join(', ')}]`);
    }
    return [{ dtype: data.dtype, shape: out }];
  },
});

defineOp({
  type: 'Transpose',
  infer([x], attrs) {
    const data = need(x, 'Transpose: data');
    const perm = (attrs.perm as number[] | undefined) ?? data.shape.map((_, i) => data.rank - 1 - i);
    if (perm.length !== data.rank) throw new Error(`Transpose: perm [${perm}] for rank ${data.rank}`);
    return [{ dtype: data.dtype, shape: perm.map((p) => data.shape[p]!) }];
  },
});

defineOp({
  type: 'Unsqueeze',
  infer([x, a]) {
    const data = need(x, 'Unsqueeze: data');
    const axes = constInts(need(a, 'Unsqueeze: axes'));
    if (!axes) throw new Error('Unsqueeze: axes must be constant');
    const rank = data.rank + axes.length;
    const norm = axes.map((ax) => normAxis(ax, rank)).sort((p, q) => p - q);
    const out: Dim[] = [...data.shape];
    for (const ax of norm) out.splice(ax, 0, 1);
    return [{ dtype: data.dtype, shape: out }];
  },
});

defineOp({
  type: 'Squeeze',
  infer([x, a]) {
    const data = need(x, 'Squeeze: data');
    const axes = a ? constInts(a) : data.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    if (!axes) throw new Error('Squeeze: axes must be constant');
    const drop = new Set(axes.map((ax) => normAxis(ax, data.rank)));
    return [{ dtype: data.dtype, shape: data.shape.filter((_, i) => !drop.has(i)) }];
  },
});

defineOp({
  type: 'Concat',
  infer(inputs, attrs, g) {
    const xs = inputs.map((v, i) => need(v, `Concat: input #${i}`));
    const rank = xs[0]!.rank;
    const axis = normAxis(attrs.axis as number, rank);
    const out = [...xs[0]!.shape];
    let total: Dim = 0;
    for (const x of xs) {
      if (x.rank !== rank) throw new Error(`Concat: ranks differ (${x.rank} vs ${rank})`);
      const d = x.shape[axis]!;
      total = isKnown(total) && isKnown(d) ? total + d : g.freshDim();
    }
    out[axis] = total;
    return [{ dtype: xs[0]!.dtype, shape: out }];
  },
});

defineOp({
  type: 'Slice',
  infer([x, starts, ends, axesIn, stepsIn], _attrs, g) {
    const data = need(x, 'Slice: data');
    const s = constInts(starts), e = constInts(ends);
    const axes = axesIn ? constInts(axesIn) : s?.map((_, i) => i);
    const steps = stepsIn ? constInts(stepsIn) : s?.map(() => 1);
    const out: Dim[] = [...data.shape];
    if (!axes) return [{ dtype: data.dtype, shape: out.map(() => g.freshDim()) }];
    axes.forEach((ax0, i) => {
      const ax = normAxis(ax0, data.rank);
      const d = data.shape[ax]!;
      const st = s?.[i], en = e?.[i], step = steps?.[i] ?? 1;
      if (st === undefined || en === undefined || !isKnown(d)) {
        // A slice of a symbolic dim from 0 to "the end" keeps that dim.
        out[ax] = st === 0 && en !== undefined && en >= 2 ** 31 - 1 && step === 1 ? d : g.freshDim();
        return;
      }
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
      const from = clamp(st < 0 ? st + d : st, 0, d);
      const to = clamp(en < 0 ? en + d : en, 0, d);
      out[ax] = step > 0 ? Math.max(0, Math.ceil((to - from) / step)) : Math.max(0, Math.ceil((from - to) / -step));
    });
    return [{ dtype: data.dtype, shape: out }];
  },
});

defineOp({
  type: 'Expand',
  infer([x, s], _attrs, g) {
    const data = need(x, 'Expand: data');
    return [{ dtype: data.dtype, shape: broadcast([data.shape, shapeFromInput(need(s, 'Expand: shape'), g, 'Expand')], 'Expand') }];
  },
});

defineOp({
  type: 'Tile',
  infer([x, r], _attrs, g) {
    const data = need(x, 'Tile: data');
    const reps = constInts(need(r, 'Tile: repeats'));
    return [{
      dtype: data.dtype,
      shape: data.shape.map((d, i) => (reps && isKnown(d) ? d * reps[i]! : reps?.[i] === 1 ? d : g.freshDim())),
    }];
  },
});

defineOp({
  type: 'Shape',
  infer([x]) {
    return [{ dtype: 'int64', shape: [need(x, 'Shape: data').rank] }];
  },
});

defineOp({
  type: 'Gather',
  infer([x, idx], attrs) {
    const data = need(x, 'Gather: data');
    const indices = need(idx, 'Gather: indices');
    const axis = normAxis((attrs.axis as number | undefined) ?? 0, data.rank);
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)] }];
  },
});

defineOp({
  type: 'GatherElements',
  infer([x, idx]) {
    return [{ dtype: need(x, 'GatherElements: data').dtype, shape: [...need(idx, 'GatherElements: indices').shape] }];
  },
});

for (const type of ['ScatterElements', 'ScatterND']) {
  defineOp({
    type,
    infer([x]) {
      const data = need(x, `${type}: data`);
      return [{ dtype: data.dtype, shape: [...data.shape] }];
    },
  });
}

defineOp({
  type: 'Range',
  infer([start, limit, delta], _attrs, g) {
    const [s, l, d] = [constInts(start), constInts(limit), constInts(delta)];
    const n = s && l && d ? Math.max(0, Math.ceil((l[0]! - s[0]!) / d[0]!)) : g.freshDim();
    return [{ dtype: need(start, 'Range: start').dtype, shape: [n] }];
  },
});

defineOp({
  type: 'ConstantOfShape',
  infer([s], attrs, g) {
    const value = attrs.value as Tensor | undefined;
    return [{ dtype: value?.dtype ?? 'float32', shape: shapeFromInput(need(s, 'ConstantOfShape: shape'), g, 'ConstantOfShape') }];
  },
});
