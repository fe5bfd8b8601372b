// Ops through which no gradient flows. StopGradient passes its input on unchanged (it compiles to ONNX
// Identity) but the backward pass treats it as a constant, like torch's .detach(): DeBERTa-v3's
// gradient-disentangled embedding sharing reads the generator's embeddings through one. ArgMax has an
// integer output, so nothing flows back through it either (RTD samples generator tokens with it).
import { normAxis } from '../shape-rules.ts';
import type { Value } from '../value.ts';
import { defineOp } from './registry.ts';

defineOp({
  type: 'StopGradient',
  onnxType: 'Identity',
  infer([x]) {
    if (!x) throw new Error('StopGradient: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  grad: () => [null],
});

/** Index of the largest value along `axis` (ties: the first), int64; keepdims as ONNX (default 1). */
defineOp({
  type: 'ArgMax',
  infer([x], attrs) {
    if (!x) throw new Error('ArgMax: input is missing');
    const axis = normAxis(attrs.axis ?? 0, x.rank);
    const keep = (attrs.keepdims ?? 1) !== 0;
    return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : [])) }];
  },
});

/** x in the forward pass, a constant in the backward pass (torch's `x.detach()`). */
export function stopGradient(x: Value): Value {
  return x.graph.op1('StopGradient', [x]);
}

/** The index of the largest value along `axis`, that axis dropped. */
export function argMax(x: Value, axis = -1): Value {
  return x.graph.op1('ArgMax', [x], { axis: normAxis(axis, x.rank), keepdims: 0 });
}
