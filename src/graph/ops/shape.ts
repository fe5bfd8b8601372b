// Ops that move data without arithmetic: reshapes, transposes, slices, gathers and scatters.
import { dimOf, reduceTo, shapeOf, zerosLike } from '../autodiff.ts';
import type { Graph } from '../graph.ts';
import { broadcast, constInts, dimProduct, isKnown, normAxis } from '../shape-rules.ts';
import type { Dim, Shape, Value } from '../value.ts';
import { defineOp } from './registry.ts';

function need(v: Value | null | undefined, what: string): Value {
  if (!v) throw new Error(`${what} is missing`);
  return v;
}

// --- Helpers of the gradient rules (the backward of data movement is data movement the other way).

/** Element i of a 1-D int64 input as a 1-element vector (a constant when the input is one). */
function element(v: Value, i: number): Value {
  const g = v.graph;
  const known = constInts(v);
  if (known) return g.constInt64([known[i]!]);
  return g.op1('Slice', [v, g.constInt64([i]), g.constInt64([i + 1]), g.constInt64([0])]);
}

/** wrapIndices' results by index value and gathered dim: layers that share an index share its wrapping. */
const wrapped = new WeakMap<Value, Map<string, Value>>();

/**
 * Indices made non-negative (Gather and GatherElements count negative ones from the end), as int64.
 * Computed once per (index, dim): e.g. the relative-attention index every layer gathers with.
 */
function wrapIndices(idx: Value, data: Value, axis: number): Value {
  const g = idx.graph;
  const dim = data.shape[axis]!;
  let byDim = wrapped.get(idx);
  const hit = byDim?.get(String(dim));
  if (hit) return hit;
  const i = idx.cast('int64');
  const known = constInts(i);
  let out = i;
  if (!known?.every((k) => k >= 0)) {
    // A symbolic dim is read off a small value that has it (shapeOf), not off this layer's data.
    const size = isKnown(dim) ? g.scalar(dim, 'int64') : g.op1('Gather', [shapeOf(data), g.scalar(axis, 'int64')], { axis: 0 });
    out = g.op1('Where', [g.op1('Less', [i, g.scalar(0, 'int64')]), i.add(size), i]);
  }
  if (!byDim) wrapped.set(idx, (byDim = new Map()));
  byDim.set(String(dim), out);
  return out;
}

/** A Slice end that means "to the end" (exact as a float64, unlike 2^63 - 1). */
const TO_END = Number.MAX_SAFE_INTEGER;

/** A shape given as a 1-D int64 input: its contents when constant, else fresh symbols of the right rank. */
function shapeFromInput(v: Value, g: Graph, where: string): Shape {
  const known = constInts(v);
  if (known) return known;
  const n = v.shape[0];
  if (n === undefined || !isKnown(n)) throw new Error(`${where}: shape input of unknown length`);
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
  grad: ({ g, x: [x], dy: [d] }) => [g.op1('Reshape', [d!, shapeOf(x!)]), null],
});

defineOp({
  type: 'Transpose',
  infer([x], attrs) {
    const data = need(x, 'Transpose: data');
    const perm = attrs.perm ?? data.shape.map((_, i) => data.rank - 1 - i);
    if (perm.length !== data.rank) throw new Error(`Transpose: perm [${perm}] for rank ${data.rank}`);
    return [{ dtype: data.dtype, shape: perm.map((p) => data.shape[p]!) }];
  },
  grad: ({ x: [x], attrs, dy: [d] }) => {
    const perm = attrs.perm ?? x!.shape.map((_, i) => x!.rank - 1 - i);
    const inverse: number[] = [];
    perm.forEach((p, i) => { inverse[p] = i; });
    return [d!.transpose(inverse)];
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
  // The same axes index the output of Unsqueeze and the input of Squeeze.
  grad: ({ g, x: [, axes], dy: [d] }) => [g.op1('Squeeze', [d!, axes!]), null],
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
  grad: ({ g, x: [x, axes], dy: [d] }) =>
    [axes ? g.op1('Unsqueeze', [d!, axes]) : g.op1('Reshape', [d!, shapeOf(x!)]), null],
});

defineOp({
  type: 'Concat',
  infer(inputs, attrs, g) {
    const xs = inputs.map((v, i) => need(v, `Concat: input #${i}`));
    const rank = xs[0]!.rank;
    const axis = normAxis(attrs.axis, rank);
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
  // Each input gets its own stretch of the gradient along the axis.
  grad: ({ g, x, attrs, dy: [d] }) => {
    const axis = normAxis(attrs.axis, x[0]!.rank);
    const asValue = (o: number | Value) => (typeof o === 'number' ? g.constInt64([o]) : o);
    let start: number | Value = 0; // a number while every size so far is known
    return x.map((v) => {
      const size = v!.shape[axis]!;
      const end = typeof start === 'number' && isKnown(size) ? start + size : asValue(start).add(dimOf(v!, axis));
      const piece = g.op1('Slice', [d!, asValue(start), asValue(end), g.constInt64([axis])]);
      start = end;
      return piece;
    });
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
        // A symbolic dim sliced from 0 to "the end" keeps that dim; a fixed window [st, en) of one is
        // en - st long (assuming the dim reaches en, as model code slicing e.g. [CLS] at [0, 1) does).
        const end = en !== undefined && en >= 2 ** 31 - 1;
        if (st === 0 && end && step === 1) out[ax] = d;
        else if (st !== undefined && en !== undefined && st >= 0 && en > st && !end && step === 1) out[ax] = en - st;
        else out[ax] = g.freshDim();
        return;
      }
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
      const from = clamp(st < 0 ? st + d : st, 0, d);
      const to = clamp(en < 0 ? en + d : en, 0, d);
      out[ax] = step > 0 ? Math.max(0, Math.ceil((to - from) / step)) : Math.max(0, Math.ceil((from - to) / -step));
    });
    return [{ dtype: data.dtype, shape: out }];
  },
  // The gradient is padded back with zeros: before = the clamped start, after = dim - the clamped end.
  grad: ({ g, x: [x, starts, ends, axesIn, steps], dy: [d] }) => {
    const data = x!;
    const stepVals = steps ? constInts(steps) : undefined;
    if (steps && (!stepVals || stepVals.some((s) => s !== 1))) throw new Error('Slice: gradient only for steps of 1');
    const n = starts!.shape[0];
    if (n === undefined || !isKnown(n)) throw new Error('Slice: gradient needs starts of known length');
    const axes = axesIn ? constInts(axesIn) : Array.from({ length: n }, (_, i) => i);
    if (!axes) throw new Error('Slice: gradient needs constant axes');
    const before: (number | Value)[] = data.shape.map(() => 0);
    const after: (number | Value)[] = data.shape.map(() => 0);
    const clamp = (v: Value, dim: Value) => {
      const wrapped = g.op1('Where', [g.op1('Less', [v, g.scalar(0, 'int64')]), v.add(dim), v]);
      return g.op1('Min', [g.op1('Max', [wrapped, g.constInt64([0])]), dim]);
    };
    axes.forEach((ax0, i) => {
      const ax = normAxis(ax0, data.rank);
      const dim = data.shape[ax]!;
      const s = constInts(starts)?.[i], e = constInts(ends)?.[i];
      if (isKnown(dim) && s !== undefined && e !== undefined) {
        const c = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
        before[ax] = c(s);
        after[ax] = dim - Math.max(c(e), c(s));
        return;
      }
      const D = dimOf(data, ax);
      const from = clamp(element(starts!, i).cast('int64'), D);
      const to = g.op1('Max', [clamp(element(ends!, i).cast('int64'), D), from]);
      before[ax] = from;
      after[ax] = D.sub(to);
    });
    const all = [...before, ...after];
    const pads = all.every((p) => typeof p === 'number')
      ? g.constInt64(all as number[])
      : g.op1('Concat', all.map((p) => (typeof p === 'number' ? g.constInt64([p]) : p)), { axis: 0 });
    return [g.op1('Pad', [d!, pads]), null, null, null, null];
  },
});

/** Constant-mode padding (the gradient of Slice); pads = [begin of each axis..., end of each axis...]. */
defineOp({
  type: 'Pad',
  infer([x, p], attrs, g) {
    const data = need(x, 'Pad: data');
    if (attrs.mode !== undefined && attrs.mode !== 'constant') throw new Error(`Pad: mode '${String(attrs.mode)}' is not supported`);
    const pads = constInts(need(p, 'Pad: pads'));
    const r = data.rank;
    return [{
      dtype: data.dtype,
      shape: data.shape.map((dim, i) => (pads && isKnown(dim) ? dim + pads[i]! + pads[i + r]! : pads?.[i] === 0 && pads[i + r] === 0 ? dim : g.freshDim())),
    }];
  },
  grad: ({ g, x: [x, p], dy: [d] }) => {
    const pads = constInts(p);
    if (!pads) throw new Error('Pad: gradient needs constant pads');
    const r = x!.rank;
    // Slice the padding back off (negative pads, i.e. cropping, are not supported here).
    if (pads.some((v) => v < 0)) throw new Error('Pad: no gradient for negative pads');
    const ends = pads.slice(r).map((v) => (v === 0 ? TO_END : -v));
    return [g.op1('Slice', [d!, g.constInt64(pads.slice(0, r)), g.constInt64(ends), g.constInt64(Array.from({ length: r }, (_, i) => i))]), null, null];
  },
});

defineOp({
  type: 'Expand',
  infer([x, s], _attrs, g) {
    const data = need(x, 'Expand: data');
    return [{ dtype: data.dtype, shape: broadcast([data.shape, shapeFromInput(need(s, 'Expand: shape'), g, 'Expand')], 'Expand') }];
  },
  grad: ({ x: [x], dy: [d] }) => [reduceTo(d!, x!.shape), null],
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
    const axis = normAxis(attrs.axis ?? 0, data.rank);
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...indices.shape, ...data.shape.slice(axis + 1)] }];
  },
  // Scatter-add of the gradient rows into zeros shaped like the data (repeated indices accumulate).
  grad: ({ g, x: [data, idx], attrs, dy: [d] }) => {
    const axis = normAxis(attrs.axis ?? 0, data!.rank);
    const q = idx!.rank;
    const rows = g.op1('Unsqueeze', [wrapIndices(idx!, data!, axis), g.constInt64([-1])]);
    if (axis === 0) return [g.op1('ScatterND', [zerosLike(data!), rows, d!], { reduction: 'add' }), null];
    // Move the gathered axis to the front of the data, and the index dims to the front of the gradient.
    const r = data!.rank;
    const toFront = [axis, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis)];
    const dPerm = [...Array.from({ length: q }, (_, i) => axis + i), ...Array.from({ length: axis }, (_, i) => i),
      ...Array.from({ length: d!.rank - axis - q }, (_, i) => axis + q + i)];
    const scattered = g.op1('ScatterND', [zerosLike(data!.transpose(toFront)), rows, d!.transpose(dPerm)], { reduction: 'add' });
    const back: number[] = [];
    toFront.forEach((p, i) => { back[p] = i; });
    return [scattered.transpose(back), null];
  },
});

defineOp({
  type: 'GatherElements',
  infer([x, idx]) {
    return [{ dtype: need(x, 'GatherElements: data').dtype, shape: [...need(idx, 'GatherElements: indices').shape] }];
  },
  grad: ({ g, x: [data, idx], attrs, dy: [d] }) => {
    const axis = normAxis(attrs.axis ?? 0, data!.rank);
    const i = wrapIndices(idx!, data!, axis);
    return [g.op1('ScatterElements', [zerosLike(data!), i, d!], { axis, reduction: 'add' }), null];
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

/** The indices of the non-zero elements, [rank, count]; how many is known only when run. */
defineOp({
  type: 'NonZero',
  infer([x], _attrs, g) {
    return [{ dtype: 'int64', shape: [need(x, 'NonZero: input').rank, g.freshDim()] }];
  },
});

/** Running sums along the axis given as a second input (no gradient rule: used for index arithmetic). */
defineOp({
  type: 'CumSum',
  infer([x, axis]) {
    need(axis, 'CumSum: axis');
    const data = need(x, 'CumSum: input');
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
});

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
    const value = attrs.value;
    return [{ dtype: value?.dtype ?? 'float32', shape: shapeFromInput(need(s, 'ConstantOfShape: shape'), g, 'ConstantOfShape') }];
  },
});
