// The weights of a checkpoint exported to ONNX by transformers' torch exporter (Optimum), the form in which
// transformers.js repositories ship a model (`onnx/model.onnx`, beside config.json and the tokenizer), under
// the Hugging Face names the checkpoint had. The exporter keeps most tensors under their module names
// (embeddings, biases, LayerNorms, heads), often behind Identity nodes where it merged equal tensors; the
// linear layers' weights are anonymous (`onnx::MatMul_6471`, stored [in, out]) and named by the MatMul node
// that reads them (`/deberta/encoder/layer.0/attention/self/query_proj/MatMul`). Weights may lie in the model
// file or in external data files beside it.
import onnxProto from 'onnx-proto';
import { tensor, type Tensor } from '../tensor.ts';
import type { ModelFiles } from './files.ts';

const { onnx } = onnxProto;
type TensorProto = onnxProto.onnx.ITensorProto;
const DataType = onnx.TensorProto.DataType;

// A parameter name as transformers writes it: dotted module path, last part `weight` or `bias` and the like.
const PARAMETER = /^[A-Za-z_]\w*(\.\w+)+$/;

/** The folder part of a file name inside the checkpoint (`onnx/` for `onnx/model.onnx`). */
const folderOf = (name: string) => name.slice(0, name.lastIndexOf('/') + 1);

/** The external data files a model's initializers point into, as names inside the checkpoint. */
export function onnxExternalFiles(bytes: Uint8Array, name: string): string[] {
  const model = decode(bytes, name);
  const out = new Set<string>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) out.add(externalName(t, name, name));
  }
  return [...out];
}

/** Every float weight of the exported model `name`, by Hugging Face name; linear weights back to [out, in]. */
export async function readOnnxWeights(files: ModelFiles, name: string): Promise<Map<string, Tensor>> {
  const path = files.path(name);
  const model = decode(await files.read(name), path);
  const graph = model.graph;
  if (!graph) throw new Error(`${path}: the ONNX model has no graph`);

  // External data: each tensor's bytes read on their own where the source can, else the file read once.
  const external = new Map<string, Uint8Array>();
  const readExternal = async (file: string, offset: number, length: number): Promise<Uint8Array> => {
    if (files.readRange) return files.readRange(file, offset, length);
    if (!external.has(file)) external.set(file, await files.read(file));
    const whole = external.get(file)!;
    if (offset + length > whole.length) throw new Error(`${files.path(file)}: ${whole.length} bytes, too short for ${length} bytes at offset ${offset}`);
    return whole.subarray(offset, offset + length);
  };
  const stored = new Map<string, Tensor>();
  for (const init of graph.initializer ?? []) {
    if (init.dataType !== DataType.FLOAT) continue; // index buffers, shapes and other constants are not weights
    let data: Uint8Array | undefined;
    if (init.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const kv = Object.fromEntries((init.externalData ?? []).map((e) => [e.key, e.value]));
      const length = kv.length === undefined ? 4 * (init.dims ?? []).reduce((a: number, d) => a * Number(d), 1) : Number(kv.length);
      const file = externalName(init, name, path);
      data = await readExternal(file, Number(kv.offset ?? 0), length).catch((err: Error) => {
        throw new Error(`${path}: initializer '${init.name}': ${err.message}`);
      });
    } else if (init.rawData?.length) {
      data = init.rawData;
    }
    stored.set(init.name!, floatTensor(init, data, path));
  }

  // Identity aliases, followed to the stored tensor.
  const alias = new Map<string, string>();
  for (const n of graph.node ?? []) if (n.opType === 'Identity') alias.set(n.output![0]!, n.input![0]!);
  const resolve = (value: string): Tensor | undefined => {
    for (let i = 0; i < 1000 && !stored.has(value) && alias.has(value); i++) value = alias.get(value)!;
    return stored.get(value);
  };

  const out = new Map<string, Tensor>();
  const put = (key: string, t: Tensor, from: string) => {
    const had = out.get(key);
    if (had && !sameValues(had, t)) throw new Error(`${path}: '${key}' from ${from} differs from an earlier tensor of that name`);
    out.set(key, t);
  };
  // Tensors that carry their module name (initializers, or Identity outputs).
  for (const key of [...stored.keys(), ...alias.keys()]) {
    const t = PARAMETER.test(key) ? resolve(key) : undefined;
    if (t) put(key, t, key);
  }
  // Linear layers read as MatMul(x, W[in, out]) or Gemm: named by the node's module path, `_1` suffixes (the
  // same module applied again, as the relative embeddings go through the query and key projections) dropped.
  for (const n of graph.node ?? []) {
    const m = /^\/(.+)\/(MatMul|Gemm)(_\d+)?$/.exec(n.name ?? '');
    if (!m || n.opType !== m[2]) continue;
    const module = m[1]!.split('/').map((seg) => seg.replace(/_\d+$/, '')).join('.');
    const w = resolve(n.input![1]!);
    if (w?.dims.length !== 2 || PARAMETER.test(n.input![1]!)) continue;
    const transB = n.opType === 'Gemm' && Number(n.attribute?.find((a) => a.name === 'transB')?.i ?? 0) === 1;
    put(`${module}.weight`, transB ? w : transpose2d(w), n.name!);
    const bias = n.opType === 'Gemm' && n.input![2] ? resolve(n.input![2]) : undefined;
    if (bias && !PARAMETER.test(n.input![2]!)) put(`${module}.bias`, bias, n.name!);
  }
  return out;
}

function decode(bytes: Uint8Array, path: string): onnxProto.onnx.ModelProto {
  try {
    return onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new Error(`${path}: not a readable ONNX model (${(err as Error).message})`);
  }
}

/** The checkpoint-relative name of an initializer's external data file (beside the model file `name`). */
function externalName(t: TensorProto, name: string, path: string): string {
  const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
  if (!location) throw new Error(`${path}: initializer '${t.name}' is stored externally but names no location`);
  if (location.split(/[\\/]/).includes('..') || /^([\\/]|[A-Za-z]:)/.test(location)) {
    throw new Error(`${path}: initializer '${t.name}' points outside the checkpoint folder (${location})`);
  }
  return `${folderOf(name)}${location}`;
}

function floatTensor(t: TensorProto, raw: Uint8Array | undefined, path: string): Tensor {
  const dims = (t.dims ?? []).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  if (raw) {
    if (raw.length !== n * 4) throw new Error(`${path}: initializer '${t.name}' has ${raw.length} bytes for dims [${dims.join(', ')}]`);
    // Bytes read for this tensor alone become its data; a part of a bigger buffer (the model file) is copied,
    // as it need not be 4-byte aligned and should not keep the buffer alive.
    if (raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength) return tensor('float32', dims, new Float32Array(raw.buffer));
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(raw);
    return tensor('float32', dims, data);
  }
  if ((t.floatData?.length ?? 0) !== n) throw new Error(`${path}: initializer '${t.name}' has ${t.floatData?.length ?? 0} values for dims [${dims.join(', ')}]`);
  return tensor('float32', dims, Float32Array.from(t.floatData!));
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
