// One training step's worth of computation: the loss of a batch and its gradient for every parameter.
// The model, its loss and the backward pass form one ONNX graph whose parameters are graph inputs, so a
// single session serves every step; the optimizer updates the parameter buffers in place between steps.
import { gradients } from '../graph/autodiff.ts';
import * as F from '../graph/functional.ts';
import { Graph } from '../graph/graph.ts';
import type { Value } from '../graph/value.ts';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { headFromConfig } from '../models/auto.ts';
import { readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { initParam } from '../models/deberta/init.ts';
import { buildDeberta, dims as modelDims, type HeadKind, type ParamSource } from '../models/deberta/modeling.ts';
import { bindWeights } from '../models/deberta/weights.ts';
import { emitOnnx } from '../runtime/onnx-emit.ts';
import { repeatModel, stepsInput } from '../runtime/repeat.ts';
import { Session } from '../runtime/session.ts';
import { tensor, toFloat64, type Tensor } from '../tensor.ts';
import { DropoutMasks, dropoutRates } from './dropout.ts';
import { headLoss, labelSpecs, type LabelSpec } from './losses.ts';
import { applyUpdate, decays, type AdamW } from './optim.ts';
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

const BATCH_FIELDS = ['inputIds', 'attentionMask', 'tokenTypeIds', 'labels', 'startPositions', 'endPositions'] as const satisfies readonly (keyof TrainBatch)[];

/** The first field in which `b` differs from `a` in presence or dims (batches that share a trainSteps run differ in none). */
function unstackable(a: TrainBatch, b: TrainBatch): string | undefined {
  const dims = (t?: Tensor) => (t ? `[${t.dims.join(', ')}]` : 'none');
  const k = BATCH_FIELDS.find((f) => dims(a[f]) !== dims(b[f]));
  return k && `${k} ${dims(b[k])}, batch 0 ${dims(a[k])}`;
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
   * loss does not reach, in the parameters' dtype; `gradNorm` is their global L2 norm (computed in the
   * graph: applyUpdate's clipping then needs no pass of its own); `logits` are the head's outputs of this
   * (training) run.
   */
  computeGradients(batch: TrainBatch): Promise<{ loss: number; grads: Map<string, Tensor>; gradNorm: number; logits?: Record<string, Tensor> }>;
  /**
   * One whole update, as computeGradients then applyUpdate(opt, grads, lr, maxGradNorm) would make it, in
   * one ONNX Runtime run: loss and gradients, global-norm clipping (maxGradNorm > 0) and AdamW, with the
   * parameters and `opt`'s moments rewritten in place. The gradients never leave ONNX Runtime, so neither
   * they nor the update pass through JavaScript. `opt` must have been made over this model's `params`.
   * Returns the loss, the gradient norm before clipping (NaN when clipping is off) and the logits.
   */
  trainStep(batch: TrainBatch, opt: AdamW, lr: number, maxGradNorm: number): Promise<{ loss: number; gradNorm: number; logits?: Record<string, Tensor> }>;
  /**
   * trainStep for each batch in turn (batch i at learning rate `lr[i]`, or `lr` for all), in one ONNX Runtime
   * run: the parameters and moments go from one step to the next inside ONNX Runtime (an ONNX Loop) and
   * come back to JavaScript once, which saves most of what onnxruntime-node charges for returning them
   * (about 40 ms per 100 MB each step). The batches must share their dims. Returns each step's loss and
   * gradient norm.
   */
  trainSteps(batches: TrainBatch[], opt: AdamW, lr: number | number[], maxGradNorm: number): Promise<{ loss: number; gradNorm: number }[]>;
  /** Whether two batches can share a trainSteps run: the same fields, of the same dims. */
  stackable(a: TrainBatch, b: TrainBatch): boolean;
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
interface TrainSession { session: Session; specs: LabelSpec[]; outputs: string[]; masks?: DropoutMasks; used?: boolean }

/** The fused update's graph knows the betas and which parameters decay; one graph per such optimizer. */
interface UpdateSpec { beta1: number; beta2: number; decayed: boolean[] }

/** Scalar inputs of the fused update, set each step (float, in the parameters' dtype); see adamWUpdate. */
const UPDATE_SCALARS = ['max_grad_norm', 'eps_scaled', 'step_decayed', 'step_plain', 'decay_factor'] as const;

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
  // Evaluation runs on the CPU: pooling heads skip padding there, as createModel's models do.
  const evalBuilt = buildDeberta(evalGraph, config, binding.source, head, prefix, { dtype, skipPadding: true });
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
  // Relative attention has a faster graph for sequences within its span (each row of scores shifted into
  // place, no gather index and no scatter back). A longer batch needs the general graph, which from then
  // on serves every batch: the short graphs are released, so that two graphs of one kind never both hold
  // their memory. Training graphs project only the relative-table rows in use (the weights change every step).
  const span = config.relative_attention ? modelDims(config).span : Infinity;
  let general = span === Infinity;
  const buildTrain = async (specs: LabelSpec[], update?: UpdateSpec, repeated = false): Promise<TrainSession> => {
    const g = new Graph();
    const masks = opts.dropout ? new DropoutMasks(rates, seed) : undefined;
    const built = buildDeberta(g, config, fromParams(g), head, prefix,
      { dtype, dropout: masks?.hook, relativeRowsFirst: true, ...(general ? {} : { maxLength: span }) });
    const labels: Record<string, Value> = {};
    for (const s of specs) labels[s.name] = g.input(s.name, s.dtype === 'float' ? dtype : 'int64', s.shape);
    const loss = headLoss(config, head, built.outputs, labels);
    const wrt = paramNames.map((n) => g.params.get(n)!);
    const outputs: Record<string, Value> = { loss, ...built.outputs };
    const grads = gradients(loss, wrt);
    if (update) Object.assign(outputs, adamWUpdate(g, wrt, grads, update, dtype));
    else {
      grads.forEach((d, i) => { if (d) outputs[`grad.${paramNames[i]}`] = d; });
      outputs.grad_norm = globalNorm(g, grads, dtype);
    }
    const name = `deberta-${head}-${update ? 'step' : 'train'}`;
    const sessionOptions = { threads };
    let session: Session;
    if (!repeated) session = await Session.fromGraph(g, { outputs, paramsAs: 'inputs', name }, sessionOptions);
    else {
      const emitted = emitOnnx(g, { outputs, paramsAs: 'inputs', name });
      const state = new Set(paramNames.flatMap((p) => [p, `exp_avg.${p}`, `exp_avg_sq.${p}`]));
      session = await Session.fromModel(repeatModel(emitted.model, {
        carried: paramNames.flatMap((p) => [[p, `new.${p}`], [`exp_avg.${p}`, `new.exp_avg.${p}`], [`exp_avg_sq.${p}`, `new.exp_avg_sq.${p}`]] as const),
        perStep: emitted.inputNames.filter((i) => !state.has(i)),
        perStepOutputs: ['loss', 'grad_norm'],
      }), sessionOptions);
    }
    return { session, specs, outputs: Object.keys(outputs), masks: masks?.count ? masks : undefined };
  };
  // Fused-update sessions, by label rank and the set of decayed parameters; built at the first trainStep.
  const stepSessions = new Map<string, TrainSession>();
  /** Sessions are kept by what their graph serves: `${regime}/${kind}`. */
  const regime = async (batch: TrainBatch): Promise<string> => {
    const dims = batch.inputIds.dims;
    if (!general && dims[dims.length - 1]! > span) {
      general = true;
      const short = new Set<Session>();
      for (const m of [trainSessions, stepSessions]) {
        for (const [k, t] of m) if (k.startsWith('short/')) { short.add(t.session); m.delete(k); }
      }
      for (const s of short) await s.release();
    }
    return general ? 'general' : 'short';
  };
  const stepFor = async (batch: TrainBatch, opt: AdamW, repeated = false): Promise<TrainSession> => {
    const rank = head === 'sequence-classification' && batch.labels ? batch.labels.dims.length : undefined;
    const decayed = paramNames.map((n) => opt.weightDecay > 0 && decays(opt.decay, n));
    const key = `${await regime(batch)}/${rank ?? ''}:${opt.beta1}:${opt.beta2}:${decayed.map((d) => (d ? 1 : 0)).join('')}${repeated ? ':repeated' : ''}`;
    let t = stepSessions.get(key);
    if (!t) {
      // A model trained by fused steps does not keep the gradient graph compiled at its creation (its
      // constants and kernels, tens of MB) if no computeGradients ran on it; one would compile it again.
      for (const [k, u] of trainSessions) {
        if (u.used) continue;
        trainSessions.delete(k);
        if (![...trainSessions.values()].some((o) => o.session === u.session)) await u.session.release();
      }
      t = await buildTrain(labelSpecs(config, head, rank), { beta1: opt.beta1, beta2: opt.beta2, decayed }, repeated);
      stepSessions.set(key, t);
    }
    return t;
  };
  const trainFor = async (batch: TrainBatch): Promise<TrainSession> => {
    const rank = head === 'sequence-classification' && batch.labels ? batch.labels.dims.length : undefined;
    const key = `${await regime(batch)}/${rank ?? ''}`;
    let t = trainSessions.get(key);
    if (!t) {
      t = await buildTrain(labelSpecs(config, head, rank));
      trainSessions.set(key, t);
    }
    return t;
  };
  // Compile the usual case now, so that load errors and compile time show up here, not at the first step.
  const first = general ? 'general' : 'short';
  trainSessions.set(`${first}/`, await buildTrain(labelSpecs(config, head)));
  if (head === 'sequence-classification') trainSessions.set(`${first}/${labelSpecs(config, head)[0]!.shape.length}`, trainSessions.get(`${first}/`)!);

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

  const trainFeeds = (t: TrainSession, batch: TrainBatch, what: string): Record<string, Tensor> => {
    const feeds = modelFeeds(batch);
    const fields: Record<LabelSpec['name'], keyof TrainBatch> = { labels: 'labels', start_positions: 'startPositions', end_positions: 'endPositions' };
    for (const s of t.specs) {
      const given = batch[fields[s.name]];
      if (!given) throw new Error(`${what}: head ${head} needs batch.${fields[s.name]}`);
      feeds[s.name] = labelTensor(given, s, dtype, `batch.${fields[s.name]}`);
    }
    if (t.masks) {
      const dims = feeds.input_ids!.dims;
      const rows = dims.slice(0, -1).reduce((a, b) => a * b, 1);
      Object.assign(feeds, t.masks.masks(model.step, rows, dims[dims.length - 1]!));
      model.step++;
    }
    return feeds;
  };

  /** The fused update's scalars for one step at learning rate `lr` (advances `opt`'s step count). */
  const updateScalars = (opt: AdamW, lr: number, maxGradNorm: number): Record<string, Tensor> => {
    const { stepSize, bc2Sqrt, decayFactor } = opt.nextStep(lr);
    const values = {
      max_grad_norm: maxGradNorm, eps_scaled: opt.eps * bc2Sqrt, step_plain: -stepSize * bc2Sqrt,
      step_decayed: -stepSize * bc2Sqrt / decayFactor, decay_factor: decayFactor,
    };
    return Object.fromEntries(UPDATE_SCALARS.map((k) => [`opt.${k}`, tensor(dtype, [], dtype === 'float64' ? Float64Array.of(values[k]) : Float32Array.of(values[k]))]));
  };
  /** Parameters and moments as inputs of the fused update, and as its outputs: written back into the buffers they were read from. */
  const state = (opt: AdamW): { feeds: Record<string, Tensor>; into: Record<string, Tensor> } => {
    const feeds: Record<string, Tensor> = {}, into: Record<string, Tensor> = {};
    for (const name of paramNames) {
      const { expAvg, expAvgSq } = opt.momentsOf(name);
      feeds[name] = into[`new.${name}`] = params.get(name)!;
      feeds[`exp_avg.${name}`] = into[`new.exp_avg.${name}`] = expAvg;
      feeds[`exp_avg_sq.${name}`] = into[`new.exp_avg_sq.${name}`] = expAvgSq;
    }
    return { feeds, into };
  };

  const model: GradientModel = {
    config, head, paramNames, params, initialized, step: 0,

    async computeGradients(batch) {
      const t = await trainFor(batch);
      t.used = true;
      const feeds = trainFeeds(t, batch, 'computeGradients');
      const out = await t.session.run(feeds);
      const grads = new Map<string, Tensor>();
      for (const name of paramNames) {
        const p = params.get(name)!;
        grads.set(name, out[`grad.${name}`] ?? tensor(p.dtype, p.dims));
      }
      const logits: Record<string, Tensor> = {};
      for (const k of ['logits', 'start_logits', 'end_logits']) if (out[k]) logits[k] = out[k]!;
      return { loss: Number(out.loss!.data[0]), grads, gradNorm: Number(out.grad_norm!.data[0]), logits };
    },

    async trainStep(batch, opt, lr, maxGradNorm) {
      if (opt.params !== params) throw new Error('trainStep: the optimizer was made over other parameters than this model\'s');
      if (!(maxGradNorm >= 0)) throw new Error(`trainStep: invalid maxGradNorm ${maxGradNorm}`);
      if (opt.weightDecay > 0 && 1 - lr * opt.weightDecay === 0) {
        // A decay factor of 0 (lr * weight_decay = 1) has no place in the fused arithmetic: take the two calls.
        const r = await model.computeGradients(batch);
        return { loss: r.loss, gradNorm: applyUpdate(opt, r.grads, lr, maxGradNorm, r.gradNorm), logits: r.logits };
      }
      const t = await stepFor(batch, opt);
      const feeds = { ...trainFeeds(t, batch, 'trainStep'), ...updateScalars(opt, lr, maxGradNorm) };
      const into: Record<string, Tensor | null> = { loss: null, grad_norm: null };
      for (const k of ['logits', 'start_logits', 'end_logits']) if (t.outputs.includes(k)) into[k] = null;
      const st = state(opt);
      const out = await t.session.runInto({ ...feeds, ...st.feeds }, { ...into, ...st.into });
      const logits: Record<string, Tensor> = {};
      for (const k of ['logits', 'start_logits', 'end_logits']) if (out[k]) logits[k] = out[k]!;
      return { loss: Number(out.loss!.data[0]), gradNorm: maxGradNorm > 0 ? Number(out.grad_norm!.data[0]) : NaN, logits };
    },

    async trainSteps(batches, opt, lr, maxGradNorm) {
      const lrs = typeof lr === 'number' ? batches.map(() => lr) : lr;
      if (lrs.length !== batches.length) throw new Error(`trainSteps: ${lrs.length} learning rates for ${batches.length} batches`);
      batches.forEach((b, i) => {
        const differs = unstackable(batches[0]!, b);
        if (differs) throw new Error(`trainSteps: batch ${i} has ${differs}: the batches of one call share their dims`);
      });
      if (batches.length < 2 || (opt.weightDecay > 0 && lrs.some((r) => 1 - r * opt.weightDecay === 0))) {
        const results = [];
        for (let i = 0; i < batches.length; i++) {
          const r = await model.trainStep(batches[i]!, opt, lrs[i]!, maxGradNorm);
          results.push({ loss: r.loss, gradNorm: r.gradNorm });
        }
        return results;
      }
      if (opt.params !== params) throw new Error('trainSteps: the optimizer was made over other parameters than this model\'s');
      if (!(maxGradNorm >= 0)) throw new Error(`trainSteps: invalid maxGradNorm ${maxGradNorm}`);
      const t = await stepFor(batches[0]!, opt, true);
      // A batch that fails on its way in (labels the head lacks) leaves the dropout and optimizer steps as they were.
      const [dropoutStep, stepCount] = [model.step, opt.stepCount];
      const st = state(opt);
      const feeds = st.feeds;
      try {
        const each = batches.map((b, i) => ({ ...trainFeeds(t, b, `trainSteps (batch ${i})`), ...updateScalars(opt, lrs[i]!, maxGradNorm) }));
        const taken = new Set(t.session.inputNames);
        for (const name of Object.keys(each[0]!)) if (taken.has(stepsInput(name))) feeds[stepsInput(name)] = stack(each.map((f) => f[name]!), name);
      } catch (err) {
        [model.step, opt.stepCount] = [dropoutStep, stepCount];
        throw err;
      }
      const out = await t.session.runInto(feeds, { loss: null, grad_norm: null, ...st.into }, { freeCopies: true });
      return batches.map((_, i) => ({ loss: Number(out.loss!.data[i]), gradNorm: maxGradNorm > 0 ? Number(out.grad_norm!.data[i]) : NaN }));
    },

    stackable(a, b) {
      return !unstackable(a, b);
    },

    async forward(batch) {
      evalSession ??= await Session.fromGraph(evalGraph, { outputs: evalBuilt.outputs, paramsAs: 'inputs', name: `deberta-${head}` }, { threads });
      return evalSession.run(modelFeeds(batch));
    },

    async dispose() {
      const sessions = new Set([...trainSessions.values(), ...stepSessions.values()].map((t) => t.session));
      for (const s of sessions) await s.release();
      trainSessions.clear();
      stepSessions.clear();
      await evalSession?.release();
      evalSession = undefined;
    },
  };
  return model;
}

/**
 * AdamW after global-norm clipping, as graph outputs `new.<name>`, `new.exp_avg.<name>`, `new.exp_avg_sq.<name>`
 * and `grad_norm`, from inputs `exp_avg.<name>`, `exp_avg_sq.<name>` and the scalars `opt.*` (UPDATE_SCALARS);
 * the betas are constants of the graph. It is clipGradNorm then AdamW.step (src/train/optim.ts, torch's
 * arithmetic) rearranged to fewer passes over the parameters, equal up to rounding. With the clipping
 * coefficient c and the bias corrections folded into scalars:
 *   m' = (g * (1 - b1) c / b1 + m) * b1                     (= b1 m + (1 - b1) c g)
 *   v' = ((g * c sqrt((1 - b2) / b2))^2 + v) * b2          (= b2 v + (1 - b2) c^2 g^2)
 *   p' = (p - s q / d) * d, q = m' / (sqrt(v') + eps bc2)   (= d p - lr / bc1 * m' / (sqrt(v') / bc2 + eps))
 * with s = lr bc2 / bc1 and d the decay factor 1 - lr * weight_decay (p - s q without decay). Every pass
 * waits for the global norm, so none runs during the backward pass holding a parameter-sized buffer, and
 * nothing is written back before the last read of an input. A parameter the loss does not reach is
 * updated with a zero gradient, as computeGradients' zeros would be.
 */
function adamWUpdate(g: Graph, wrt: Value[], grads: (Value | null)[], spec: UpdateSpec, dtype: 'float32' | 'float64'): Record<string, Value> {
  const s = Object.fromEntries(UPDATE_SCALARS.map((k) => [k, g.input(`opt.${k}`, dtype, [])])) as Record<(typeof UPDATE_SCALARS)[number], Value>;
  const { beta1: b1, beta2: b2 } = spec;
  const norm = globalNorm(g, grads, dtype);
  // torch: coefficient max_norm / (norm + 1e-6), capped at 1; no clipping when max_norm is 0.
  const one = g.scalar(1, dtype);
  const capped = g.op1('Min', [s.max_grad_norm.div(norm.add(1e-6)), one]);
  const coef = F.where(g.op1('Greater', [s.max_grad_norm, g.scalar(0, dtype)]), capped, one);
  const k1 = coef.mul(b1 > 0 ? (1 - b1) / b1 : 1 - b1);
  const k2 = coef.mul(Math.sqrt(b2 > 0 ? (1 - b2) / b2 : 1 - b2));
  // A zero gradient still waits for the norm: its passes must not run early, nor write back early.
  const late = (x: Value) => F.where(g.op1('Greater', [coef, g.scalar(-1, dtype)]), x, x);
  const outputs: Record<string, Value> = { grad_norm: norm };
  wrt.forEach((p, i) => {
    const name = p.name!;
    const m = g.input(`exp_avg.${name}`, dtype, [...p.shape]);
    const v = g.input(`exp_avg_sq.${name}`, dtype, [...p.shape]);
    const d = grads[i];
    let m1: Value, v1: Value;
    if (d) {
      m1 = b1 > 0 ? d.mul(k1).add(m).mul(b1) : d.mul(k1);
      const dk = d.mul(k2);
      const gg = dk.mul(dk);
      v1 = b2 > 0 ? gg.add(v).mul(b2) : gg;
    } else {
      m1 = m.mul(late(g.scalar(b1, dtype)));
      v1 = v.mul(late(g.scalar(b2, dtype)));
    }
    const q = m1.div(F.sqrt(v1).add(s.eps_scaled));
    outputs[`new.${name}`] = spec.decayed[i] ? p.add(q.mul(s.step_decayed)).mul(s.decay_factor) : p.add(q.mul(s.step_plain));
    outputs[`new.exp_avg.${name}`] = m1;
    outputs[`new.exp_avg_sq.${name}`] = v1;
  });
  return outputs;
}

/**
 * The global L2 norm of the gradients (those that flow), as a scalar of the graph. The squares are summed
 * from the last parameter to the first, the order in which the backward pass makes the gradients: ONNX
 * Runtime orders nodes by a depth-first walk from the outputs, which follows this sum, so each layer's
 * weight and bias gradients are computed as soon as the backward pass reaches the layer, and the
 * activations they read are freed there. Summed from the first parameter, every weight gradient waited for
 * the end of the backward pass, holding its layer's activations: 250 MB more at peak (v3-xsmall, 8 x 128).
 */
export function globalNorm(g: Graph, grads: (Value | null)[], dtype: 'float32' | 'float64'): Value {
  const squares = [...grads].reverse().flatMap((d) => (d ? [g.op1('ReduceSumSquare', [d, g.constInt64(d.shape.map((_, i) => i))], { keepdims: 0 })] : []));
  return F.sqrt(squares.length ? squares.reduce((a, b) => a.add(b)) : g.scalar(0, dtype));
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

/** Equal-shaped tensors stacked along a new first axis. */
function stack(ts: Tensor[], what: string): Tensor {
  const first = ts[0]!;
  const n = first.data.length;
  const data = new (first.data.constructor as new (n: number) => Tensor['data'])(n * ts.length);
  ts.forEach((t, i) => {
    if (t.dims.join() !== first.dims.join()) throw new Error(`${what}: dims [${t.dims.join(', ')}] in step ${i}, [${first.dims.join(', ')}] in step 0`);
    (data as Float32Array).set(t.data as Float32Array, i * n);
  });
  return tensor(first.dtype, [ts.length, ...first.dims], data);
}
