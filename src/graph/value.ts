// Values and nodes of the graph IR. A Value is a typed, shaped edge; a Node applies one op.
// Dims are numbers when known and strings when symbolic ("batch", "seq", or "?7" when unknowable).
import type { DType, Tensor } from '../tensor.ts';
import type { Graph } from './graph.ts';

export type Dim = number | string;
export type Shape = Dim[];
export type Attrs = Record<string, number | number[] | string | Tensor | undefined>;

export interface ValueType {
  dtype: DType;
  shape: Shape;
}

export type ValueKind = 'input' | 'param' | 'const' | 'node';

export class Value implements ValueType {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: ValueKind,
    /** The node that computes it (kind 'node'), and which of its outputs it is. */
    readonly producer?: Node,
    readonly outputIndex = 0,
    /** Known contents: constants, and params while their values sit in the graph. */
    public constValue?: Tensor,
    public name?: string,
  ) {}

  get rank(): number { return this.shape.length; }

  // Conveniences so model code reads as arithmetic; each is one op of src/graph/ops.
  add(o: Value | number): Value { return this.graph.op('Add', [this, this.graph.lift(o, this.dtype)])[0]!; }
  sub(o: Value | number): Value { return this.graph.op('Sub', [this, this.graph.lift(o, this.dtype)])[0]!; }
  mul(o: Value | number): Value { return this.graph.op('Mul', [this, this.graph.lift(o, this.dtype)])[0]!; }
  div(o: Value | number): Value { return this.graph.op('Div', [this, this.graph.lift(o, this.dtype)])[0]!; }
  matmul(o: Value): Value { return this.graph.op('MatMul', [this, o])[0]!; }
  neg(): Value { return this.graph.op('Neg', [this])[0]!; }
  cast(to: DType): Value { return to === this.dtype ? this : this.graph.op('Cast', [this], { to })[0]!; }
  /** ONNX Reshape semantics: 0 copies the input dim, -1 is inferred. */
  reshape(shape: readonly number[]): Value {
    return this.graph.op('Reshape', [this, this.graph.constInt64(shape)])[0]!;
  }
  transpose(perm: readonly number[]): Value { return this.graph.op('Transpose', [this], { perm: [...perm] })[0]!; }
  toString(): string { return `${this.name ?? 'v' + this.id}: ${this.dtype}[${this.shape.join(', ')}]`; }
}

export class Node {
  readonly outputs: Value[] = [];
  constructor(
    readonly id: number,
    readonly type: string,
    readonly inputs: (Value | null)[],
    readonly attrs: Attrs,
    readonly domain: string,
  ) {}
}
