// Compiles a Graph to an ONNX ModelProto: only what the requested outputs need, weights as
// initializers (inference) or as graph inputs (training), external data for models over 2 GB.
import onnxProto from 'onnx-proto';
import type { DType, Tensor, WeightRegion } from '../tensor.ts';
import type { Graph } from '../graph/graph.ts';
import type { Attrs, Node, Value } from '../graph/value.ts';
import { lowered, type Emitted } from './lowering.ts';
import { tensorByteLength, tensorChunks } from '../io/chunks.ts';

const { onnx } = onnxProto;

export const OPSET = 18;
const ONNX_DTYPE: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16,
};
/** Attributes whose numbers are floats even when they happen to be whole. */
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'lambd', 'bias']);
/** Protobuf messages cannot exceed 2 GB; above this many weight bytes they go to a side file. */
const EXTERNAL_THRESHOLD = 1.5 * 2 ** 30;

export interface EmitOptions {
  /** Graph outputs by name. */
  outputs: Record<string, Value>;
  /** 'initializers' (default) bakes weights in; 'inputs' makes each param a graph input of its name. */
  paramsAs?: 'initializers' | 'inputs';
  name?: string;
  /** Weight bytes above which weights go to external data (default 1.5 GiB, under protobuf's 2 GB limit). */
  externalAbove?: number;
  /** The external data file's name as the model records it (default 'model.onnx_data'). */
  externalLocation?: string;
  /** Names for the symbolic dims in the model's inputs and outputs (e.g. batch -> batch_size). */
  dimNames?: Record<string, string>;
  /**
   * Asked of every weight: where its bytes still lie in a file. Those weights become external data that
   * points into their own files by file name (listed in `weightFiles`); the caller tells ONNX Runtime
   * their folder. Saves reading them into JS and copying them into the protobuf.
   */
  weightRegion?: WeightRegion;
  /**
   * Emit ONNX Runtime's contrib ops where they save memory or time (src/runtime/lowering.ts). Sessions do;
   * `deberta export` does not, so exported models stay standard ONNX for any runtime.
   */
  onnxRuntimeOps?: boolean;
  /**
   * Values given as initializers instead of being computed from their producers (constants already
   * folded: see `constantFrontier`); what only they needed is left out.
   */
  constants?: Map<Value, Tensor>;
}

export interface EmittedModel {
  /** The encoded ModelProto. */
  model: Uint8Array;
  /**
   * Large models: weights kept outside the protobuf, in a file the model names (`location`). `chunks`
   * yields the file's bytes in order, reading each weight only as its turn comes (a weight still in its
   * checkpoint file, or converted from float16, is read or converted piece by piece): write them out one
   * by one rather than collecting them.
   */
  externalData?: { location: string; chunks: Iterable<Uint8Array>; size: number };
  /** With `weightRegion`: the file names the external data refers to -> the files' paths. */
  weightFiles?: Record<string, string>;
  inputNames: string[];
  outputNames: string[];
}

/** A file path's folder (with its trailing separator, or '' for a bare name) and file name; '/' or '\\'. */
export function splitPath(path: string): { folder: string; name: string } {
  const cut = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1;
  return { folder: path.slice(0, cut), name: path.slice(cut) };
}

function bytesOf(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function valueInfo(name: string, v: Value, dimNames: Record<string, string> = {}) {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_DTYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d.startsWith('?') ? {} : { dimParam: dimNames[d] ?? d })) },
      },
    },
  };
}

function tensorProto(name: string, t: Tensor) {
  return { name, dims: t.dims, dataType: ONNX_DTYPE[t.dtype], rawData: bytesOf(t) };
}

function attribute(name: string, value: NonNullable<Attrs[string]>) {
  const A = onnx.AttributeProto.AttributeType;
  if (name === 'to' && typeof value === 'string') return { name, type: A.INT, i: ONNX_DTYPE[value as DType] };
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if (typeof value === 'number') {
    return FLOAT_ATTRS.has(name) || !Number.isInteger(value) ? { name, type: A.FLOAT, f: value } : { name, type: A.INT, i: value };
  }
  return { name, type: A.TENSOR, t: tensorProto(name, value) };
}

/** Everything the outputs depend on, in graph (hence topological) order; `given` values count as leaves. */
function reachable(outputs: Value[], emitted: (n: Node) => Emitted, given?: Map<Value, Tensor>): { nodes: Node[]; leaves: Value[] } {
  const seenNodes = new Set<Node>();
  const leaves = new Set<Value>();
  const stack = [...outputs];
  while (stack.length) {
    const v = stack.pop()!;
    if (!v.producer || given?.has(v)) { leaves.add(v); continue; }
    if (seenNodes.has(v.producer)) continue;
    seenNodes.add(v.producer);
    for (const x of emitted(v.producer).inputs) if (x) stack.push(x);
  }
  const nodes = [...seenNodes].sort((a, b) => a.id - b.id);
  return { nodes, leaves: [...leaves].sort((a, b) => a.id - b.id) };
}

/** Which values are input-independent, and how nodes are emitted, for a graph emitted with `opts`. */
function emission(opts: Pick<EmitOptions, 'paramsAs' | 'onnxRuntimeOps'>) {
  const paramsAsInputs = opts.paramsAs === 'inputs';
  const emitted = new Map<Node, Emitted>();
  const constant = new Map<Value, boolean>();
  const isConstant = (v: Value): boolean => {
    let c = constant.get(v);
    if (c === undefined) {
      c = v.producer ? v.producer.inputs.every((x) => !x || isConstant(x)) : v.kind === 'const' || (v.kind === 'param' && !paramsAsInputs);
      constant.set(v, c);
    }
    return c;
  };
  const emittedOf = (n: Node) => { let e = emitted.get(n); if (!e) emitted.set(n, e = lowered(n, !paramsAsInputs && opts.onnxRuntimeOps === true, isConstant)); return e; };
  return { isConstant, emittedOf };
}

/**
 * The computed values that do not depend on the inputs and that a node depending on the inputs (or an
 * output) uses: what ONNX Runtime's constant folding would compute at load (relative-position
 * projections and the like). Computed once and given back through `constants`, they need no folding
 * in each session that loads the model.
 */
export function constantFrontier(outputs: Value[], opts: Pick<EmitOptions, 'paramsAs' | 'onnxRuntimeOps'>): Value[] {
  const { isConstant, emittedOf } = emission(opts);
  const { nodes } = reachable(outputs, emittedOf);
  const frontier = new Set<Value>();
  for (const n of nodes) {
    if (n.outputs.every((o) => isConstant(o))) continue;
    for (const x of emittedOf(n).inputs) if (x?.producer && isConstant(x)) frontier.add(x);
  }
  for (const v of outputs) if (v.producer && isConstant(v)) frontier.add(v);
  return [...frontier].sort((a, b) => a.id - b.id);
}

export function emitOnnx(g: Graph, opts: EmitOptions): EmittedModel {
  const paramsAsInputs = opts.paramsAs === 'inputs';
  const outs = Object.entries(opts.outputs);
  const { emittedOf } = emission(opts);
  const given = opts.constants;
  const { nodes, leaves } = reachable(outs.map(([, v]) => v), emittedOf, given);
  const names = new Map<Value, string>();
  const nameOf = (v: Value): string => {
    let n = names.get(v);
    if (!n) {
      n = v.kind === 'input' || v.kind === 'param' ? v.name! : v.kind === 'const' ? `const_${v.id}` : given?.has(v) ? `folded_${v.id}` : `${v.producer!.type}_${v.id}`;
      names.set(v, n);
    }
    return n;
  };

  // A node's output that is a graph output (once) carries the output's name: no Identity copy after it
  // (ONNX Runtime keeps such copies when the value is also read inside the graph).
  const emittedNodes = new Set(nodes);
  const outputCount = new Map<Value, number>();
  for (const [, v] of outs) outputCount.set(v, (outputCount.get(v) ?? 0) + 1);
  for (const [name, v] of outs) {
    if (v.kind === 'node' && outputCount.get(v) === 1 && !given?.has(v) && emittedNodes.has(v.producer!)) names.set(v, name);
  }

  const inputs: ReturnType<typeof valueInfo>[] = [];
  const initializers: Array<{ name: string; t: Tensor }> = [];
  for (const v of g.inputs) if (leaves.includes(v)) inputs.push(valueInfo(nameOf(v), v, opts.dimNames));
  for (const v of leaves) {
    const folded = given?.get(v);
    if (folded) initializers.push({ name: nameOf(v), t: folded });
    else if (v.kind === 'param' && paramsAsInputs) inputs.push(valueInfo(nameOf(v), v));
    else if (v.kind === 'param' || v.kind === 'const') {
      if (!v.constValue) throw new Error(`emit: ${v.kind} ${nameOf(v)} has no value`);
      initializers.push({ name: nameOf(v), t: v.constValue });
    }
  }

  const nodeProtos = nodes.map((n) => {
    const e = emittedOf(n);
    return {
      opType: e.opType,
      domain: e.domain,
      name: `${n.type}_${n.id}`,
      input: e.inputs.map((v) => (v ? nameOf(v) : '')),
      output: n.outputs.map(nameOf),
      attribute: Object.entries(e.attrs).flatMap(([k, a]) => (a === undefined ? [] : [attribute(k, a)])),
    };
  });
  const outputs = outs.map(([name, v]) => {
    if (nameOf(v) !== name) nodeProtos.push({ opType: 'Identity', domain: '', name: `out_${name}`, input: [nameOf(v)], output: [name], attribute: [] });
    return valueInfo(name, v, opts.dimNames);
  });

  const inMemory = initializers.filter((i) => !opts.weightRegion?.(i.t));
  const totalBytes = inMemory.reduce((s, i) => s + tensorByteLength(i.t), 0);
  const external = totalBytes > (opts.externalAbove ?? EXTERNAL_THRESHOLD);
  const location = opts.externalLocation ?? 'model.onnx_data';
  const externalTensors: Tensor[] = [];
  let offset = 0;
  const weightFiles = new Map<string, string>(); // path -> location
  const externalEntry = (name: string, t: Tensor, where: string, at: number, length: number) => ({
    name, dims: t.dims, dataType: ONNX_DTYPE[t.dtype],
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: where },
      { key: 'offset', value: String(at) },
      { key: 'length', value: String(length) },
    ],
  });
  const initializerProtos = initializers.map(({ name, t }) => {
    const region = opts.weightRegion?.(t);
    if (region) {
      const where = splitPath(region.path).name;
      weightFiles.set(region.path, where);
      return externalEntry(name, t, where, region.offset, region.length);
    }
    const length = tensorByteLength(t);
    if (!external || length < 1024) return tensorProto(name, t);
    externalTensors.push(t);
    const entry = externalEntry(name, t, location, offset, length);
    offset += length;
    return entry;
  });

  const usesContrib = nodes.some((n) => emittedOf(n).domain === 'com.microsoft');
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'deberta-ts',
    opsetImport: [{ domain: '', version: OPSET }, ...(usesContrib ? [{ domain: 'com.microsoft', version: 1 }] : [])],
    graph: { name: opts.name ?? 'deberta', node: nodeProtos, input: inputs, output: outputs, initializer: initializerProtos },
  });
  const encoded = onnx.ModelProto.encode(model).finish();
  const result: EmittedModel = { model: encoded, inputNames: inputs.map((i) => i.name), outputNames: outs.map(([n]) => n) };
  if (weightFiles.size) result.weightFiles = Object.fromEntries([...weightFiles].map(([path, where]) => [where, path]));
  if (!external) return result;
  const chunks = { *[Symbol.iterator]() { for (const t of externalTensors) yield* tensorChunks(t); } };
  return { ...result, externalData: { location, chunks, size: offset } };
}
