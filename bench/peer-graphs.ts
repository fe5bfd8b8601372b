// Variants of the peer graph that the benchmark needs and that were not exported as files:
//
//  - `tokenClassificationPeer`: the sequence-classification export with its pooler and classifier cut off and a
//    per-token classifier put on the last hidden state, as torch's exporter writes nn.Linear on a 3-D input
//    (MatMul with the [in, out] weight, then Add of the bias). It reuses `classifier.weight` / `.bias` (the
//    pooler's width equals the hidden size in these shapes), so this project's token classifier is built
//    from the same tensors.
//  - `quantizeDynamicPeer`: the int8 model transformers.js publishes as `onnx/model_quantized.onnx`, made the
//    way its conversion script makes it (scripts/quantize.py, mode q8: onnxruntime.quantization's
//    ONNXQuantizer in IntegerOps mode, static=False, per_channel and reduce_range off, weight type QInt8 —
//    QUInt8 only for graphs with Conv or attention contrib ops, which DeBERTa-v3 has not —, activations
//    QUInt8, op types = IntegerOpsRegistry (MatMul, Gather, Transpose, Conv, Attention, LSTM,
//    EmbedLayerNormalization), extra options EnableSubgraph and MatMulConstBOnly). The Python tool is not
//    available here, so its steps are replayed on the ONNX protobuf; docs/perf.md lists them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { Peer } from './peer-weights.ts';

const { onnx } = onnxProto;
type Model = onnxProto.onnx.ModelProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;
const DT = onnx.TensorProto.DataType;

/** The peer's model with every initializer's bytes inline (model.onnx_data read in). */
export function loadPeerModel(peer: Peer): Model {
  const model = onnx.ModelProto.decode(readFileSync(peer.onnxPath));
  const data = readFileSync(join(peer.dir, 'model.onnx_data'));
  for (const init of model.graph!.initializer!) {
    if (init.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const kv = Object.fromEntries(init.externalData!.map((e) => [e.key!, e.value!]));
    const offset = Number(kv.offset ?? 0);
    const length = Number(kv.length);
    init.rawData = new Uint8Array(data.buffer, data.byteOffset + offset, length);
    init.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    init.externalData = [];
  }
  return model;
}

/** Writes a model to a fresh temporary folder; `remove` deletes it. */
export function writeTempModel(model: Model, tag: string): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `deberta-bench-${tag}-`));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function floats(t: TensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new Error(`initializer ${t.name}: float32 expected, got data type ${t.dataType}`);
  const n = (t.dims ?? []).reduce((a, d) => a * Number(d), 1);
  if (t.rawData?.length) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, n);
  }
  return Float32Array.from(t.floatData ?? []);
}

function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  return onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
}

function transpose2d(x: Float32Array, r: number, c: number): Float32Array {
  const y = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) y[j * r + i] = x[i * c + j]!;
  return y;
}

const node = (opType: string, input: string[], output: string[], name: string, attribute: onnxProto.onnx.IAttributeProto[] = []): NodeProto =>
  onnx.NodeProto.create({ opType, input, output, name, attribute });

/**
 * The sequence classifier turned into a token classifier: the pooler's input (the last LayerNorm's output,
 * [batch, sequence, hidden]) feeds MatMul(classifier.weightᵀ) + Add(classifier.bias), named `logits`.
 */
export function tokenClassificationPeer(seqcls: Model): Model {
  const model = onnx.ModelProto.decode(onnx.ModelProto.encode(seqcls).finish());
  const g = model.graph!;
  const pool = g.node!.find((n) => n.name === '/pooler/Gather');
  if (!pool) throw new Error('peer graph: no /pooler/Gather node (the first-token pooling) to cut at');
  const last = pool.input![0]!;
  g.node = g.node!.filter((n) => !/^\/(pooler|classifier)\//.test(n.name ?? ''));
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const w = inits.get('classifier.weight');
  if (!w || !inits.get('classifier.bias')) throw new Error('peer graph: classifier.weight / classifier.bias missing');
  const [labels, hidden] = w.dims!.map(Number) as [number, number];
  g.initializer = g.initializer!.filter((t) => !t.name!.startsWith('pooler.') && t.name !== 'classifier.weight');
  g.initializer.push(floatTensor('onnx::MatMul_classifier', [hidden, labels], transpose2d(floats(w), labels, hidden)));
  g.node.push(node('MatMul', [last, 'onnx::MatMul_classifier'], ['/classifier/MatMul_output_0'], '/classifier/MatMul'));
  g.node.push(node('Add', ['classifier.bias', '/classifier/MatMul_output_0'], ['logits'], '/classifier/Add'));
  const dim = (p: string) => onnx.TensorShapeProto.Dimension.create({ dimParam: p });
  g.output = [onnx.ValueInfoProto.create({
    name: 'logits',
    type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: DT.FLOAT, shape: onnx.TensorShapeProto.create({ dim: [dim('batch_size'), dim('sequence_length'), onnx.TensorShapeProto.Dimension.create({ dimValue: labels })] }) }) }),
  })];
  return model;
}

/** numpy's round(): half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * quantize_data for a QInt8 weight, symmetric (ONNX Runtime's default for signed weights), per tensor:
 * rmin = min(min(w), 0), rmax = max(max(w), 0), absmax = max(|rmin|, |rmax|); qmin, qmax = −127, 127
 * (symmetric int8); scale = float32((2·absmax) / 254) computed in float64; zero point round((qmin + qmax) / 2)
 * = 0; q = clip(round_half_even(float32(w / scale)) + 0, −127, 127). A zero tensor gets scale 1.
 */
export function quantizeInt8PerTensor(w: Float32Array): { q: Int8Array; scale: number } {
  let lo = 0;
  let hi = 0;
  for (const x of w) { if (x < lo) lo = x; if (x > hi) hi = x; }
  const absmax = Math.max(Math.abs(lo), Math.abs(hi));
  let scale = Math.fround((2 * absmax) / 254);
  if (scale < 1.1754943508222875e-38) scale = 1; // numpy.finfo(float32).tiny
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(w[i]! / scale))));
  return { q, scale };
}

const attr = (n: NodeProto, name: string) => n.attribute?.find((a) => a.name === name);

/**
 * ONNX Runtime's dynamic quantisation as transformers.js' q8 mode runs it, on the main graph:
 *  1. replace_gemm_with_matmul: Gemm(alpha 1, beta 1, transA 0) → MatMul (+ Add of C, named `<gemm>_Add`);
 *     with transB 1 the initializer B is replaced by its transpose under the same name.
 *  2. MatMul whose B is an initializer (MatMulConstBOnly) → DynamicQuantizeLinear(A) (uint8, one per distinct
 *     activation, `<A>_QuantizeLinear` → `<A>_quantized`, `<A>_scale`, `<A>_zero_point`), B quantised per
 *     tensor to int8 (`<B>_quantized`, `<B>_scale`, `<B>_zero_point` = 0), MatMulInteger(A_q, B_q, A_zp, B_zp)
 *     → Cast(float) → Mul by Mul(A_scale, B_scale) (`<matmul>_quant_scales_mul`), writing the MatMul's output.
 *  3. Gather whose data is a float initializer (the word embeddings) → Gather of its int8 per-tensor
 *     quantisation, then DequantizeLinear back to the original output name.
 *  4. Transpose (Direct8BitOp) changes only inputs already quantised: none here (every quantised product
 *     ends in float). Quantised float initializers no longer used are dropped.
 * Subgraphs (If branches) are checked to hold nothing of the above.
 */
export function quantizeDynamicPeer(fp32: Model): { model: Model; matmuls: number; gathers: number } {
  const model = onnx.ModelProto.decode(onnx.ModelProto.encode(fp32).finish());
  const g = model.graph!;
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const isFloatInit = (name: string | undefined) => name !== undefined && inits.get(name)?.dataType === DT.FLOAT;

  // 1. Gemm → MatMul (+ Add).
  const afterGemm: NodeProto[] = [];
  for (const n of g.node!) {
    const get = (k: string, d: number) => { const a = attr(n, k); return a ? (a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f! : Number(a.i)) : d; };
    if (n.opType !== 'Gemm' || get('alpha', 1) !== 1 || get('beta', 1) !== 1 || get('transA', 0) !== 0) { afterGemm.push(n); continue; }
    const b = n.input![1]!;
    let inputB = b;
    if (get('transB', 0) === 1) {
      const B = inits.get(b);
      if (B) {
        const [r, c] = B.dims!.map(Number) as [number, number];
        const t = floatTensor(b, [c, r], transpose2d(floats(B), r, c));
        inits.set(b, t);
      } else {
        inputB = `${b}_Transposed`;
        afterGemm.push(node('Transpose', [b], [inputB], n.name ? `${n.name}_Transpose` : ''));
      }
    }
    const hasC = n.input!.length > 2;
    afterGemm.push(node('MatMul', [n.input![0]!, inputB], [n.output![0]! + (hasC ? '_MatMul' : '')], n.name ? `${n.name}_MatMul` : ''));
    if (hasC) afterGemm.push(node('Add', [`${n.output![0]}_MatMul`, n.input![2]!], [n.output![0]!], n.name ? `${n.name}_Add` : ''));
  }

  // 2 and 3.
  const out: NodeProto[] = [];
  const newInits: TensorProto[] = [];
  const quantizedWeights = new Map<string, { q: string; scale: string; zp: string }>();
  const quantizeWeight = (name: string) => {
    let qw = quantizedWeights.get(name);
    if (qw) return qw;
    const t = inits.get(name)!;
    const { q, scale } = quantizeInt8PerTensor(floats(t));
    qw = { q: `${name}_quantized`, scale: `${name}_scale`, zp: `${name}_zero_point` };
    newInits.push(onnx.TensorProto.create({ name: qw.q, dims: t.dims, dataType: DT.INT8, rawData: new Uint8Array(q.buffer) }));
    newInits.push(floatTensor(qw.scale, [], Float32Array.of(scale)));
    newInits.push(onnx.TensorProto.create({ name: qw.zp, dims: [], dataType: DT.INT8, rawData: new Uint8Array(1) }));
    quantizedWeights.set(name, qw);
    return qw;
  };
  const dynamic = new Map<string, { q: string; scale: string; zp: string }>();
  let matmuls = 0;
  let gathers = 0;
  for (const n of afterGemm) {
    if (n.opType === 'MatMul' && isFloatInit(n.input![1]) && !isFloatInit(n.input![0])) {
      const a = n.input![0]!;
      let qa = dynamic.get(a);
      if (!qa) {
        qa = { q: `${a}_quantized`, scale: `${a}_scale`, zp: `${a}_zero_point` };
        out.push(node('DynamicQuantizeLinear', [a], [qa.q, qa.scale, qa.zp], `${a}_QuantizeLinear`));
        dynamic.set(a, qa);
      }
      const qb = quantizeWeight(n.input![1]!);
      const name = n.name ? `${n.name}_quant` : '';
      const y = n.output![0]!;
      const integer = `${y}_output_quantized`;
      out.push(node('MatMulInteger', [qa.q, qb.q, qa.zp, qb.zp], [integer], name));
      out.push(node('Cast', [integer], [`${integer}_cast_output`], `${integer}_cast`, [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DT.FLOAT })]));
      const scales = name ? `${name}_scales_mul` : `${qa.scale}_${qb.scale}_mul`;
      out.push(node('Mul', [qa.scale, qb.scale], [`${scales}:0`], scales));
      out.push(node('Mul', [`${integer}_cast_output`, `${scales}:0`], [y], name ? `${name}_output_scale_mul` : ''));
      matmuls++;
    } else if (n.opType === 'Gather' && isFloatInit(n.input![0])) {
      const qw = quantizeWeight(n.input![0]!);
      const y = n.output![0]!;
      out.push(node('Gather', [qw.q, n.input![1]!], [`${y}_quantized`], n.name!, n.attribute ?? []));
      out.push(node('DequantizeLinear', [`${y}_quantized`, qw.scale, qw.zp], [y], `${y}_DequantizeLinear`));
      gathers++;
    } else {
      out.push(n);
    }
  }
  // Subgraphs: nothing to quantise there (checked, not assumed).
  for (const n of out) {
    for (const a of n.attribute ?? []) {
      for (const sub of [a.g, ...(a.graphs ?? [])]) {
        for (const m of sub?.node ?? []) {
          if ((m.opType === 'MatMul' && isFloatInit(m.input![1])) || (m.opType === 'Gather' && isFloatInit(m.input![0])) || m.opType === 'Gemm') {
            throw new Error(`peer graph: subgraph node ${m.name} (${m.opType}) would be quantised; not replayed here`);
          }
        }
      }
    }
  }
  g.node = out;
  const used = new Set<string>();
  const mark = (nodes: NodeProto[]) => {
    for (const n of nodes) {
      for (const i of n.input ?? []) used.add(i);
      for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) mark(sub.node ?? []);
    }
  };
  mark(out);
  g.initializer = [...[...inits.values()].filter((t) => used.has(t.name!)), ...newInits];
  return { model, matmuls, gathers };
}
