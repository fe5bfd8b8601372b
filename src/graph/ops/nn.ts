// Neural-network ops ONNX Runtime implements as fused kernels.
import { isKnown, normAxis } from '../shape-rules.ts';
import type { Dim } from '../value.ts';
import { defineOp } from './registry.ts';

for (const type of ['Softmax', 'LogSoftmax']) {
  defineOp({
    type,
    infer([x]) {
      if (!x) throw new Error(`${type}: input is missing`);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
  });
}

/** Outputs: Y, and optionally the mean and 1/stddev over the normalised axes (kept as size 1). */
defineOp({
  type: 'LayerNormalization',
  infer([x], attrs) {
    if (!x) throw new Error('LayerNormalization: input is missing');
    const axis = normAxis((attrs.axis as number | undefined) ?? -1, x.rank);
    const stat: Dim[] = x.shape.map((d, i) => (i < axis ? d : 1));
    const statType = x.dtype === 'float64' ? 'float64' : 'float32';
    return [{ dtype: x.dtype, shape: [...x.shape] }, { dtype: statType, shape: stat }, { dtype: statType, shape: stat }];
  },
});

/** 1-D convolution over [batch, channels, length] (the DeBERTa-v2 conv layer). */
defineOp({
  type: 'Conv',
  infer([x, w], attrs, g) {
    if (!x || !w) throw new Error('Conv: needs X and W');
    const pads = (attrs.pads as number[] | undefined) ?? [0, 0];
    const k = w.shape[2]!;
    const len = x.shape[2]!;
    const out: Dim = isKnown(len) && isKnown(k) ? len + pads[0]! + pads[1]! - k + 1 : g.freshDim();
    return [{ dtype: x.dtype, shape: [x.shape[0]!, w.shape[0]!, out] }];
  },
});

/** Inputs: data, ratio, training_mode. Outputs: data with dropout applied, and the keep mask. */
defineOp({
  type: 'Dropout',
  infer([x]) {
    if (!x) throw new Error('Dropout: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }, { dtype: 'bool', shape: [...x.shape] }];
  },
});

/** Scores [N, C] or [N, C, d...] and int64 labels; reduction 'mean' (default), 'sum' or 'none'. */
defineOp({
  type: 'SoftmaxCrossEntropyLoss',
  infer([scores, labels], attrs) {
    if (!scores || !labels) throw new Error('SoftmaxCrossEntropyLoss: needs scores and labels');
    const reduction = (attrs.reduction as string | undefined) ?? 'mean';
    return [
      { dtype: scores.dtype, shape: reduction === 'none' ? [...labels.shape] : [] },
      { dtype: scores.dtype, shape: [...scores.shape] },
    ];
  },
});
