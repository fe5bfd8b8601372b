// Elementwise ops: numpy broadcasting for the binary ones, same shape out for the unary ones.
import type { DType } from '../../tensor.ts';
import { reduceTo } from '../autodiff.ts';
import { broadcast } from '../shape-rules.ts';
import type { Value } from '../value.ts';
import { defineOp, type GradContext } from './registry.ts';

type Rule = (ctx: GradContext) => (Value | null)[];

function present(inputs: (Value | null)[], type: string): Value[] {
  return inputs.map((v, i) => {
    if (!v) throw new Error(`${type}: input #${i} is missing`);
    return v;
  });
}

function sameDType(xs: Value[], type: string): DType {
  const dt = xs[0]!.dtype;
  for (const x of xs) if (x.dtype !== dt) throw new Error(`${type}: mixed dtypes ${xs.map((v) => v.dtype).join(', ')}`);
  return dt;
}

// Gradient rules: each input gets the output gradient's share, summed back over broadcast axes.
const zero = (v: Value) => v.graph.scalar(0, v.dtype);
const gt = (a: Value, b: Value) => a.graph.op1('Greater', [a, b]);

/** Max/Min: the winner takes the gradient; tied inputs share it equally (as torch does for two). */
const extremumGrad: Rule = ({ g, x, y, dy }) => {
  const hits = x.map((v) => g.op1('Cast', [g.op1('Equal', [v!, y[0]!])], { to: y[0]!.dtype }));
  const count = hits.reduce((a, b) => a.add(b));
  return x.map((v, i) => reduceTo(dy[0]!.mul(hits[i]!).div(count), v!.shape));
};

const BINARY_GRADS: Record<string, Rule> = {
  Add: ({ x: [a, b], dy: [d] }) => [reduceTo(d!, a!.shape), reduceTo(d!, b!.shape)],
  Sub: ({ x: [a, b], dy: [d] }) => [reduceTo(d!, a!.shape), reduceTo(d!.neg(), b!.shape)],
  Mul: ({ x: [a, b], dy: [d] }) => [reduceTo(d!.mul(b!), a!.shape), reduceTo(d!.mul(a!), b!.shape)],
  // d(a/b)/db = -a/b^2 = -y/b
  Div: ({ x: [a, b], y: [y], dy: [d] }) => [reduceTo(d!.div(b!), a!.shape), reduceTo(d!.mul(y!).div(b!).neg(), b!.shape)],
  Pow: ({ g, x: [a, b], y: [y], dy: [d] }) => {
    const e = b!.cast(a!.dtype);
    const da = d!.mul(e).mul(g.op1('Pow', [a!, e.sub(1)]));
    const floatExp = b!.dtype === a!.dtype;
    return [reduceTo(da, a!.shape), floatExp ? reduceTo(d!.mul(y!).mul(g.op1('Log', [a!])), b!.shape) : null];
  },
  Max: extremumGrad,
  Min: extremumGrad,
};

for (const type of ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']) {
  defineOp({
    type,
    infer(inputs) {
      const xs = present(inputs, type);
      const dtype = type === 'Pow' ? xs[0]!.dtype : sameDType(xs, type);
      return [{ dtype, shape: broadcast(xs.map((x) => x.shape), type) }];
    },
    grad: BINARY_GRADS[type],
  });
}

for (const type of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or']) {
  defineOp({
    type,
    infer(inputs) {
      const xs = present(inputs, type);
      sameDType(xs, type);
      return [{ dtype: 'bool', shape: broadcast(xs.map((x) => x.shape), type) }];
    },
  });
}

/** dy/dx of the unary ops, written with the input x and the output y. Sign, Ceil, Floor: zero almost everywhere. */
const UNARY_GRADS: Record<string, Rule> = {
  Neg: ({ dy: [d] }) => [d!.neg()],
  Exp: ({ y: [y], dy: [d] }) => [d!.mul(y!)],
  Log: ({ x: [x], dy: [d] }) => [d!.div(x!)],
  Sqrt: ({ y: [y], dy: [d] }) => [d!.div(y!).mul(0.5)],
  Tanh: ({ y: [y], dy: [d] }) => [d!.mul(y!.mul(y!).neg().add(1))],
  Erf: ({ g, x: [x], dy: [d] }) => [d!.mul(g.op1('Exp', [x!.mul(x!).neg()])).mul(2 / Math.sqrt(Math.PI))],
  Sigmoid: ({ y: [y], dy: [d] }) => [d!.mul(y!).mul(y!.neg().add(1))],
  Relu: ({ g, x: [x], dy: [d] }) => [g.op1('Where', [gt(x!, zero(x!)), d!, zero(d!)])],
  Abs: ({ g, x: [x], dy: [d] }) => [d!.mul(g.op1('Sign', [x!]))],
  Reciprocal: ({ y: [y], dy: [d] }) => [d!.mul(y!).mul(y!).neg()],
  Identity: ({ dy: [d] }) => [d!],
  Sign: () => [null],
  Ceil: () => [null],
  Floor: () => [null],
};

for (const type of ['Neg', 'Exp', 'Log', 'Sqrt', 'Tanh', 'Erf', 'Sigmoid', 'Relu', 'Abs', 'Sign', 'Ceil',
  'Floor', 'Reciprocal', 'Identity', 'Not']) {
  defineOp({
    type,
    infer(inputs) {
      const [x] = present(inputs.slice(0, 1), type);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
    grad: UNARY_GRADS[type],
  });
}

defineOp({
  type: 'Cast',
  infer(inputs, attrs) {
    const [x] = present(inputs, 'Cast');
    return [{ dtype: attrs.to, shape: [...x!.shape] }];
  },
  // Between float types the gradient is cast back; nothing flows into integer or bool inputs.
  grad: ({ x: [x], dy: [d] }) => [['float32', 'float64', 'float16', 'bfloat16'].includes(x!.dtype) ? d!.cast(x!.dtype) : null],
});

defineOp({
  type: 'Where',
  infer(inputs) {
    const [c, a, b] = present(inputs, 'Where');
    if (c!.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${c!.dtype}`);
    return [{ dtype: sameDType([a!, b!], 'Where'), shape: broadcast([c!.shape, a!.shape, b!.shape], 'Where') }];
  },
  grad: ({ g, x: [c, a, b], dy: [d] }) => [
    null,
    reduceTo(g.op1('Where', [c!, d!, zero(d!)]), a!.shape),
    reduceTo(g.op1('Where', [c!, zero(d!), d!]), b!.shape),
  ],
});

/**
 * x + mask, for a mask of 0 (keep) and the dtype's lowest value (drop), which absorbs any x it is added to:
 * the values of masked_fill, but one Add in ONNX, which ONNX Runtime runs on every thread (its Where runs on
 * one). The gradient, as masked_fill's, reaches x only where the mask is 0.
 */
defineOp({
  type: 'AddMask',
  onnxType: 'Add',
  infer(inputs) {
    const xs = present(inputs, 'AddMask');
    return [{ dtype: sameDType(xs, 'AddMask'), shape: broadcast(xs.map((x) => x.shape), 'AddMask') }];
  },
  grad: ({ g, x: [x, mask], dy: [d] }) => {
    const keep = g.op1('Cast', [g.op1('Equal', [mask!, zero(mask!)])], { to: d!.dtype });
    return [reduceTo(d!.mul(keep), x!.shape), null];
  },
});

defineOp({
  type: 'Clip',
  infer(inputs) {
    const x = inputs[0];
    if (!x) throw new Error('Clip: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  // As torch.clamp: the gradient passes where min <= x <= max (bounds included); none reaches the bounds.
  grad: ({ g, x: [x, lo, hi], dy: [d] }) => {
    let pass: Value | undefined;
    const both = (m: Value) => (pass ? g.op1('And', [pass, m]) : m);
    if (lo) pass = both(g.op1('GreaterOrEqual', [x!, lo]));
    if (hi) pass = both(g.op1('LessOrEqual', [x!, hi]));
    return [pass ? g.op1('Where', [pass, d!, zero(d!)]) : d!, null, null];
  },
});
