// The attributes each op takes, by op type, under ONNX's names: the shape and gradient rules read them
// typed, and building a node with a wrong or misspelt attribute is a type error. An op not listed takes none.
import type { DType, Tensor } from '../tensor.ts';
import type { Attrs, Node } from './value.ts';

type Reduction = 'none' | 'add' | 'mul' | 'sum' | 'mean';

export interface OpAttrs {
  ArgMax: { axis?: number; keepdims?: number };
  Cast: { to: DType };
  Concat: { axis: number };
  ConstantOfShape: { value?: Tensor };
  CumSum: { exclusive?: number; reverse?: number };
  Conv: { pads?: number[]; group?: number; kernel_shape?: number[]; auto_pad?: string; strides?: number[]; dilations?: number[] };
  Dropout: { seed?: number };
  FusedMatMul: { alpha?: number; transA?: number; transB?: number; transBatchA?: number; transBatchB?: number };
  Gather: { axis?: number };
  GatherElements: { axis?: number };
  Gemm: { alpha?: number; beta?: number; transA?: number; transB?: number };
  LayerNormalization: { axis?: number; epsilon?: number };
  LogSoftmax: { axis?: number };
  Pad: { mode?: string };
  ReduceLogSumExp: { keepdims?: number; noop_with_empty_axes?: number };
  ReduceMax: { keepdims?: number; noop_with_empty_axes?: number };
  ReduceMean: { keepdims?: number; noop_with_empty_axes?: number };
  ReduceSum: { keepdims?: number; noop_with_empty_axes?: number };
  ReduceSumSquare: { keepdims?: number; noop_with_empty_axes?: number };
  ScatterElements: { axis?: number; reduction?: Reduction };
  ScatterND: { reduction?: Reduction };
  Softmax: { axis?: number };
  SoftmaxCrossEntropyLoss: { ignore_index?: number; reduction?: Reduction };
  Transpose: { perm?: number[] };
}

/** The attributes of op `T`: its entry in OpAttrs, none for an op not listed, any for a type known only at run time. */
export type AttrsOf<T extends string> = string extends T ? Attrs : T extends keyof OpAttrs ? OpAttrs[T] : Record<string, never>;

/** The attributes of `n` as op `type` takes them, or undefined when `n` is another op (or none). */
export function attrsIf<T extends keyof OpAttrs>(n: Node | undefined, type: T): OpAttrs[T] | undefined {
  return n?.type === type ? (n.attrs as OpAttrs[T]) : undefined;
}
