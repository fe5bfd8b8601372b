// Folding done while emitting: ops on weights that ONNX Runtime would otherwise run (or fuse into a
// slower kernel) at every call. A transposed weight becomes a transposed initializer, so linear
// layers reach MatMul with a constant, pre-packable right operand instead of FusedMatMul(transB).
import { emptyArray, type Tensor } from '../tensor.ts';
import type { Value } from '../graph/value.ts';

export function transposeTensor(t: Tensor, perm: readonly number[]): Tensor {
  const rank = t.dims.length;
  const outDims = perm.map((p) => t.dims[p]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) { inStrides[i] = s; s *= t.dims[i]!; }
  const out = emptyArray(t.dtype, s) as unknown as { [i: number]: unknown; length: number };
  const src = t.data as unknown as { [i: number]: unknown };
  const idx = new Array<number>(rank).fill(0);
  const strides = perm.map((p) => inStrides[p]!);
  let from = 0;
  for (let o = 0; o < s; o++) {
    out[o] = src[from];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      from += strides[d]!;
      if (idx[d]! < outDims[d]!) break;
      from -= strides[d]! * outDims[d]!;
      idx[d] = 0;
    }
  }
  return { dtype: t.dtype, dims: outDims, data: out as unknown as Tensor['data'] };
}

/** The folded value of `v` when it is a transpose of a weight baked into the model, else undefined. */
export function foldable(v: Value, weightsBaked: boolean): Tensor | undefined {
  const node = v.producer;
  if (!node || node.type !== 'Transpose') return undefined;
  const src = node.inputs[0];
  if (!src?.constValue || src.producer) return undefined;
  if (src.kind === 'param' && !weightsBaked) return undefined;
  return transposeTensor(src.constValue, (node.attrs.perm as number[] | undefined) ?? src.shape.map((_, i) => src.rank - 1 - i));
}
