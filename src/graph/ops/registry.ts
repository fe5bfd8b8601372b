// Every op of the IR is declared once: its ONNX name and domain, its shape rule and, where it is
// differentiable, its gradient rule (see src/graph/autodiff.ts for how the rules are driven).
import type { Attrs, Node, Value, ValueType } from '../value.ts';
import type { Graph } from '../graph.ts';

export interface GradContext {
  g: Graph;
  node: Node;
  /** The node's inputs and outputs (forward values, usable in the backward graph). */
  x: (Value | null)[];
  y: Value[];
  attrs: Attrs;
  /** Gradient flowing into each output (null where none flows). */
  dy: (Value | null)[];
}

export interface OpDef {
  type: string;
  /** The ONNX op it compiles to, when that differs from `type` (e.g. StopGradient -> Identity). */
  onnxType?: string;
  /** '' for the standard ONNX domain, 'com.microsoft' for ONNX Runtime's contrib ops. */
  domain?: string;
  infer(inputs: (Value | null)[], attrs: Attrs, g: Graph): ValueType[];
  /** Gradients for each input (null: none flows, e.g. integer inputs). Absent: not differentiable. */
  grad?(ctx: GradContext): (Value | null)[];
}

const registry = new Map<string, OpDef>();

export function defineOp(def: OpDef): OpDef {
  if (registry.has(def.type)) throw new Error(`op ${def.type} defined twice`);
  registry.set(def.type, def);
  return def;
}

export function getOp(type: string): OpDef {
  const def = registry.get(type);
  if (!def) throw new Error(`unknown op '${type}'`);
  return def;
}

export function allOps(): OpDef[] { return [...registry.values()]; }
