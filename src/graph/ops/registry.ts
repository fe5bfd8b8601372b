// Every op of the IR is declared once: its ONNX name and domain, its shape rule and, where it is
// differentiable, its gradient rule (see src/graph/autodiff.ts for how the rules are driven).
import type { Node, Value, ValueType } from '../value.ts';
import type { Graph } from '../graph.ts';
import type { AttrsOf } from '../attrs.ts';

export interface GradContext<T extends string = string> {
  g: Graph;
  node: Node;
  /** The node's inputs and outputs (forward values, usable in the backward graph). */
  x: (Value | null)[];
  y: Value[];
  attrs: AttrsOf<T>;
  /** Gradient flowing into each output (null where none flows). */
  dy: (Value | null)[];
}

export interface OpDef<T extends string = string> {
  type: T;
  /** The ONNX op it compiles to, when that differs from `type` (e.g. StopGradient -> Identity). */
  onnxType?: string;
  /** '' for the standard ONNX domain, 'com.microsoft' for ONNX Runtime's contrib ops. */
  domain?: string;
  infer(inputs: (Value | null)[], attrs: AttrsOf<T>, g: Graph): ValueType[];
  /** Gradients for each input (null: none flows, e.g. integer inputs). Absent: not differentiable. */
  grad?(ctx: GradContext<T>): (Value | null)[];
}

const registry = new Map<string, OpDef>();

export function defineOp<T extends string>(def: OpDef<T>): OpDef<T> {
  if (registry.has(def.type)) throw new Error(`op ${def.type} defined twice`);
  // Nodes keep their attributes untyped; each rule reads them as its op's (the node was built with AttrsOf<T>).
  registry.set(def.type, def as unknown as OpDef);
  return def;
}

export function getOp(type: string): OpDef {
  const def = registry.get(type);
  if (!def) throw new Error(`unknown op '${type}'`);
  return def;
}

export function allOps(): OpDef[] { return [...registry.values()]; }
