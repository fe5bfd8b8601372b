// The builder vocabulary model code is written in. Each function adds one or a few ops to x's graph.
import type { DType, Tensor } from '../tensor.ts';
import { defineGradient } from './autodiff.ts';
import type { Dim, Shape, Value } from './value.ts';

const g = (x: Value) => x.graph;

export function linear(x: Value, weight: Value, bias?: Value): Value {
  // weight is [out, in] as in PyTorch; ONNX Runtime folds the transpose of a constant weight.
  const y = x.matmul(transpose(weight, [1, 0]));
  return bias ? y.add(bias) : y;
}

export function transpose(x: Value, perm: readonly number[]): Value { return x.transpose(perm); }

export function layerNorm(x: Value, weight: Value, bias: Value, eps: number): Value {
  return g(x).op1('LayerNormalization', [x, weight, bias], { axis: -1, epsilon: eps });
}

export function softmax(x: Value, axis = -1): Value { return g(x).op1('Softmax', [x], { axis }); }
export function logSoftmax(x: Value, axis = -1): Value { return g(x).op1('LogSoftmax', [x], { axis }); }

/** ONNX Runtime has no float64 Erf: a float64 graph computes it in float32 (about 1e-7 relative error). */
export function erf(x: Value): Value {
  return x.dtype === 'float64' ? g(x).op1('Erf', [x.cast('float32')]).cast('float64') : g(x).op1('Erf', [x]);
}
export function tanh(x: Value): Value { return g(x).op1('Tanh', [x]); }
export function sigmoid(x: Value): Value { return g(x).op1('Sigmoid', [x]); }
export function relu(x: Value): Value { return g(x).op1('Relu', [x]); }
export function exp(x: Value): Value { return g(x).op1('Exp', [x]); }
export function log(x: Value): Value { return g(x).op1('Log', [x]); }
export function sqrt(x: Value): Value { return g(x).op1('Sqrt', [x]); }

/**
 * Exact GELU, x * Phi(x), written with Erf in the form ONNX Runtime's fusion recognises
 * (Div by sqrt 2, Erf, Add 1, Mul x, Mul 0.5), so inference runs its BiasGelu kernel.
 */
export function gelu(x: Value): Value {
  return x.mul(erf(x.div(Math.SQRT2)).add(1)).mul(0.5);
}

/** The tanh approximation ("gelu_new", "gelu_pytorch_tanh"). */
export function geluTanh(x: Value): Value {
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(tanh(inner).add(1)).mul(0.5);
}

/** Activation by its transformers name (ACT2FN). */
export function activation(name: string, x: Value): Value {
  switch (name) {
    case 'gelu': case 'gelu_python': return gelu(x);
    case 'gelu_new': case 'gelu_pytorch_tanh': case 'gelu_fast': return geluTanh(x);
    case 'relu': return relu(x);
    case 'tanh': return tanh(x);
    case 'sigmoid': return sigmoid(x);
    case 'silu': case 'swish': return x.mul(sigmoid(x));
    case 'quick_gelu': return x.mul(sigmoid(x.mul(1.702)));
    case 'linear': case 'identity': return x;
    default: throw new Error(`unsupported activation '${name}'`);
  }
}

export function gather(data: Value, indices: Value, axis = 0): Value {
  return g(data).op1('Gather', [data, indices], { axis });
}

export function gatherElements(data: Value, indices: Value, axis: number): Value {
  return g(data).op1('GatherElements', [data, indices], { axis });
}

export function where(cond: Value, a: Value, b: Value): Value { return g(cond).op1('Where', [cond, a, b]); }
export function equal(a: Value, b: Value): Value { return g(a).op1('Equal', [a, b]); }
export function not(a: Value): Value { return g(a).op1('Not', [a]); }
export function cast(x: Value, to: DType): Value { return x.cast(to); }

export function unsqueeze(x: Value, axes: readonly number[]): Value {
  return g(x).op1('Unsqueeze', [x, g(x).constInt64(axes)]);
}

/** The positions where a 1-D x is non-zero (true), in order: an int64 [count], the count known only when run. */
export function positionsWhere(x: Value): Value {
  if (x.rank !== 1) throw new Error(`positionsWhere: expected a 1-D value, got rank ${x.rank}`);
  return squeeze(g(x).op1('NonZero', [x]), [0]);
}

export function squeeze(x: Value, axes: readonly number[]): Value {
  return g(x).op1('Squeeze', [x, g(x).constInt64(axes)]);
}

export function concat(xs: Value[], axis: number): Value { return g(xs[0]!).op1('Concat', xs, { axis }); }

/** x[..., starts:ends, ...] along the given axes (ends may be runtime values). */
export function slice(x: Value, starts: readonly number[] | Value, ends: readonly number[] | Value, axes: readonly number[]): Value {
  const gr = g(x);
  const s = Array.isArray(starts) ? gr.constInt64(starts) : (starts as Value);
  const e = Array.isArray(ends) ? gr.constInt64(ends) : (ends as Value);
  return gr.op1('Slice', [x, s, e, gr.constInt64(axes)]);
}

export function shapeOf(x: Value): Value { return g(x).op1('Shape', [x]); }

/** One dim of x's runtime shape, as a 1-element int64 vector. */
export function dimOf(x: Value, axis: number): Value {
  const a = axis < 0 ? axis + x.rank : axis;
  return slice(shapeOf(x), [a], [a + 1], [0]);
}

export function expand(x: Value, shape: Value): Value { return g(x).op1('Expand', [x, shape]); }

export function reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
  return g(x).op1('ReduceSum', [x, g(x).constInt64(axes)], { keepdims: keepdims ? 1 : 0 });
}

export function reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
  return g(x).op1('ReduceMean', [x, g(x).constInt64(axes)], { keepdims: keepdims ? 1 : 0 });
}

/** 0, 1, ..., n - 1 where n is a runtime 1-element int64 vector. */
export function arange(n: Value): Value {
  const gr = g(n);
  return gr.op1('Range', [gr.scalar(0, 'int64'), squeeze(n, [0]), gr.scalar(1, 'int64')]);
}

export function conv1d(x: Value, weight: Value, bias: Value | undefined, pad: number, groups: number): Value {
  if (x.dtype === 'float64') return conv1dAsMatMul(x, weight, bias, pad, groups);
  return g(x).op1('Conv', bias ? [x, weight, bias] : [x, weight], { pads: [pad, pad], group: groups, kernel_shape: [weight.shape[2] as number] });
}

/**
 * ONNX Runtime has no float64 Conv, so a float64 graph convolves as one matrix product over the k
 * shifted copies of the padded input (im2col): exact in float64, and differentiable through its parts.
 */
function conv1dAsMatMul(x: Value, weight: Value, bias: Value | undefined, pad: number, groups: number): Value {
  const gr = g(x);
  const [cout, cinG, k] = weight.shape as number[];
  const padded = pad ? gr.op1('Pad', [x, gr.constInt64([0, 0, pad, 0, 0, pad])]) : x;
  const taps = Array.from({ length: k! }, (_, t) =>
    unsqueeze(slice(padded, [t], [t - (k! - 1) < 0 ? t - (k! - 1) : Number.MAX_SAFE_INTEGER], [2]), [3]));
  const cols = (k === 1 ? taps[0]! : concat(taps, 3)) // [B, C, L, k]
    .reshape([0, groups, cinG!, -1, k!]).transpose([0, 1, 3, 2, 4]).reshape([0, groups, -1, cinG! * k!]); // [B, G, L, C/G * k]
  const w = weight.reshape([groups, cout! / groups, cinG! * k!]).transpose([0, 2, 1]); // [G, C/G * k, Cout/G]
  const y = cols.matmul(w).transpose([0, 1, 3, 2]).reshape([0, cout!, -1]); // [B, Cout, L]
  return bias ? y.add(bias.reshape([cout!, 1])) : y;
}

export function constant(x: Value, t: Tensor): Value { return g(x).constant(t); }

/** Zero padding by pads = [begin of each axis..., end of each axis...] (a 1-D int64 value). */
export function pad(x: Value, pads: Value): Value { return g(x).op1('Pad', [x, pads]); }

/**
 * Each row read from its own offset: out[..., r, c] = x[..., r, offset - r + c] for the R rows of x [..., R, W]
 * and c < width (offset and width: 1-element int64 values; widthDim: the width as a dim of the graph's
 * shapes, e.g. another value's sequence axis), e.g. relative-position scores, one column per distance, into
 * query-key order. Data movement only: a slice of the flattened rows, reshaped to rows one column shorter
 * (row r then starts offset - r elements in), and a slice of their first `width` columns; the gradient is
 * the same layout zero-padded back. Needs offset - (R - 1) >= 0, offset + width <= W and offset <= R (so with
 * R = W / 2, any offset from R - 1 to R); one row (R known to be 1) is a plain slice.
 */
export function skew(x: Value, offset: Value, width: Value, widthDim: Dim): Value {
  return withShape(skewed(x, offset, width), [...x.shape.slice(0, -1), widthDim]);
}

/**
 * Gives a value the dims its computation implies but shape inference cannot follow (a reshape to sizes
 * computed at run time gets fresh symbols, which would then win against a 1 in broadcasts). Only for a value
 * nothing has read yet.
 */
function withShape(v: Value, shape: Shape): Value {
  if (shape.length !== v.rank) throw new Error(`withShape: rank ${shape.length} for ${v}`);
  (v.shape as Dim[]).splice(0, v.rank, ...shape);
  return v;
}

function skewed(x: Value, offset: Value, width: Value): Value {
  const gr = g(x);
  const r = x.rank;
  const zeros = (k: number) => gr.constInt64(Array.from({ length: k }, () => 0));
  const W = dimOf(x, r - 1);
  if (x.shape[r - 2] === 1) {
    const y = slice(x, offset, offset.add(width), [r - 1]);
    return defineGradient(y, x, (dy) => pad(dy, concat([zeros(r - 1), offset, zeros(r - 1), W.sub(offset).sub(width)], 0)));
  }
  const R = dimOf(x, r - 2), W1 = W.sub(1);
  const lead = Array.from({ length: r - 2 }, () => 0);
  const shifted = slice(x.reshape([...lead, -1]), offset, offset.add(R.mul(W1)), [r - 2]);
  const y = slice(gr.op1('Reshape', [shifted, concat([zeros(r - 2), R, W1], 0)]), [0], width, [r - 1]);
  // Backward, from small values of the forward only: the rows padded to W - 1 columns, flattened, padded
  // by offset in front and R - offset behind (R * W in all), and cut into R rows of W.
  return defineGradient(y, x, (dy) => {
    const rows = pad(dy, concat([zeros(2 * r - 1), W1.sub(width)], 0)).reshape([...lead, -1]);
    const flat = pad(rows, concat([zeros(r - 2), offset, zeros(r - 2), R.sub(offset)], 0));
    return gr.op1('Reshape', [flat, concat([zeros(r - 2), R, W], 0)]);
  });
}
