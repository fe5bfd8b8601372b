// The peer graphs (bench/peers/*/model.onnx, what transformers.js runs) and their weights under the
// Hugging Face names this project loads, so both sides of the benchmark compute with identical numbers.
//
// The exported graph keeps some initializers under their module names (embeddings, biases, LayerNorms,
// pooler, classifier), often behind Identity aliases because the exporter merged equal tensors. The linear
// layers' weights are anonymous (`onnx::MatMul_6471`, stored [in, out]); the MatMul node that consumes
// each one is named after its module (`/deberta/encoder/layer.0/attention/self/query_proj/MatMul`).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { parseDebertaConfig, type DebertaConfig } from '../src/models/deberta/config.ts';
import { tensor, type Tensor } from '../src/tensor.ts';

const { onnx } = onnxProto;
type TensorProto = onnxProto.onnx.ITensorProto;

export const PEERS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'peers');
export const SHAPES = ['v3-xsmall', 'v3-base'] as const;
export type ShapeName = (typeof SHAPES)[number];

export interface Peer {
  shape: ShapeName;
  dir: string;
  onnxPath: string;
  configJson: Record<string, unknown>;
  config: DebertaConfig;
  /** A probe input and the logits onnxruntime gave for it when the peer was made. */
  probe: { inputIds: number[][]; logits: number[][] };
}

export function peerDir(shape: ShapeName): string {
  return join(PEERS_DIR, `${shape}-shape`);
}

/** Writes model.onnx_data with bench/peers/regen_weights.mjs when it is missing or the wrong size. */
export function ensurePeerData(shape: ShapeName): void {
  const dir = peerDir(shape);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { external: { offset: number; length: number }[] };
  const size = Math.max(...manifest.external.map((t) => t.offset + t.length));
  const data = join(dir, 'model.onnx_data');
  if (existsSync(data) && statSync(data).size === size) return;
  const r = spawnSync(process.execPath, [join(PEERS_DIR, 'regen_weights.mjs'), dir], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`regen_weights.mjs failed for ${dir}`);
}

export function loadPeer(shape: ShapeName): Peer {
  ensurePeerData(shape);
  const dir = peerDir(shape);
  const configPath = join(dir, 'config.json');
  const configJson = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { probe_input_ids: number[][]; probe_logits: number[][] };
  return {
    shape, dir, onnxPath: join(dir, 'model.onnx'), configJson,
    config: parseDebertaConfig(configJson, configPath),
    probe: { inputIds: manifest.probe_input_ids, logits: manifest.probe_logits },
  };
}

/** The peer's weights under Hugging Face names, linear weights transposed back to [out, in]. */
export function peerWeights(peer: Peer): Map<string, Tensor> {
  const model = onnx.ModelProto.decode(readFileSync(peer.onnxPath));
  const initializers = model.graph?.initializer ?? [];
  const nodes = model.graph?.node ?? [];
  const stored = new Map<string, Tensor>();
  for (const init of initializers) stored.set(init.name!, readInitializer(init, peer.dir));

  // Identity aliases, followed to the stored tensor.
  const alias = new Map<string, string>();
  for (const n of nodes) if (n.opType === 'Identity') alias.set(n.output![0]!, n.input![0]!);
  const resolve = (name: string): Tensor | undefined => {
    for (let i = 0; i < 100 && !stored.has(name) && alias.has(name); i++) name = alias.get(name)!;
    return stored.get(name);
  };

  const out = new Map<string, Tensor>();
  const put = (name: string, t: Tensor, from: string) => {
    const had = out.get(name);
    if (had && !sameValues(had, t)) throw new Error(`${peer.onnxPath}: '${name}' from ${from} differs from an earlier tensor of that name`);
    out.set(name, t);
  };
  // Tensors that carry their module name (initializers or Identity outputs).
  for (const name of [...stored.keys(), ...alias.keys()]) {
    if (!/^(deberta|pooler|classifier)\./.test(name)) continue;
    put(name, resolve(name)!, name);
  }
  // Linear layers: MatMul with a constant [in, out] right operand; `query_proj_1` (the same module applied to
  // the relative embeddings) names the same weight, which `put` checks.
  for (const n of nodes) {
    const m = /^\/(.+)\/MatMul$/.exec(n.name ?? '');
    if (n.opType !== 'MatMul' || !m) continue;
    const w = resolve(n.input![1]!);
    if (!w) continue;
    const module = m[1]!.split('/').map((seg) => seg.replace(/_\d+$/, '')).join('.');
    put(`${module}.weight`, transpose2d(w), n.name!);
  }
  // Gemm (pooler, classifier) must keep transB = 1, i.e. the [out, in] layout the names already give.
  for (const n of nodes) {
    if (n.opType !== 'Gemm') continue;
    const transB = n.attribute!.find((a) => a.name === 'transB');
    if (!transB || Number(transB.i) !== 1) throw new Error(`${peer.onnxPath}: Gemm ${n.name} without transB=1`);
  }
  return out;
}

function readInitializer(t: TensorProto, dir: string): Tensor {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) throw new Error(`initializer ${t.name}: only float32 is expected`);
  const dims = t.dims!.map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const bytes = new Uint8Array(data.buffer);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    const kv = Object.fromEntries(t.externalData!.map((e) => [e.key!, e.value!]));
    const fd = openSync(join(dir, kv.location!), 'r');
    try {
      const got = readSync(fd, bytes, 0, bytes.length, Number(kv.offset ?? 0));
      if (got !== bytes.length) throw new Error(`initializer ${t.name}: short read from ${kv.location}`);
    } finally { closeSync(fd); }
  } else if (t.rawData?.length) {
    if (t.rawData.length !== bytes.length) throw new Error(`initializer ${t.name}: ${t.rawData.length} bytes for [${dims}]`);
    bytes.set(t.rawData);
  } else {
    data.set(t.floatData!);
  }
  return tensor('float32', dims, data);
}

function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.dims as [number, number];
  const src = t.data as Float32Array;
  const dst = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j]!;
  return tensor('float32', [c, r], dst);
}

function sameValues(a: Tensor, b: Tensor): boolean {
  if (a.dims.join() !== b.dims.join()) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

/** max |a − b| / max(1, max |ref|): the output-equality measure the benchmark prints. */
export function relMaxDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`outputs differ in size: ${a.length} vs ${ref.length}`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / scale;
}
