// ONNX Runtime contrib ops (domain com.microsoft) that fuse common transformer patterns.
import { defineOp } from './registry.ts';

defineOp({
  type: 'BiasGelu',
  domain: 'com.microsoft',
  infer([x]) {
    if (!x) throw new Error('BiasGelu: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
});

defineOp({
  type: 'Gelu',
  domain: 'com.microsoft',
  infer([x]) {
    if (!x) throw new Error('Gelu: input is missing');
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
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
