// A pretraining model: the MLM or RTD graph compiled twice, once with its loss and every gradient
// (training, dropout masks as inputs) and once without (evaluation, compiled when first used), each
// once; the parameters are graph inputs fed from live buffers the optimizer updates in place (as
// src/train/step.ts does for fine-tuning). Also: parameter lists and initialisation, and the checkpoints a run saves.
import { gradients } from '../graph/autodiff.ts';
import { Graph } from '../graph/graph.ts';
import type { Value } from '../graph/value.ts';
import type { DebertaConfig } from '../models/deberta/config.ts';
import { initParam } from '../models/deberta/init.ts';
import type { DropoutHook, ParamSource } from '../models/deberta/modeling.ts';
import { Session } from '../runtime/session.ts';
import { tensor, toFloat64, type Tensor } from '../tensor.ts';
import { DropoutMasks, dropoutRates } from '../train/dropout.ts';
import { globalNorm } from '../train/step.ts';
import { Rng } from '../util/random.ts';
import type { PretrainBatch } from './data.ts';
import { buildMlmGraph, checkMlmConfig, type PretrainGraph } from './mlm.ts';
import { buildRtdGraph, deltaName, DISCRIMINATOR, GENERATOR, sharedEmbeddings, type RtdOptions } from './rtd.ts';

export type Objective = 'mlm' | 'rtd';
export const OBJECTIVES: Objective[] = ['mlm', 'rtd'];

/** What is being pretrained. */
export interface PretrainSpec {
  objective: Objective;
  /** The model (MLM) or the discriminator (RTD). */
  config: DebertaConfig;
  /** RTD: the generator's config (same width, half the depth: see generatorConfig). */
  generator?: DebertaConfig;
  /** MLM, and RTD's generator: decode through the Enhanced Mask Decoder. */
  emd: boolean;
  /** RTD settings (lambda, temperature, sharing; `emd` above wins over rtd.emd). */
  rtd?: Omit<RtdOptions, 'emd'>;
}

export interface PretrainModelOptions {
  dtype?: 'float32' | 'float64';
  /** Training-mode dropout at the configs' rates (default true). */
  dropout?: boolean;
  /** Seeds dropout masks and the generator's sampling noise (default 0). */
  seed?: number;
  threads?: number;
}

/** Sums over a batch (or many), from which the metrics come. */
export interface PretrainStats {
  sequences: number;
  masked: number;
  mlmLossSum: number;
  mlmCorrect: number;
  /** RTD: real tokens the discriminator judged, its loss sum, hits, and samples that differ from the original. */
  tokens: number;
  rtdLossSum: number;
  rtdCorrect: number;
  replaced: number;
}

export function emptyStats(): PretrainStats {
  return { sequences: 0, masked: 0, mlmLossSum: 0, mlmCorrect: 0, tokens: 0, rtdLossSum: 0, rtdCorrect: 0, replaced: 0 };
}

export function addStats(into: PretrainStats, s: PretrainStats): PretrainStats {
  for (const k of Object.keys(into) as (keyof PretrainStats)[]) into[k] += s[k];
  return into;
}

/**
 * Masked-token accuracy and perplexity (exp of the mean cross-entropy); RTD adds the discriminator's
 * accuracy over real tokens, its loss, and the fraction of samples that differ from the original.
 */
export function statsMetrics(s: PretrainStats, objective: Objective, lambda = 0): Record<string, number> {
  const mlmLoss = s.mlmLossSum / Math.max(1, s.masked);
  const m: Record<string, number> = { accuracy: s.mlmCorrect / Math.max(1, s.masked), perplexity: Math.exp(mlmLoss), mlm_loss: mlmLoss };
  if (objective === 'mlm') return { ...m, loss: mlmLoss };
  const rtdLoss = s.rtdLossSum / Math.max(1, s.tokens);
  return { ...m, rtd_accuracy: s.rtdCorrect / Math.max(1, s.tokens), rtd_loss: rtdLoss, replaced: s.replaced / Math.max(1, s.masked), loss: mlmLoss + lambda * rtdLoss };
}

/** The generator of an RTD run: the discriminator's config with `layers` layers (default half, at least 1). */
export function generatorConfig(disc: DebertaConfig, layers?: number): DebertaConfig {
  const n = layers ?? Math.max(1, Math.floor(disc.num_hidden_layers / 2));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`generator layers must be a positive integer, got ${layers}`);
  return { ...disc, num_hidden_layers: n, raw: { ...disc.raw, num_hidden_layers: n } };
}

function buildGraph(g: Graph, spec: PretrainSpec, p: ParamSource, dtype: 'float32' | 'float64', dropout?: DropoutHook): PretrainGraph {
  const o = { dtype, dropout };
  if (spec.objective === 'mlm') return buildMlmGraph(g, spec.config, p, spec.emd, o);
  if (!spec.generator || !spec.rtd) throw new Error('RTD pretraining needs a generator config and RTD options');
  return buildRtdGraph(g, spec.generator, spec.config, p, { ...spec.rtd, emd: spec.emd }, o);
}

export function checkSpec(spec: PretrainSpec, where: string): void {
  checkMlmConfig(spec.generator ?? spec.config, spec.emd, where);
  if (spec.objective === 'rtd') {
    const gen = spec.generator!, disc = spec.config;
    for (const k of ['hidden_size', 'vocab_size', 'embedding_size', 'max_position_embeddings'] as const) {
      if (gen[k] !== disc[k]) throw new Error(`${where}: the generator's ${k} (${gen[k]}) differs from the discriminator's (${disc[k]}); embedding sharing needs them equal`);
    }
    if (!(spec.rtd!.lambda >= 0)) throw new Error(`${where}: the RTD loss weight must be >= 0, got ${spec.rtd!.lambda}`);
    if (!(spec.rtd!.temperature > 0)) throw new Error(`${where}: the sampling temperature must be > 0, got ${spec.rtd!.temperature}`);
  }
}

/** Every parameter of the pretraining graph, by graph name, with its dims, in graph order. */
export function pretrainParamShapes(spec: PretrainSpec): Map<string, number[]> {
  const g = new Graph();
  const shapes = new Map<string, number[]>();
  buildGraph(g, spec, (name, dims) => {
    const seen = g.params.get(name);
    if (seen) return seen;
    shapes.set(name, [...dims]);
    return g.param(name, { dtype: 'float32', dims: [...dims], data: new Float32Array(0) });
  }, 'float32');
  return shapes;
}

/** Freshly initialised parameters (as transformers initialises DeBERTa; GDES deltas zero), repeatable for a seed. */
export function initPretrainWeights(spec: PretrainSpec, seed: number): Map<string, Tensor> {
  const rng = new Rng(seed);
  const out = new Map<string, Tensor>();
  for (const [name, dims] of pretrainParamShapes(spec)) {
    if (name.endsWith('.delta')) { out.set(name, tensor('float32', dims)); continue; }
    const config = name.startsWith(GENERATOR) ? spec.generator! : spec.config;
    const ckptName = name.startsWith(GENERATOR) ? name.slice(GENERATOR.length) : name.startsWith(DISCRIMINATOR) ? name.slice(DISCRIMINATOR.length) : name;
    out.set(name, initParam(config, ckptName, dims, rng));
  }
  return out;
}

/**
 * The checkpoints of a run from the graph's parameters: `model` (MLM: the model; RTD: the discriminator,
 * the shared embeddings folded in as the generator's plus the delta), `generator` (RTD), and `deltas`
 * (GDES, kept so that a resumed run continues exactly).
 */
export function exportCheckpoints(spec: PretrainSpec, params: Map<string, Tensor>) {
  if (spec.objective === 'mlm') return { model: new Map(params) };
  const model = new Map<string, Tensor>(), generator = new Map<string, Tensor>(), deltas = new Map<string, Tensor>();
  for (const [name, t] of params) {
    if (name.startsWith(GENERATOR)) generator.set(name.slice(GENERATOR.length), t);
    else if (name.endsWith('.delta')) deltas.set(name, t);
    else model.set(name.slice(DISCRIMINATOR.length), t);
  }
  if (spec.rtd!.sharing !== 'none') {
    for (const name of sharedEmbeddings(spec.config)) {
      const gen = generator.get(name)!;
      const delta = spec.rtd!.sharing === 'gdes' ? deltas.get(deltaName(name)) : undefined;
      if (!delta) { model.set(name, gen); continue; }
      const sum = gen.dtype === 'float64' ? new Float64Array(gen.data.length) : new Float32Array(gen.data.length);
      const a = gen.data as Float32Array | Float64Array, b = delta.data as Float32Array | Float64Array;
      for (let i = 0; i < sum.length; i++) sum[i] = a[i]! + b[i]!;
      model.set(name, tensor(gen.dtype, gen.dims, sum));
    }
  }
  return { model, generator, deltas };
}

/** The inverse of exportCheckpoints (resuming): graph-named parameters from the saved checkpoints. */
export function importCheckpoints(spec: PretrainSpec, model: Map<string, Tensor>, generator?: Map<string, Tensor>,
  deltas?: Map<string, Tensor>): Map<string, Tensor> {
  const shapes = pretrainParamShapes(spec);
  const out = new Map<string, Tensor>();
  for (const [name, dims] of shapes) {
    let t: Tensor | undefined, from = 'model.safetensors';
    if (spec.objective === 'mlm') t = model.get(name);
    else if (name.startsWith(GENERATOR)) { t = generator?.get(name.slice(GENERATOR.length)); from = 'generator/model.safetensors'; }
    else if (name.endsWith('.delta')) { t = deltas?.get(name); from = 'gdes_delta.safetensors'; }
    else t = model.get(name.slice(DISCRIMINATOR.length));
    if (!t) throw new Error(`${from}: missing weight for '${name}' (expected shape [${dims.join(', ')}])`);
    if (t.dims.join() !== dims.join()) throw new Error(`${from}: weight for '${name}' has shape [${t.dims.join(', ')}], expected [${dims.join(', ')}]`);
    out.set(name, t);
  }
  return out;
}

export interface PretrainModel {
  spec: PretrainSpec;
  /** Graph names of the parameters, in order, and their live buffers (updated in place by the optimizer). */
  paramNames: string[];
  params: Map<string, Tensor>;
  /** Training steps taken: dropout masks and sampling noise depend on (seed, step). */
  step: number;
  /** Loss, gradients (every parameter, zeros where the loss does not reach), their global norm and batch statistics. */
  computeGradients(batch: PretrainBatch): Promise<{ loss: number; grads: Map<string, Tensor>; gradNorm: number; stats: PretrainStats; outputs: Record<string, Tensor> }>;
  /** Evaluation (dropout off); `index` seeds the sampling noise, so an evaluation repeats exactly. */
  evaluate(batch: PretrainBatch, index: number): Promise<{ stats: PretrainStats; outputs: Record<string, Tensor> }>;
  dispose(): Promise<void>;
}

/** An independent random stream for each (seed, salt, index). */
function streamRng(seed: number, salt: number, index: number): Rng {
  const [a, b, c, d] = new Rng(seed).state();
  const rng = new Rng([(a! ^ salt) >>> 0, (b! ^ index) >>> 0, (c! ^ Math.floor(index / 2 ** 32)) >>> 0, d!]);
  for (let i = 0; i < 12; i++) rng.u32();
  return rng;
}

/**
 * Uniform noise in (0, 1), [masked, vocab], from which the graph makes Gumbel noise -log(-log(U)):
 * argmax(logits + G) samples softmax(logits). sfc32 runs inline here (a few ns a value); float32 values
 * take 24 random bits, so that none rounds to 0 or 1.
 */
export function uniformNoise(rng: Rng, rows: number, vocab: number, dtype: 'float32' | 'float64'): Tensor {
  const data = dtype === 'float64' ? new Float64Array(rows * vocab) : new Float32Array(rows * vocab);
  let [a, b, c, d] = rng.state() as [number, number, number, number];
  const wide = dtype === 'float64';
  for (let i = 0; i < data.length; i++) {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    data[i] = wide ? ((t >>> 0) + 0.5) / 4294967296 : ((t >>> 8) + 0.5) / 16777216;
  }
  return tensor(dtype, [rows, vocab], data);
}

const TRAIN_NOISE = 0x7472, EVAL_NOISE = 0x6576;

/** Compiles the training and evaluation sessions around live parameter buffers (graph names). */
export async function createPretrainModel(spec: PretrainSpec, params: Map<string, Tensor>, opts: PretrainModelOptions = {}): Promise<PretrainModel> {
  checkSpec(spec, 'pretraining config');
  const dtype = opts.dtype ?? 'float32';
  const seed = opts.seed ?? 0;
  for (const [name, t] of params) {
    if (t.dtype !== dtype) throw new Error(`parameter '${name}' is ${t.dtype}; the model runs in ${dtype}`);
  }
  const paramNames = [...params.keys()];
  const source = (g: Graph): ParamSource => (name, dims) => {
    const hit = g.params.get(name);
    if (hit) return hit;
    const t = params.get(name);
    if (!t) throw new Error(`pretraining: no value for parameter '${name}' [${dims.join(', ')}]`);
    if (t.dims.join() !== dims.join()) throw new Error(`pretraining: parameter '${name}' has shape [${t.dims.join(', ')}], the config implies [${dims.join(', ')}]`);
    return g.param(name, t);
  };

  // The generator and the discriminator share one config's dropout rates (they differ only in depth).
  const masks = (opts.dropout ?? true) ? new DropoutMasks(dropoutRates(spec.config), seed) : undefined;
  const trainGraph = new Graph();
  const built = buildGraph(trainGraph, spec, source(trainGraph), dtype, masks?.hook);
  const unused = paramNames.filter((n) => !trainGraph.params.has(n));
  if (unused.length) throw new Error(`pretraining: parameters the model does not use: ${unused.slice(0, 6).join(', ')}`);
  const outputs: Record<string, Value> = { ...built.outputs };
  const grads = gradients(built.loss, paramNames.map((n) => trainGraph.params.get(n)!));
  grads.forEach((d, i) => { if (d) outputs[`grad.${paramNames[i]}`] = d; });
  // Also what orders the backward pass to free each layer's activations early (globalNorm).
  outputs.grad_norm = globalNorm(trainGraph, grads, dtype);
  const threads = opts.threads;
  const train = await Session.fromGraph(trainGraph, { outputs, paramsAs: 'inputs', name: `deberta-pretrain-${spec.objective}` }, { threads });
  // The evaluation session is compiled at the first evaluation (a run without eval data never needs it).
  let evaluation: Session | undefined;
  const evalSession = async () => {
    if (!evaluation) {
      const evalGraph = new Graph();
      const evalBuilt = buildGraph(evalGraph, spec, source(evalGraph), dtype);
      evaluation = await Session.fromGraph(evalGraph, { outputs: evalBuilt.outputs, paramsAs: 'inputs', name: `deberta-pretrain-${spec.objective}-eval` }, { threads });
    }
    return evaluation;
  };
  const usesTypes = (spec.generator ?? spec.config).type_vocab_size > 0;
  const vocab = (spec.generator ?? spec.config).vocab_size;

  const feeds = (b: PretrainBatch, noise?: Rng): Record<string, Tensor> => {
    const f: Record<string, Tensor> = {
      input_ids: b.inputIds, attention_mask: b.attentionMask, masked_index: b.maskedIndex, masked_labels: b.maskedLabels,
    };
    if (b.maskedIndex.data.length === 0) throw new Error('pretraining: a batch without masked tokens');
    if (usesTypes) f.token_type_ids = tensor('int64', b.inputIds.dims);
    if (noise) f.sampling_noise = uniformNoise(noise, b.maskedIndex.data.length, vocab, dtype);
    for (const [k, t] of params) f[k] = t;
    return f;
  };

  const model: PretrainModel = {
    spec, paramNames, params, step: 0,
    async computeGradients(batch) {
      const f = feeds(batch, spec.objective === 'rtd' ? streamRng(seed, TRAIN_NOISE, model.step) : undefined);
      if (masks?.count) Object.assign(f, masks.masks(model.step, batch.inputIds.dims[0]!, batch.inputIds.dims[1]!));
      model.step++;
      const out = await train.run(f);
      const grads = new Map<string, Tensor>();
      for (const name of paramNames) {
        const p = params.get(name)!;
        grads.set(name, out[`grad.${name}`] ?? tensor(p.dtype, p.dims));
      }
      return { loss: Number(out.loss!.data[0]), grads, gradNorm: Number(out.grad_norm!.data[0]), stats: batchStats(batch, out), outputs: out };
    },
    async evaluate(batch, index) {
      const out = await (await evalSession()).run(feeds(batch, spec.objective === 'rtd' ? streamRng(seed, EVAL_NOISE, index) : undefined));
      return { stats: batchStats(batch, out), outputs: out };
    },
    async dispose() {
      await train.release();
      await evaluation?.release();
      evaluation = undefined;
    },
  };
  return model;
}

/** Sums of one batch from the graph's outputs. */
export function batchStats(b: PretrainBatch, out: Record<string, Tensor>): PretrainStats {
  const s = emptyStats();
  const labels = b.maskedLabels.data as BigInt64Array;
  const M = labels.length;
  s.sequences = b.inputIds.dims[0]!;
  s.masked = M;
  s.mlmLossSum = Number(out.mlm_loss!.data[0]) * M;
  const pred = out.mlm_predictions!.data as BigInt64Array;
  for (let i = 0; i < M; i++) if (pred[i] === labels[i]) s.mlmCorrect++;
  if (!out.rtd_logits) return s;
  // The discriminator's targets: 1 at masked rows whose sample differs from the original.
  const mask = b.attentionMask.data as BigInt64Array;
  const target = new Uint8Array(mask.length);
  const where = b.maskedIndex.data as BigInt64Array, sampled = out.sampled_ids!.data as BigInt64Array;
  for (let i = 0; i < M; i++) if (sampled[i] !== labels[i]) { target[Number(where[i])] = 1; s.replaced++; }
  const logits = toFloat64(out.rtd_logits);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    s.tokens++;
    if ((logits[i]! > 0 ? 1 : 0) === target[i]) s.rtdCorrect++;
  }
  s.rtdLossSum = Number(out.rtd_loss!.data[0]) * s.tokens;
  return s;
}
