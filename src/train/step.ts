// One training step's worth of computation: the loss of a batch and its gradient for every parameter.
// The model, its loss and the backward pass form one ONNX graph whose parameters are graph inputs, so a
// single session serves every step; the optimizer updates the parameter buffers in place between steps.
import { gradients } from '../graph/autodiff.ts';
import { Graph } from '../graph/graph.ts';
import type { Value } from '../graph/value.ts';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { headFromConfig } from '../models/auto.ts';
import { readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { initParam } from '../models/deberta/init.ts';
import { buildDeberta, type HeadKind, type ParamSource } from '../models/deberta/modeling.ts';
import { bindWeights } from '../models/deberta/weights.ts';
import { Session } from '../runtime/session.ts';
import { tensor, toFloat64, type Tensor } from '../tensor.ts';
import { DropoutMasks, dropoutRates } from './dropout.ts';
import { headLoss, labelSpecs, type LabelSpec } from './losses.ts';
import { Rng } from '../util/random.ts';

export type { HeadKind } from '../models/deberta/modeling.ts';

/** int64 tensors (int32 accepted); labels float for multi-label / regression / soft labels. */
export interface TrainBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  tokenTypeIds?: Tensor;
  labels?: Tensor;
  startPositions?: Tensor;
  endPositions?: Tensor;
}

export interface GradientModelOptions {
  /** Parameters, activations and gradients in this type (default float32). */
  dtype?: 'float32' | 'float64';
  /** Training-mode dropout in computeGradients, at the config's rates (default false). */
  dropout?: boolean;
  /** Seeds the dropout masks and the initialisation of missing weights (default 0). */
  seed?: number;
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** Initialise weights the checkpoint lacks (a new classifier, pooler...) as transformers does, seeded. */
  initMissing?: boolean;
}

export interface GradientModel {
  config: DebertaConfig;
  head: HeadKind;
  /** Checkpoint names of the trainable parameters, in graph order. */
  paramNames: string[];
  /** The live parameter buffers (float32 or float64): the optimizer updates them in place. */
  params: Map<string, Tensor>;
  /** Parameters that `initMissing` initialised because the checkpoint lacked them. */
  initialized: string[];
  /** Dropout steps taken so far: the masks of a step depend on (seed, step). */
  step: number;
  /**
   * Loss and gradients of one batch. `grads` holds a fresh tensor for every parameter, zeros where the
   * loss does not reach, in the parameters' dtype; `logits` are the head's outputs of this (training) run.
   */
  computeGradients(batch: TrainBatch): Promise<{ loss: number; grads: Map<string, Tensor>; logits?: Record<string, Tensor> }>;
  /** Eval-mode outputs (logits, start_logits/end_logits, last_hidden_state), dropout off. */
  forward(batch: TrainBatch): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

/** Loads a checkpoint folder for training with the given head ('auto': the one in `architectures`). */
export async function loadGradientModel(dir: string, head: HeadKind | 'auto', opts: GradientModelOptions = {}): Promise<GradientModel> {
  const config = readDebertaConfig(dir);
  const { tensors, files } = await loadCheckpointTensors(dir);
  const file = files.length === 1 ? files[0]! : `${dir} (${files.length} shards)`;
  return createGradientModel(config, tensors, head === 'auto' ? headFromConfig(config) : head, opts, file);
}

export function gradientModelFromTensors(config: DebertaConfig, tensors: Map<string, Tensor>, head: HeadKind,
  opts: GradientModelOptions = {}): Promise<GradientModel> {
  return createGradientModel(config, tensors, head, opts, 'the given tensors');
}

/** A compiled training graph for one kind of labels (sequence classification: their rank). */
interface TrainSession { session: Session; specs: LabelSpec[]; outputs: string[]; masks?: DropoutMasks }

async function createGradientModel(config: DebertaConfig, given: Map<string, Tensor>, head: HeadKind,
  opts: GradientModelOptions, file: string): Promise<GradientModel> {
  const dtype = opts.dtype ?? 'float32';
  const seed = opts.seed ?? 0;
  const { tensors, prefix } = withHeadPrefix(given, head);

  // Eval graph first: it binds (and converts) the checkpoint tensors once; every later graph shares them.
  const evalGraph = new Graph();
  const initialized: string[] = [];
  const rng = new Rng(seed);
  const binding = bindWeights(evalGraph, tensors, {
    file, dtype,
    initMissing: opts.initMissing ? (name, dims) => { initialized.push(name); return initParam(config, name, dims, rng); } : undefined,
  });
  const evalBuilt = buildDeberta(evalGraph, config, binding.source, head, prefix, { dtype });
  const extra = binding.unexpected();
  if (extra.length) throw new Error(`${file}: weights this model does not use: ${extra.slice(0, 8).map((k) => `'${k}'`).join(', ')}${extra.length > 8 ? ` and ${extra.length - 8} more` : ''}`);
  const params = new Map([...evalGraph.params].map(([k, v]) => [k, v.constValue!]));
  const paramNames = [...params.keys()];
  const fromParams = (g: Graph): ParamSource => (name, dims) => {
    const hit = g.params.get(name);
    if (hit) return hit;
    const t = params.get(name);
    if (!t || t.dims.join() !== dims.join()) throw new Error(`${file}: parameter '${name}' [${dims.join(', ')}] not bound`);
    return g.param(name, t);
  };

  const threads = opts.threads;
  const rates = dropoutRates(config);
  const trainSessions = new Map<string, TrainSession>();
  const buildTrain = async (specs: LabelSpec[]): Promise<TrainSession> => {
    const g = new Graph();
    const masks = opts.dropout ? new DropoutMasks(rates, seed) : undefined;
    const built = buildDeberta(g, config, fromParams(g), head, prefix, { dtype, dropout: masks?.hook });
    const labels: Record<string, Value> = {};
    for (const s of specs) labels[s.name] = g.input(s.name, s.dtype === 'float' ? dtype : 'int64', s.shape);
    const loss = headLoss(config, head, built.outputs, labels);
    const wrt = paramNames.map((n) => g.params.get(n)!);
    const outputs: Record<string, Value> = { loss, ...built.outputs };
    gradients(loss, wrt).forEach((d, i) => { if (d) outputs[`grad.${paramNames[i]}`] = d; });
    const session = await Session.fromGraph(g, { outputs, paramsAs: 'inputs', name: `deberta-${head}-train` }, { threads });
    return { session, specs, outputs: Object.keys(outputs), masks: masks?.count ? masks : undefined };
  };
  const trainFor = async (batch: TrainBatch): Promise<TrainSession> => {
    const rank = head === 'sequence-classification' && batch.labels ? batch.labels.dims.length : undefined;
    const key = String(rank ?? '');
    let t = trainSessions.get(key);
    if (!t) {
      t = await buildTrain(labelSpecs(config, head, rank));
      trainSessions.set(key, t);
    }
    return t;
  };
  // Compile the usual case now, so that load errors and compile time show up here, not at the first step.
  trainSessions.set('', await buildTrain(labelSpecs(config, head)));
  if (head === 'sequence-classification') trainSessions.set(String(labelSpecs(config, head)[0]!.shape.length), trainSessions.get('')!);

  let evalSession: Session | undefined;
  const rank = head === 'multiple-choice' ? 3 : 2;
  const usesTypes = config.type_vocab_size > 0;
  const modelFeeds = (batch: TrainBatch): Record<string, Tensor> => {
    const ids = asInt64(batch.inputIds, 'inputIds');
    if (ids.dims.length !== rank) throw new Error(`inputIds: expected ${rank} dims for head ${head}, got [${ids.dims.join(', ')}]`);
    const feeds: Record<string, Tensor> = { input_ids: ids, attention_mask: asInt64(batch.attentionMask, 'attentionMask') };
    if (usesTypes) feeds.token_type_ids = batch.tokenTypeIds ? asInt64(batch.tokenTypeIds, 'tokenTypeIds') : tensor('int64', ids.dims);
    for (const [k, t] of Object.entries(feeds)) {
      if (t.dims.join() !== ids.dims.join()) throw new Error(`${k}: dims [${t.dims.join(', ')}] differ from inputIds [${ids.dims.join(', ')}]`);
    }
    for (const [k, t] of params) feeds[k] = t;
    return feeds;
  };

  const model: GradientModel = {
    config, head, paramNames, params, initialized, step: 0,

    async computeGradients(batch) {
      const t = await trainFor(batch);
      const feeds = modelFeeds(batch);
      const fields: Record<LabelSpec['name'], keyof TrainBatch> = { labels: 'labels', start_positions: 'startPositions', end_positions: 'endPositions' };
      for (const s of t.specs) {
        const given = batch[fields[s.name]];
        if (!given) throw new Error(`computeGradients: head ${head} needs batch.${fields[s.name]}`);
        feeds[s.name] = labelTensor(given, s, dtype, `batch.${fields[s.name]}`);
      }
      if (t.masks) {
        const dims = feeds.input_ids!.dims;
        const rows = dims.slice(0, -1).reduce((a, b) => a * b, 1);
        Object.assign(feeds, t.masks.masks(model.step, rows, dims[dims.length - 1]!));
        model.step++;
      }
      const out = await t.session.run(feeds);
      const grads = new Map<string, Tensor>();
      for (const name of paramNames) {
        const p = params.get(name)!;
        grads.set(name, out[`grad.${name}`] ?? tensor(p.dtype, p.dims));
      }
      const logits: Record<string, Tensor> = {};
      for (const k of ['logits', 'start_logits', 'end_logits']) if (out[k]) logits[k] = out[k]!;
      return { loss: Number(out.loss!.data[0]), grads, logits };
    },

    async forward(batch) {
      evalSession ??= await Session.fromGraph(evalGraph, { outputs: evalBuilt.outputs, paramsAs: 'inputs', name: `deberta-${head}` }, { threads });
      return evalSession.run(modelFeeds(batch));
    },

    async dispose() {
      const sessions = new Set([...trainSessions.values()].map((t) => t.session));
      for (const s of sessions) await s.release();
      trainSessions.clear();
      await evalSession?.release();
      evalSession = undefined;
    },
  };
  return model;
}

/** A head's encoder weights are named `deberta.*`; a bare checkpoint's are renamed so, to save as the head. */
function withHeadPrefix(tensors: Map<string, Tensor>, head: HeadKind): { tensors: Map<string, Tensor>; prefix: string } {
  const prefixed = [...tensors.keys()].some((k) => k.startsWith('deberta.'));
  if (prefixed) return { tensors, prefix: 'deberta.' };
  if (head === 'base') return { tensors, prefix: '' };
  const renamed = new Map<string, Tensor>();
  for (const [k, t] of tensors) renamed.set(/^(embeddings|encoder)\./.test(k) ? `deberta.${k}` : k, t);
  return { tensors: renamed, prefix: 'deberta.' };
}

function asInt64(t: Tensor, what: string): Tensor {
  if (t.dtype === 'int64') return t;
  if (t.dtype === 'int32') return tensor('int64', t.dims, BigInt64Array.from(t.data as Int32Array, (x) => BigInt(x)));
  throw new Error(`${what}: expected an int64 or int32 tensor, got ${t.dtype}`);
}

/** Labels as the graph takes them: int64 class ids, or floats in the model's dtype. */
function labelTensor(t: Tensor, spec: LabelSpec, dtype: 'float32' | 'float64', what: string): Tensor {
  const rank = spec.shape.length;
  // [batch, 1] positions / labels are flattened as transformers does.
  const dims = t.dims.length === rank + 1 && t.dims[t.dims.length - 1] === 1 ? t.dims.slice(0, -1) : t.dims;
  if (dims.length !== rank) throw new Error(`${what}: expected ${rank} dims, got [${t.dims.join(', ')}]`);
  if (spec.dtype === 'int64') {
    if (t.dtype !== 'int64' && t.dtype !== 'int32') throw new Error(`${what}: expected integer class ids (int64), got ${t.dtype}`);
    return { ...asInt64(t, what), dims };
  }
  const values = toFloat64(t);
  return tensor(dtype, dims, dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values));
}
