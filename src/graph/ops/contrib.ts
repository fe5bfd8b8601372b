// ONNX Runtime contrib ops (domain com.microsoft) that fuse common transformer patterns.
import { reduceTo } from '../autodiff.ts';
import type { Value } from '../value.ts';
import { defineOp } from './registry.ts';

/** d/dz of exact GELU: Phi(z) + z * phi(z). */
function geluDerivative(z: Value): Value {
  const g = z.graph;
  const cdf = g.op1('Erf', [z.mul(Math.SQRT1_2)]).add(1).mul(0.5);
  const pdf = g.op1('Exp', [z.mul(z).mul(-0.5)]).mul(1 / Math.sqrt(2 * Math.PI));
  return cdf.add(z.mul(pdf));
}

defineOp({
  type: 'BiasGelu',
  domain: 'com.microsoft',
  infer([x]) {
    if (!x) throw new Error('BiasGelu: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  grad: ({ x: [x, b], dy: [d] }) => {
    const dz = d!.mul(geluDerivative(x!.add(b!)));
    return [reduceTo(dz, x!.shape), reduceTo(dz, b!.shape)];
  },
});

defineOp({
  type: 'Gelu',
  domain: 'com.microsoft',
  infer([x]) {
    if (!x) throw new Error('Gelu: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  grad: ({ x: [x], dy: [d] }) => [d!.mul(geluDerivative(x!))],
});

/** out = LayerNorm(input + skip + bias); the 4th output is the sum before normalising. */
defineOp({
  type: 'SkipLayerNormalization',
  domain: 'com.microsoft',
  infer([x]) {
    if (!x) throw new Error('SkipLayerNormalization: input is missing');
    const stat = [...x.shape.slice(0, -1), 1];
    return [
      { dtype: x.dtype, shape: [...x.shape] },
      { dtype: 'float32', shape: stat },
      { dtype: 'float32', shape: stat },
      { dtype: x.dtype, shape: [...x.shape] },
    ];
  },
});

/** int8 dynamic quantisation of the activations, times pre-quantised int8 weights. */
defineOp({
  type: 'DynamicQuantizeMatMul',
  domain: 'com.microsoft',
  infer([a, b]) {
    if (!a || !b) throw new Error('DynamicQuantizeMatMul: needs A and B');
    return [{ dtype: 'float32', shape: [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]!] }];
  },
});
