// Neural-network ops ONNX Runtime implements as fused kernels.
import type { DType, Tensor } from '../../tensor.ts';
import { reduceTo } from '../autodiff.ts';
import type { Graph } from '../graph.ts';
import { constInts, isKnown, normAxis } from '../shape-rules.ts';
import type { Dim, Value } from '../value.ts';
import { defineOp } from './registry.ts';
import type { OpAttrs } from '../attrs.ts';

const sumKeep = (x: Value, axes: number[]) => x.graph.op1('ReduceSum', [x, x.graph.constInt64(axes)], { keepdims: 1 });
const meanKeep = (x: Value, axes: number[]) => x.graph.op1('ReduceMean', [x, x.graph.constInt64(axes)], { keepdims: 1 });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const type of ['Softmax', 'LogSoftmax'] as const) {
  defineOp({
    type,
    infer([x]) {
      if (!x) throw new Error(`${type}: input is missing`);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    // softmax: dx = y * (dy - sum(dy * y)); log-softmax: dx = dy - softmax * sum(dy).
    grad: ({ g, y: [y], attrs, dy: [d] }) => {
      const axis = normAxis(attrs.axis ?? -1, y!.rank);
      if (type === 'Softmax') return [y!.mul(d!.sub(sumKeep(d!.mul(y!), [axis])))];
      return [d!.sub(g.op1('Exp', [y!]).mul(sumKeep(d!, [axis])))];
    },
  });
}

/** Outputs: Y, and optionally the mean and 1/stddev over the normalised axes (kept as size 1). */
defineOp({
  type: 'LayerNormalization',
  infer([x], attrs) {
    if (!x) throw new Error('LayerNormalization: input is missing');
    const axis = normAxis(attrs.axis ?? -1, x.rank);
    const stat: Dim[] = x.shape.map((d, i) => (i < axis ? d : 1));
    const statType = x.dtype === 'float64' ? 'float64' : 'float32';
    return [{ dtype: x.dtype, shape: [...x.shape] }, { dtype: statType, shape: stat }, { dtype: statType, shape: stat }];
  },
  // The statistics are recomputed in the backward graph (the forward node usually has one output).
  grad: ({ g, x: [x, scale, bias], attrs, dy: [d, dMean, dInv] }) => {
    if (dMean || dInv) throw new Error('LayerNormalization: no gradient through the mean / inverse-stddev outputs');
    const axis = normAxis(attrs.axis ?? -1, x!.rank);
    const eps = attrs.epsilon ?? 1e-5;
    const axes = range(x!.rank).slice(axis);
    const centred = x!.sub(meanKeep(x!, axes));
    const inv = g.scalar(1, x!.dtype).div(g.op1('Sqrt', [meanKeep(centred.mul(centred), axes).add(eps)]));
    const xhat = centred.mul(inv);
    const dxhat = d!.mul(scale!);
    const dx = inv.mul(dxhat.sub(meanKeep(dxhat, axes)).sub(xhat.mul(meanKeep(dxhat.mul(xhat), axes))));
    return [dx, reduceTo(d!.mul(xhat), scale!.shape), bias ? reduceTo(d!, bias.shape) : null];
  },
});

/** 1-D convolution over [batch, channels, length] (the DeBERTa-v2 conv layer). */
defineOp({
  type: 'Conv',
  infer([x, w], attrs, g) {
    if (!x || !w) throw new Error('Conv: needs X and W');
    const pads = attrs.pads ?? [0, 0];
    const k = w.shape[2]!;
    const len = x.shape[2]!;
    const out: Dim = isKnown(len) && isKnown(k) ? len + pads[0]! + pads[1]! - k + 1 : g.freshDim();
    return [{ dtype: x.dtype, shape: [x.shape[0]!, w.shape[0]!, out] }];
  },
  grad: ({ g, x: [x, w, b], attrs, dy: [d] }) => [convInputGrad(g, d!, w!, attrs), convWeightGrad(g, x!, d!, w!, attrs), b ? g.op1('ReduceSum', [d!, g.constInt64([0, 2])], { keepdims: 0 }) : null],
});

/** Conv sizes, checking the attributes the gradient rules support (1-D, stride and dilation 1). */
function convSizes(w: Value, attrs: OpAttrs['Conv']) {
  const [cout, cinPerGroup, k] = w.shape;
  if (w.rank !== 3 || !isKnown(cout!) || !isKnown(cinPerGroup!) || !isKnown(k!)) throw new Error(`Conv: gradient needs a 1-D kernel of known shape, got [${w.shape.join(', ')}]`);
  for (const key of ['strides', 'dilations'] as const) {
    const v = attrs[key];
    if (v?.some((s) => s !== 1)) throw new Error(`Conv: no gradient rule for ${key} [${v.join(', ')}]`);
  }
  if (attrs.auto_pad !== undefined && attrs.auto_pad !== 'NOTSET') throw new Error('Conv: no gradient rule for auto_pad');
  const [pl, pr] = attrs.pads ?? [0, 0];
  const groups = attrs.group ?? 1;
  return { cout, cinPerGroup, k, pl: pl!, pr: pr!, groups, coutPerGroup: cout / groups };
}

/** dx: the correlation of dy with the kernel flipped in time and transposed within each group. */
function convInputGrad(g: Graph, d: Value, w: Value, attrs: OpAttrs['Conv']): Value {
  const { cinPerGroup, k, pl, pr, groups, coutPerGroup } = convSizes(w, attrs);
  if (pl > k - 1 || pr > k - 1) throw new Error(`Conv: no gradient rule for pads [${pl}, ${pr}] wider than the kernel`);
  const flipped = g.op1('Gather', [
    w.reshape([groups, coutPerGroup, cinPerGroup, k]).transpose([0, 2, 1, 3]).reshape([groups * cinPerGroup, coutPerGroup, k]),
    g.constInt64(range(k).reverse()),
  ], { axis: 2 });
  return g.op1('Conv', [d, flipped], { pads: [k - 1 - pl, k - 1 - pr], group: groups, kernel_shape: [k] });
}

/** dW[:, :, t] = sum over batch and time of dy times the input shifted by t, per group. */
function convWeightGrad(g: Graph, x: Value, d: Value, w: Value, attrs: OpAttrs['Conv']): Value {
  const { cout, cinPerGroup, k, pl, pr, groups, coutPerGroup } = convSizes(w, attrs);
  const padded = pl || pr ? g.op1('Pad', [x, g.constInt64([0, 0, pl, 0, 0, pr])]) : x;
  const dg = d.reshape([0, groups, coutPerGroup, -1]); // [B, G, Cout/G, L]
  const taps = range(k).map((t) => {
    const end = t - (k - 1) < 0 ? t - (k - 1) : Number.MAX_SAFE_INTEGER;
    const shifted = g.op1('Slice', [padded, g.constInt64([t]), g.constInt64([end]), g.constInt64([2])]);
    const xg = shifted.reshape([0, groups, cinPerGroup, -1]).transpose([0, 1, 3, 2]); // [B, G, L, Cin/G]
    const tap = g.op1('ReduceSum', [dg.matmul(xg), g.constInt64([0])], { keepdims: 0 }); // [G, Cout/G, Cin/G]
    return tap.reshape([cout, cinPerGroup, 1]);
  });
  return taps.length === 1 ? taps[0]! : g.op1('Concat', taps, { axis: 2 });
}

/** Inputs: data, ratio, training_mode. Outputs: data with dropout applied, and the keep mask. */
defineOp({
  type: 'Dropout',
  infer([x]) {
    if (!x) throw new Error('Dropout: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }, { dtype: 'bool', shape: [...x.shape] }];
  },
  // dx = dy * mask / (1 - ratio) in training mode, dy otherwise; the mask is the node's second output.
  grad: ({ g, node, x: [, ratio, training], y, dy: [d] }) => {
    const mode = training ? constInts(training) : [0];
    if (mode && mode[0] === 0) return [d!, null, null];
    const mask = y[1];
    if (!mask) throw new Error(`Dropout (node ${node.id}): a training-mode gradient needs the mask output; create the node with 2 outputs`);
    const r = ratio ? constInts(ratio)?.[0] : 0.5; // constInts reads any constant's numbers
    const one = g.scalar(1, d!.dtype);
    const scale = r !== undefined ? g.scalar(1 / (1 - r), d!.dtype) : one.div(one.sub(ratio!.cast(d!.dtype)));
    const trained = g.op1('Where', [mask, d!.mul(scale), g.scalar(0, d!.dtype)]);
    return [mode ? trained : g.op1('Where', [training!, trained, d!]), null, null];
  },
});

/** Scores [N, C] or [N, C, d...] and int64 labels; reduction 'mean' (default), 'sum' or 'none'. */
defineOp({
  type: 'SoftmaxCrossEntropyLoss',
  infer([scores, labels], attrs) {
    if (!scores || !labels) throw new Error('SoftmaxCrossEntropyLoss: needs scores and labels');
    const reduction = attrs.reduction ?? 'mean';
    return [
      { dtype: scores.dtype, shape: reduction === 'none' ? [...labels.shape] : [] },
      { dtype: scores.dtype, shape: [...scores.shape] },
    ];
  },
  grad: ({ g, x: [scores, labels, weights], y: [, logProb], attrs, dy: [dLoss, dLogProb] }) => {
    const s = scores!, lab = labels!;
    const dt = s.dtype;
    const p = g.op1('Exp', [logProb ?? g.op1('LogSoftmax', [s], { axis: 1 })]);
    let ds: Value | null = null;
    if (dLoss) {
      // Each sample's weight: its class weight (1 without weights), 0 where its label is ignored.
      const ignore = attrs.ignore_index;
      const valid = ignore === undefined ? undefined : g.op1('Not', [g.op1('Equal', [lab, g.scalar(ignore, lab.dtype)])]);
      const safe = valid ? g.op1('Where', [valid, lab, g.scalar(0, lab.dtype)]) : lab;
      let w: Value | undefined = weights ? g.op1('Gather', [weights, safe], { axis: 0 }) : undefined;
      if (valid) w = w ? w.mul(valid.cast(dt)) : valid.cast(dt);
      w ??= g.op1('ConstantOfShape', [g.op1('Shape', [lab])], { value: scalarTensor(dt, 1) });
      const reduction = attrs.reduction ?? 'mean';
      const perSample = reduction === 'mean' ? dLoss.div(g.op1('ReduceSum', [w], { keepdims: 0 })) : dLoss;
      const coef = g.op1('Unsqueeze', [w.mul(perSample), g.constInt64([1])]);
      const classes = classIndices(s).cast(lab.dtype);
      const onehot = g.op1('Equal', [g.op1('Unsqueeze', [lab, g.constInt64([1])]), classes]).cast(dt);
      ds = p.sub(onehot).mul(coef);
    }
    if (dLogProb) {
      const direct = dLogProb.sub(p.mul(sumKeep(dLogProb, [1])));
      ds = ds ? ds.add(direct) : direct;
    }
    return [ds, null, null];
  },
});

/** 0, 1, ..., C - 1 along axis 1 of a [1, C, 1, ...] tensor, C being the classes of scores [N, C, ...]. */
function classIndices(s: Value): Value {
  const g = s.graph;
  const C = s.shape[1]!;
  const dims = s.shape.map((_, i) => (i === 1 ? -1 : 1));
  if (isKnown(C)) return g.constInt64(range(C), dims.map((d) => (d === -1 ? C : d)));
  // A run-time count (question answering: the sequence length; multiple choice: the choices).
  const count = g.op1('Squeeze', [g.op1('Slice', [g.op1('Shape', [s]), g.constInt64([1]), g.constInt64([2]), g.constInt64([0])]), g.constInt64([0])]);
  return g.op1('Range', [g.scalar(0, 'int64'), count, g.scalar(1, 'int64')]).reshape(dims);
}

function scalarTensor(dtype: DType, x: number): Tensor {
  return dtype === 'float64' ? { dtype, dims: [1], data: Float64Array.of(x) } : { dtype: 'float32', dims: [1], data: Float32Array.of(x) };
}
