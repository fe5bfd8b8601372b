// A Graph collects inputs, parameters, constants and op nodes; it is built by model code and then
// compiled (src/runtime/onnx-emit.ts) or differentiated (src/graph/autodiff.ts).
import { floatToHalf, tensor, type DType, type Tensor } from '../tensor.ts';
import { getOp } from './ops/registry.ts';
import { Node, Value, type Attrs, type Shape, type ValueKind } from './value.ts';
import type { AttrsOf } from './attrs.ts';
import './ops/index.ts';

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly params = new Map<string, Value>();
  readonly constants: Value[] = [];
  private nextId = 0;
  private nextSym = 0;
  private constCache = new Map<string, Value>();

  private newValue(dtype: DType, shape: Shape, kind: ValueKind, producer?: Node, index = 0, constValue?: Tensor, name?: string) {
    return new Value(this, this.nextId++, dtype, shape, kind, producer, index, constValue, name);
  }

  /** A fresh symbolic dim, for sizes known only at run time. */
  freshDim(): string { return `?${this.nextSym++}`; }

  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.inputs.some((v) => v.name === name)) throw new Error(`graph input '${name}' declared twice`);
    const v = this.newValue(dtype, shape, 'input', undefined, 0, undefined, name);
    this.inputs.push(v);
    return v;
  }

  /** A named weight. Compiled as an initializer for inference or as an input for training. */
  param(name: string, value: Tensor): Value {
    if (this.params.has(name)) throw new Error(`parameter '${name}' declared twice`);
    const v = this.newValue(value.dtype, [...value.dims], 'param', undefined, 0, value, name);
    this.params.set(name, v);
    return v;
  }

  constant(value: Tensor, cacheKey?: string): Value {
    if (cacheKey) {
      const hit = this.constCache.get(cacheKey);
      if (hit) return hit;
    }
    const v = this.newValue(value.dtype, [...value.dims], 'const', undefined, 0, value);
    this.constants.push(v);
    if (cacheKey) this.constCache.set(cacheKey, v);
    return v;
  }

  constInt64(values: readonly number[], dims: number[] = [values.length]): Value {
    const data = BigInt64Array.from(values, (x) => BigInt(x));
    return this.constant(tensor('int64', dims, data), `i64:${dims.join('x')}:${values.join(',')}`);
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    let data;
    if (dtype === 'float32') data = Float32Array.of(x);
    else if (dtype === 'float64') data = Float64Array.of(x);
    else if (dtype === 'float16') data = Uint16Array.of(floatToHalf(x));
    else if (dtype === 'int64') data = BigInt64Array.of(BigInt(x));
    else if (dtype === 'int32') data = Int32Array.of(x);
    else if (dtype === 'bool') data = Uint8Array.of(x ? 1 : 0);
    else throw new Error(`scalar: unsupported dtype ${dtype}`);
    return this.constant(tensor(dtype, [], data), `s:${dtype}:${x}`);
  }

  lift(x: Value | number, dtype: DType): Value {
    return typeof x === 'number' ? this.scalar(x, dtype) : x;
  }

  /** Apply an op; returns its outputs. `outputs` asks for more than the op's default count. */
  op<T extends string>(type: T, inputs: (Value | null)[], attrs?: AttrsOf<T>, outputs?: number): Value[];
  op(type: string, inputs: (Value | null)[], attrs: Attrs = {}, outputs?: number): Value[] {
    const def = getOp(type);
    for (const v of inputs) if (v && v.graph !== this) throw new Error(`${type}: input from another graph`);
    const types = def.infer(inputs, attrs, this);
    const node = new Node(this.nodes.length, type, inputs, attrs, def.domain ?? '');
    const n = outputs ?? types.length;
    for (let i = 0; i < n; i++) {
      const t = types[i];
      if (!t) throw new Error(`${type}: has no output #${i}`);
      node.outputs.push(this.newValue(t.dtype, t.shape, 'node', node, i));
    }
    this.nodes.push(node);
    return node.outputs;
  }

  /** Single-output convenience. */
  op1<T extends string>(type: T, inputs: (Value | null)[], attrs?: AttrsOf<T>): Value {
    return this.op(type as string, inputs, attrs as Attrs | undefined, 1)[0]!;
  }
}
