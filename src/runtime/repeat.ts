// Runs an emitted model several times in one ONNX Runtime call: its graph becomes the body of an ONNX
// Loop. State the model reads and rewrites (training's parameters and moments) is carried from one
// iteration to the next inside ONNX Runtime, and crosses into JavaScript once per call instead of once
// per iteration: onnxruntime-node copies every output into a fresh buffer, about 40 ms per 100 MB.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type ValueInfo = onnxProto.onnx.IValueInfoProto;

export interface RepeatSpec {
  /** [input, output] pairs: the output of one iteration is the input of the next; the last is the Loop's. */
  carried: ReadonlyArray<readonly [string, string]>;
  /**
   * Inputs that differ by iteration: the repeated model takes each as `steps.<name>`, the iterations'
   * values stacked along a new first axis (its length is the number of iterations).
   */
  perStep: readonly string[];
  /** Outputs kept from every iteration, stacked along a new first axis. */
  perStepOutputs: readonly string[];
}

export const stepsInput = (name: string): string => `steps.${name}`;

/** The model `model` (an encoded ModelProto) repeated as `spec` says, as an encoded ModelProto. */
export function repeatModel(model: Uint8Array, spec: RepeatSpec): Uint8Array {
  const m = onnx.ModelProto.decode(model);
  const g = m.graph!;
  const inputs = new Map((g.input ?? []).map((v) => [v.name!, v]));
  const outputs = new Map((g.output ?? []).map((v) => [v.name!, v]));
  const need = (map: Map<string, ValueInfo>, name: string, what: string): ValueInfo => {
    const v = map.get(name);
    if (!v) throw new Error(`repeatModel: the model has no ${what} '${name}'`);
    return v;
  };
  const carriedIn = spec.carried.map(([i]) => need(inputs, i, 'input'));
  const carriedOut = spec.carried.map(([, o]) => need(outputs, o, 'output'));
  const perStepIn = spec.perStep.map((i) => need(inputs, i, 'input'));
  const perStepOut = spec.perStepOutputs.map((o) => need(outputs, o, 'output'));

  // Every name the body defines gets a prefix, so that none shadows a name of the outer graph. Other
  // inputs stay inputs of the outer graph, which the body reads by their names.
  const defined = new Set<string>([...spec.carried.map(([i]) => i), ...spec.perStep, ...(g.initializer ?? []).map((t) => t.name!)]);
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o) defined.add(o);
  const inBody = (name: string) => (name && defined.has(name) ? `b.${name}` : name);
  const renamed = (v: ValueInfo, name = inBody(v.name!)): ValueInfo => ({ ...v, name });

  const scalar = (name: string, elemType: number): ValueInfo => ({ name, type: { tensorType: { elemType, shape: { dim: [] } } } });
  const INT64 = onnx.TensorProto.DataType.INT64, BOOL = onnx.TensorProto.DataType.BOOL;
  const bodyNodes = [
    { opType: 'Identity', domain: '', name: 'repeat_cond', input: ['repeat.cond_in'], output: ['repeat.cond_out'], attribute: [] },
    ...perStepIn.map((v) => ({
      opType: 'Gather', domain: '', name: `repeat_step_${v.name}`, input: [stepsInput(v.name!), 'repeat.iteration'], output: [inBody(v.name!)],
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
    })),
    ...(g.node ?? []).map((n) => ({ ...n, input: (n.input ?? []).map(inBody), output: (n.output ?? []).map(inBody) })),
  ];
  const body = {
    name: `${g.name ?? 'model'}_step`,
    node: bodyNodes,
    initializer: (g.initializer ?? []).map((t) => ({ ...t, name: inBody(t.name!) })),
    input: [scalar('repeat.iteration', INT64), scalar('repeat.cond_in', BOOL), ...carriedIn.map((v) => renamed(v))],
    output: [scalar('repeat.cond_out', BOOL), ...carriedOut.map((v) => renamed(v)), ...perStepOut.map((v) => renamed(v))],
  };

  const stacked = (v: ValueInfo, name: string): ValueInfo => {
    const t = v.type!.tensorType!;
    return { name, type: { tensorType: { elemType: t.elemType, shape: { dim: [{ dimParam: 'steps' }, ...(t.shape?.dim ?? [])] } } } };
  };
  const first = perStepIn[0];
  if (!first) throw new Error('repeatModel: at least one per-step input gives the number of iterations');
  const shared = [...inputs.values()].filter((v) => !defined.has(v.name!));
  const outer = {
    name: g.name ?? 'model',
    node: [
      { opType: 'Shape', domain: '', name: 'repeat_shape', input: [stepsInput(first.name!)], output: ['repeat.count1'], attribute: [
        { name: 'start', type: onnx.AttributeProto.AttributeType.INT, i: 0 }, { name: 'end', type: onnx.AttributeProto.AttributeType.INT, i: 1 }] },
      { opType: 'Squeeze', domain: '', name: 'repeat_count', input: ['repeat.count1'], output: ['repeat.count'], attribute: [] },
      {
        opType: 'Loop', domain: '', name: 'repeat',
        input: ['repeat.count', '', ...carriedIn.map((v) => v.name!)],
        output: [...carriedOut.map((v) => v.name!), ...perStepOut.map((v) => v.name!)],
        attribute: [{ name: 'body', type: onnx.AttributeProto.AttributeType.GRAPH, g: body }],
      },
    ],
    input: [...carriedIn, ...perStepIn.map((v) => stacked(v, stepsInput(v.name!))), ...shared],
    output: [...carriedOut, ...perStepOut.map((v) => stacked(v, v.name!))],
  };
  return onnx.ModelProto.encode({ ...m, graph: outer }).finish();
}
