// Elementwise ops: numpy broadcasting for the binary ones, same shape out for the unary ones.
import type { DType } from '../../tensor.ts';
import { broadcast } from '../shape-rules.ts';
import type { Value } from '../value.ts';
import { defineOp } from './registry.ts';

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

for (const type of ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min']) {
  defineOp({
    type,
    infer(inputs) {
      const xs = present(inputs, type);
      const dtype = type === 'Pow' ? xs[0]!.dtype : sameDType(xs, type);
      return [{ dtype, shape: broadcast(xs.map((x) => x.shape), type) }];
    },
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

for (const type of ['Neg', 'Exp', 'Log', 'Sqrt', 'Tanh', 'Erf', 'Sigmoid', 'Relu', 'Abs', 'Sign', 'Ceil',
  'Floor', 'Reciprocal', 'Identity', 'Not']) {
  defineOp({
    type,
    infer(inputs) {
      const [x] = present(inputs.slice(0, 1), type);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
  });
}

defineOp({
  type: 'Cast',
  infer(inputs, attrs) {
    const [x] = present(inputs, 'Cast');
    return [{ dtype: attrs.to as DType, shape: [...x!.shape] }];
  },
});

defineOp({
  type: 'Where',
  infer(inputs) {
    const [c, a, b] = present(inputs, 'Where');
    if (c!.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${c!.dtype}`);
    return [{ dtype: sameDType([a!, b!], 'Where'), shape: broadcast([c!.shape, a!.shape, b!.shape], 'Where') }];
  },
});

defineOp({
  type: 'Clip',
  infer(inputs) {
    const x = inputs[0];
    if (!x) throw new Error('Clip: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
});
