// Inference lowerings: how some patterns of graph ops go out to ONNX Runtime when the weights are baked
// into the model (not training inputs). Each returns the ONNX op a node is emitted as; the nodes it
// bypasses are dropped by the emitter when nothing else uses them. Training graphs emit the plain ops.
import type { Attrs, Node, Value } from '../graph/value.ts';
import { getOp } from '../graph/ops/registry.ts';
import { attrsIf } from '../graph/attrs.ts';

/** A node as emitted: its ONNX op, inputs and attributes. */
export interface Emitted { opType: string; domain: string; inputs: (Value | null)[]; attrs: Attrs }

const isWeight = (v: Value | null | undefined): v is Value => Boolean(v && !v.producer && (v.kind === 'param' || v.kind === 'const'));

/**
 * Linear layers, MatMul(x, Transpose(W)), go out as FusedMatMul(x, W, transB): ONNX Runtime then packs
 * W as stored instead of constant-folding a transposed copy first (half the weight memory at load, and
 * a faster load). A product of constants stays as it is: ONNX Runtime folds it once at load, and it
 * does not fold contrib ops. Float32 only (ONNX Runtime's FusedMatMul).
 */
function linearAsFusedMatMul(n: Node, isConstant: (v: Value) => boolean): Emitted | undefined {
  const x = n.inputs[0];
  if (n.type !== 'MatMul' || x?.dtype !== 'float32' || isConstant(x)) return undefined;
  const t = n.inputs[1]?.producer;
  const w = t?.inputs[0];
  if (attrsIf(t, 'Transpose')?.perm?.join() !== '1,0' || !isWeight(w)) return undefined;
  return { opType: 'FusedMatMul', domain: 'com.microsoft', inputs: [x, w], attrs: { transB: 1 } };
}

/** How node `n` is emitted. `bakedWeights`: params are initializers (inference), so the lowerings apply. */
export function lowered(n: Node, bakedWeights: boolean, isConstant: (v: Value) => boolean): Emitted {
  const plain = { opType: getOp(n.type).onnxType ?? n.type, domain: n.domain, inputs: n.inputs, attrs: n.attrs };
  if (!bakedWeights) return plain;
  return linearAsFusedMatMul(n, isConstant) ?? plain;
}
