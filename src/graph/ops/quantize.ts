// Standard ONNX integer ops for dynamic int8 inference (src/runtime/quantize.ts rewrites MatMuls into them).
import type { Value } from '../value.ts';
import { matmulShape } from './linalg.ts';
import { defineOp } from './registry.ts';

/** x -> (uint8 y, scalar scale, scalar uint8 zero point), the range taken from x at run time. */
defineOp({
  type: 'DynamicQuantizeLinear',
  infer([x]) {
    if (!x) throw new Error('DynamicQuantizeLinear: input is missing');
    if (x.dtype !== 'float32') throw new Error(`DynamicQuantizeLinear: expected float32, got ${x.dtype}`);
    return [{ dtype: 'uint8', shape: [...x.shape] }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }];
  },
});

const INT8 = new Set(['int8', 'uint8']);

/** (A - a_zero_point) @ (B - b_zero_point) in int32, for 8-bit A and B. */
defineOp({
  type: 'MatMulInteger',
  infer(inputs) {
    const [a, b] = inputs as (Value | null)[];
    if (!a || !b) throw new Error('MatMulInteger: needs A and B');
    if (!INT8.has(a.dtype) || !INT8.has(b.dtype)) throw new Error(`MatMulInteger: 8-bit operands expected, got ${a.dtype} and ${b.dtype}`);
    return [{ dtype: 'int32', shape: matmulShape(a.shape, b.shape, 'MatMulInteger') }];
  },
});
