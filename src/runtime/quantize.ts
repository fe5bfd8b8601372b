// Dynamic int8 quantisation for inference: every MatMul whose right operand is a constant 2-D weight
// (a param or constant, or one transposed, as F.linear writes it) gets int8 weights with one scale per
// output column, and activations quantised to uint8 at run time. Two forms:
//  - 'MatMulInteger' (default): standard ONNX ops, DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul by
//    (activation scale x weight scales), the pattern onnxruntime's quantize_dynamic writes and ONNX Runtime
//    fuses into one kernel; it runs wherever ONNX runs (onnxruntime-web and transformers.js included).
//  - 'DynamicQuantizeMatMul': ONNX Runtime's contrib op of the same maths, one node per product.
// The rewrite copies the graph; the original stays as it was.
import { Graph } from '../graph/graph.ts';
import type { Value } from '../graph/value.ts';
import { numel, tensor, type Tensor } from '../tensor.ts';
import { attrsIf } from '../graph/attrs.ts';

export interface QuantizeOptions {
  op?: 'MatMulInteger' | 'DynamicQuantizeMatMul';
  /** Weights with fewer elements stay float32 (default 0: all). */
  minElements?: number;
}

export interface QuantizedGraph {
  graph: Graph;
  outputs: Record<string, Value>;
  /** Names of the weights now held in int8. */
  quantized: string[];
}

/** Symmetric per-column int8: W [K, N] ~= q [K, N] * scale [N], q in [-127, 127]. */
export function quantizeWeight(w: Float32Array, k: number, n: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) scale[j] = Math.max(scale[j]!, Math.abs(w[i * n + j]!));
  for (let j = 0; j < n; j++) scale[j] = scale[j]! > 0 ? scale[j]! / 127 : 1;
  const q = new Int8Array(k * n);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < n; j++) q[i * n + j] = Math.max(-127, Math.min(127, Math.round(w[i * n + j]! / scale[j]!)));
  }
  return { q, scale };
}

const isWeight = (v: Value | null | undefined): boolean =>
  Boolean(v && (v.kind === 'param' || v.kind === 'const') && v.dtype === 'float32' && v.rank === 2 && v.constValue && numel(v.constValue.dims) > 0);

/** The constant [K, N] right operand of a MatMul, with its source weight, or undefined. */
function constantRhs(b: Value): { source: Value; transposed: boolean } | undefined {
  if (isWeight(b)) return { source: b, transposed: false };
  const t = b.producer;
  if (t && isWeight(t.inputs[0]) && attrsIf(t, 'Transpose')?.perm?.join() === '1,0') {
    return { source: t.inputs[0]!, transposed: true };
  }
  return undefined;
}

function weightKN(source: Tensor, transposed: boolean): { w: Float32Array; k: number; n: number } {
  const [r, c] = source.dims as [number, number];
  const data = source.data as Float32Array;
  if (!transposed) return { w: data, k: r, n: c };
  const w = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) w[j * r + i] = data[i * c + j]!;
  return { w, k: c, n: r };
}

/** A copy of the graph computing `outputs` with its constant-weight MatMuls in dynamic int8. */
export function quantizeGraphForInference(graph: Graph, outputs: Record<string, Value>, opts: QuantizeOptions = {}): QuantizedGraph {
  const form = opts.op ?? 'MatMulInteger';
  const minElements = opts.minElements ?? 0;
  const plan = (n: NonNullable<Value['producer']>) => {
    if (n.type !== 'MatMul' || n.inputs[0]?.dtype !== 'float32') return undefined;
    const rhs = constantRhs(n.inputs[1]!);
    return rhs && numel(rhs.source.constValue!.dims) >= minElements ? rhs : undefined;
  };

  // What the outputs need, not walking into the weights of products about to be quantised.
  const needed = new Set<NonNullable<Value['producer']>>();
  const stack = Object.values(outputs);
  while (stack.length) {
    const n = stack.pop()!.producer;
    if (!n || needed.has(n)) continue;
    needed.add(n);
    stack.push(...(plan(n) ? [n.inputs[0]!] : n.inputs.filter((v): v is Value => v !== null)));
  }

  const g = new Graph();
  const map = new Map<Value, Value>();
  for (const v of graph.inputs) map.set(v, g.input(v.name!, v.dtype, [...v.shape]));
  const get = (v: Value): Value => {
    let m = map.get(v);
    if (!m) {
      if (v.kind === 'param') m = g.param(v.name!, v.constValue!);
      else if (v.kind === 'const') m = g.constant(v.constValue!);
      else throw new Error(`quantize: value ${v.toString()} used before it is computed`);
      map.set(v, m);
    }
    return m;
  };

  const packed = new Map<Value, { q: Value; scale: Value }>(); // one int8 copy per source weight (shared keys)
  const quantized: string[] = [];
  for (const n of [...needed].sort((a, b) => a.id - b.id)) {
    const rhs = plan(n);
    if (!rhs) {
      const outs = g.op(n.type, n.inputs.map((v) => (v ? get(v) : null)), n.attrs, n.outputs.length);
      n.outputs.forEach((v, i) => map.set(v, outs[i]!));
      continue;
    }
    let w = packed.get(rhs.source);
    if (!w) {
      const { w: kn, k, n: cols } = weightKN(rhs.source.constValue!, rhs.transposed);
      const { q, scale } = quantizeWeight(kn, k, cols);
      const name = rhs.source.name ?? `const_${rhs.source.id}`;
      w = { q: g.param(`${name}.int8${rhs.transposed ? '_t' : ''}`, tensor('int8', [k, cols], q)), scale: g.param(`${name}.scale`, tensor('float32', [cols], scale)) };
      packed.set(rhs.source, w);
      quantized.push(name);
    }
    const a = get(n.inputs[0]!);
    let y: Value;
    if (form === 'DynamicQuantizeMatMul') {
      y = g.op1('DynamicQuantizeMatMul', [a, w.q, w.scale]);
    } else {
      const [aq, aScale, aZero] = g.op('DynamicQuantizeLinear', [a]) as [Value, Value, Value];
      y = g.op1('MatMulInteger', [aq, w.q, aZero, null]).cast('float32').mul(aScale.mul(w.scale));
    }
    map.set(n.outputs[0]!, y);
  }
  const out: Record<string, Value> = {};
  for (const [k, v] of Object.entries(outputs)) out[k] = get(v);
  return { graph: g, outputs: out, quantized };
}
