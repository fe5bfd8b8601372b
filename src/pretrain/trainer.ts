// The pretraining loop, the fine-tuning trainer's twin: packed text -> dynamically masked micro-batches
// -> gradients (src/pretrain/model.ts) -> accumulation, clipping, AdamW with a schedule -> evaluation
// (masked-token accuracy and perplexity; RTD accuracy) -> checkpoints: OUT/best (best evaluation) and
// OUT/last (resumable: optimizer state, trainer state, the GDES deltas). An RTD checkpoint folder is the
// discriminator, a normal checkpoint (the shared embeddings folded in), with the generator in generator/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { MODELS_DIR } from '../platform/node.ts';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { parseDebertaConfig, readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { architectureFor } from '../models/deberta/init.ts';
import { tensor, toFloat32, toFloat64, type Tensor } from '../tensor.ts';
import { AutoTokenizer } from '../tokenizers/auto.ts';
import { checkWritableFolder, readResumeState, removeStaleTemporaries, saveCheckpoint, TOKENIZER_FILES, type CheckpointContents, type TrainerState } from '../train/checkpoint.ts';
import { batchIndices } from '../train/data.ts';
import { AdamW, applyUpdate, GradientAccumulator, learningRate, type ScheduleKind } from '../train/optim.ts';
import { ProgressBar } from '../train/progress.ts';
import { Rng } from '../util/random.ts';
import { peakRss, type RunControl, type TrainingSettings } from '../train/trainer.ts';
import { batchTokens, corpusFiles, maskedBatch, maskVocabulary, packCorpus, type CorpusFormat, type PackedCorpus } from './data.ts';
import { checkMasking, MLM_MASKING, RTD_MASKING, type MaskingOptions, type MaskVocabulary } from './masking.ts';
import {
  addStats, createPretrainModel, emptyStats, exportCheckpoints, generatorConfig, importCheckpoints, initPretrainWeights,
  statsMetrics, type Objective, type PretrainModel, type PretrainSpec,
} from './model.ts';
import type { EmbeddingSharing } from './rtd.ts';

/** The tokenizer our own models use until one is trained for them: SentencePiece unigram, 8001 ids, trained on Brown. */
/** The embedded models' tokenizer (8,001 SentencePiece pieces trained on the Brown corpus), shipped in the package. */
export const DEFAULT_TOKENIZER = join(MODELS_DIR, 'deberta-v3-brown-small');

export interface PretrainOptions extends RunControl, TrainingSettings {
  /** A DeBERTa config.json: the model (MLM) or the discriminator (RTD). */
  config: string;
  objective: Objective;
  train: string[];
  eval?: string[];
  out: string;
  /** Tokenizer folder (default: the config's folder when it holds one, else DEFAULT_TOKENIZER). */
  tokenizer?: string;
  format?: CorpusFormat;
  /** Masking: rate (0.15), whole words, spans up to maxNgram, [MASK] / random fractions (MLM 0.8 / 0.1; RTD 1 / 0). */
  masking?: Partial<MaskingOptions>;
  /** Enhanced Mask Decoder (default: on when the config's position_biased_input is false). */
  emd?: boolean;
  /** RTD: loss weight (50), generator depth (half), embedding sharing ('gdes'), sampling temperature (1). */
  rtdLambda?: number;
  generatorLayers?: number;
  embeddingSharing?: EmbeddingSharing;
  temperature?: number;
  /** Evaluate every this many updates too (besides each epoch's end). */
  evalSteps?: number;
  /** Metric that picks OUT/best (default: accuracy for MLM, rtd_accuracy for RTD; loss and perplexity: lower is better). */
  metric?: string;
}

export interface PretrainResult {
  globalStep: number;
  interrupted: boolean;
  lastDir: string;
  bestDir: string | null;
  bestMetric: number | null;
  metricName: string;
  /** The last evaluation's metrics (null without eval files). */
  lastEval: Record<string, number> | null;
  history: Record<string, number | string>[];
  trainSequences: number;
  trainTokens: number;
  secondsPerStep: number;
  tokensPerSecond: number;
  peakRssBytes: number;
  /** The resumed run had already done all its updates: nothing was trained or written (lastDir is the resumed folder). */
  nothingToDo?: boolean;
}

function check(cond: boolean, flag: string, msg: string): void {
  if (!cond) throw new Error(`${flag}: ${msg}`);
}

const lowerIsBetter = (metric: string) => /loss|perplexity/.test(metric);

function readConfigFile(file: string): DebertaConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: cannot read the config (${(err as Error).message})`);
  }
  return parseDebertaConfig(json, file);
}

/** The tokenizer folder: the flag, else the config's folder when it holds tokenizer files, else the default. */
function tokenizerFolder(o: PretrainOptions): string {
  if (o.tokenizer) return o.tokenizer;
  const dir = dirname(o.config);
  return TOKENIZER_FILES.some((f) => existsSync(join(dir, f))) ? dir : DEFAULT_TOKENIZER;
}

/** Evaluation over a packed corpus with fixed masks (the same every time) and fixed sampling noise. */
export async function evaluatePretraining(model: PretrainModel, corpus: PackedCorpus, v: MaskVocabulary, masking: MaskingOptions,
  padId: number, seed: number, batchSize: number): Promise<Record<string, number>> {
  const stats = emptyStats();
  const order = [...Array(corpus.count).keys()];
  let k = 0;
  for (const idx of batchIndices(order, batchSize)) {
    const r = await model.evaluate(maskedBatch(corpus, idx, v, masking, padId, seed, -1), k++);
    addStats(stats, r.stats);
  }
  return statsMetrics(stats, model.spec.objective, model.spec.rtd?.lambda);
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const objective = o.objective;
  check(objective === 'mlm' || objective === 'rtd', '--objective', `expected mlm or rtd, got '${objective}'`);
  const batchSize = o.batchSize ?? 16;
  const gradAccum = o.gradAccum ?? 1;
  const seed = o.seed ?? 42;
  const dtype = o.dtype ?? 'float32';
  const maxGradNorm = o.maxGradNorm ?? 1;
  const maxLength = o.maxLength ?? 128;
  check(Number.isSafeInteger(batchSize) && batchSize >= 1, '--batch-size', `must be a positive integer, got ${batchSize}`);
  check(Number.isSafeInteger(gradAccum) && gradAccum >= 1, '--grad-accum', `must be a positive integer, got ${gradAccum}`);
  check(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 32, '--seed', `must be an integer in [0, 2^32), got ${seed}`);
  check(Number.isSafeInteger(maxLength) && maxLength >= 4, '--max-length', `must be an integer >= 4, got ${maxLength}`);
  check(maxGradNorm >= 0, '--max-grad-norm', `must be >= 0, got ${maxGradNorm}`);
  const masking: MaskingOptions = { ...(objective === 'rtd' ? RTD_MASKING : MLM_MASKING), ...o.masking };
  checkMasking(masking);

  // The output folder must be writable before anything is loaded; what killed runs left there is tidied
  // (and a checkpoint caught between its two renames restored) before the resumed folder is read.
  checkWritableFolder(o.out, '--out');
  for (const dir of new Set([resolve(o.out), ...(o.resume ? [dirname(resolve(o.resume))] : [])])) {
    for (const line of removeStaleTemporaries(dir)) log(line);
  }

  // Configs: from --config, or from the checkpoint being resumed.
  const resume = o.resume ? readResumeState(o.resume) : undefined;
  const given = readConfigFile(o.config);
  const config = o.resume ? readDebertaConfig(o.resume) : given;
  if (o.resume) {
    for (const k of ['model_type', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'vocab_size'] as const) {
      check(config[k] === given[k], '--resume', `${o.resume} has ${k} ${config[k]}, ${o.config} says ${given[k]}`);
    }
  }
  const emd = o.emd ?? !config.position_biased_input;
  if (config.position_biased_input || emd) {
    check(maxLength <= config.max_position_embeddings, '--max-length', `${maxLength} exceeds the config's max_position_embeddings (${config.max_position_embeddings})`);
  }
  const sharing = o.embeddingSharing ?? 'gdes';
  const generator = objective === 'rtd'
    ? (o.resume ? readDebertaConfig(join(o.resume, 'generator')) : generatorConfig(config, o.generatorLayers)) : undefined;
  const spec: PretrainSpec = {
    objective, config, generator, emd,
    rtd: objective === 'rtd' ? { lambda: o.rtdLambda ?? 50, temperature: o.temperature ?? 1, sharing } : undefined,
  };
  // The configs as saved: the MLM model and the generator in Microsoft's masked-LM layout (lm_predictions.lm_head).
  const mlmConfig = (c: DebertaConfig): DebertaConfig => ({ ...c, legacy: false, architectures: [architectureFor(c, 'masked-lm')] });
  const savedConfig = objective === 'mlm' ? mlmConfig(config) : { ...config, architectures: [architectureFor(config, 'base')] };

  // Tokenizer and data.
  const tokenizerDir = tokenizerFolder(o);
  const tokenizer = await AutoTokenizer.fromPretrained(tokenizerDir).catch((err: Error) => {
    throw new Error(`--tokenizer: ${err.message}`);
  });
  check(tokenizer.vocabSize <= config.vocab_size, o.config, `vocab_size ${config.vocab_size} is smaller than the tokenizer's ${tokenizer.vocabSize} ids (${tokenizerDir})`);
  const vocab = maskVocabulary(tokenizer);
  const padId = tokenizer.padTokenId;
  const t0 = performance.now();
  const trainFiles = corpusFiles(o.train, '--train');
  let lastNote = performance.now(), filesDone = 0, tokensDone = 0;
  const onFile = (_file: string, tokens: number) => {
    filesDone++; tokensDone += tokens;
    if (performance.now() - lastNote > 5000) {
      lastNote = performance.now();
      log(`tokenizing: ${filesDone} of ${trainFiles.length} file(s), ${tokensDone.toLocaleString('en-US')} tokens`);
    }
  };
  const trainCorpus = packCorpus(trainFiles, tokenizer, vocab, { maxLength, format: o.format, onFile });
  const evalCorpus = o.eval ? packCorpus(corpusFiles(o.eval, '--eval'), tokenizer, vocab, { maxLength, format: o.format }) : undefined;
  log(`tokenized ${trainFiles.length} file(s): ${trainCorpus.tokens.toLocaleString('en-US')} tokens in ${trainCorpus.count} sequences of up to ${maxLength}` +
    `${evalCorpus ? `; eval: ${evalCorpus.tokens.toLocaleString('en-US')} tokens in ${evalCorpus.count}` : ''} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  // The schedule.
  const microPerEpoch = Math.ceil(trainCorpus.count / batchSize);
  const stepsPerEpoch = Math.ceil(microPerEpoch / gradAccum);
  const totalSteps = o.maxSteps ?? (o.epochs ?? 1) * stepsPerEpoch;
  check(Number.isSafeInteger(totalSteps) && totalSteps >= 1, o.maxSteps !== undefined ? '--max-steps' : '--epochs', `gives ${totalSteps} updates`);
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);
  const warmupSteps = o.warmupSteps ?? Math.ceil((o.warmupRatio ?? 0) * totalSteps);
  const schedule = { kind: o.schedule ?? 'linear' as ScheduleKind, lr: o.lr ?? 5e-4, warmupSteps, totalSteps };
  const args = {
    objective, batchSize, gradAccum, epochs, totalSteps, lr: schedule.lr, schedule: schedule.kind, warmupSteps, maxLength, seed, dtype,
    weightDecay: o.weightDecay ?? 0.01, decay: o.decay ?? 'no-bias-norm', maxGradNorm, emd, masking,
    sequences: trainCorpus.count, train: o.train,
    ...(spec.rtd ? { rtdLambda: spec.rtd.lambda, temperature: spec.rtd.temperature, sharing, generatorLayers: generator!.num_hidden_layers } : {}),
  };
  if (resume) {
    const before = resume.trainerState.args;
    for (const k of ['objective', 'sequences', 'batchSize', 'gradAccum', 'totalSteps', 'seed', 'maxLength', 'emd', 'masking', 'rtdLambda', 'sharing', 'generatorLayers'] as const) {
      const a = JSON.stringify(before[k]), b = JSON.stringify((args as Record<string, unknown>)[k]);
      if (before[k] !== undefined && a !== b) throw new Error(`${o.resume}: was trained with ${k} ${a}, this run asks for ${b}; resume with the same settings`);
    }
  }
  if (resume && resume.trainerState.globalStep >= totalSteps) {
    const st = resume.trainerState;
    const best = join(dirname(resolve(o.resume!)), 'best');
    log(`nothing to do: ${o.resume} has already done all ${totalSteps} updates; nothing was trained or written`);
    return {
      globalStep: st.globalStep, interrupted: false, lastDir: o.resume!,
      bestDir: st.bestStep !== null && existsSync(join(best, 'model.safetensors')) ? best : null, bestMetric: st.bestMetric,
      metricName: st.metricName, lastEval: null, history: st.logHistory, trainSequences: trainCorpus.count, trainTokens: trainCorpus.tokens,
      secondsPerStep: NaN, tokensPerSecond: NaN, peakRssBytes: peakRss(), nothingToDo: true,
    };
  }

  // Weights: fresh (seeded), or those of the resumed checkpoint.
  let weights: Map<string, Tensor>;
  if (o.resume) {
    const model = await (await loadCheckpointTensors(o.resume)).tensors;
    const gen = objective === 'rtd' ? (await loadCheckpointTensors(join(o.resume, 'generator'))).tensors : undefined;
    const deltaFile = join(o.resume, 'gdes_delta.safetensors');
    const deltas = existsSync(deltaFile) ? readSafetensors(deltaFile).tensors : undefined;
    weights = importCheckpoints(spec, model, gen, deltas);
  } else weights = initPretrainWeights(spec, seed);
  for (const [k, t] of weights) {
    if (t.dtype !== dtype) weights.set(k, dtype === 'float64' ? tensor('float64', t.dims, toFloat64(t)) : tensor('float32', t.dims, toFloat32(t)));
  }
  let parameters = 0;
  for (const t of weights.values()) parameters += t.data.length;
  log(`${objective === 'mlm' ? `MLM${emd ? ' with the Enhanced Mask Decoder' : ''}` : `RTD (generator of ${generator!.num_hidden_layers} layers${emd ? ' with the EMD' : ''}, ${sharing} embedding sharing, lambda ${spec.rtd!.lambda})`}: ` +
    `${parameters.toLocaleString('en-US')} parameters`);
  const model = await createPretrainModel(spec, weights, { dtype, dropout: o.dropout ?? true, seed, threads: o.threads });
  model.step = resume?.trainerState.dropoutStep ?? 0;

  try {
    const opt = new AdamW(model.params, { lr: schedule.lr, betas: o.betas ?? [0.9, 0.98], eps: o.eps ?? 1e-6, weightDecay: args.weightDecay, decay: args.decay });
    if (resume) opt.loadStateTensors(resume.optimizer.tensors, resume.optimizer.step, join(o.resume!, 'optimizer.safetensors'));
    const state: TrainerState = resume?.trainerState ?? {
      globalStep: 0, epoch: 0, batchInEpoch: 0, dropoutStep: 0, totalSteps, seed, bestMetric: null, bestStep: null,
      metricName: o.metric ?? (objective === 'mlm' ? 'accuracy' : 'rtd_accuracy'), logHistory: [], args,
    };
    const lastDir = join(o.out, 'last');
    const bestDir = join(o.out, 'best');
    const save = (dir: string, resumable: boolean, extra?: Record<string, unknown>) => {
      const c = exportCheckpoints(spec, model.params);
      const contents: CheckpointContents = {
        config: savedConfig, weights: c.model, tokenizerDir,
        optimizer: resumable ? { tensors: opt.stateTensors(), step: opt.stepCount } : undefined,
        trainerState: resumable ? state : undefined, extraJson: extra,
      };
      if (objective === 'rtd') {
        contents.subdirs = { generator: { config: mlmConfig(generator!), weights: c.generator!, tokenizerDir } };
        if (resumable && c.deltas!.size) contents.extraTensors = { 'gdes_delta.safetensors': c.deltas! };
      }
      saveCheckpoint(dir, contents);
    };

    let lastEval: Record<string, number> | null = null;
    let evaluatedAt = -1;
    const runEval = async (bar: ProgressBar, epoch: number) => {
      if (!evalCorpus || evaluatedAt === state.globalStep) return;
      evaluatedAt = state.globalStep;
      const m = await evaluatePretraining(model, evalCorpus, vocab, masking, padId, seed, o.evalBatchSize ?? batchSize);
      lastEval = m;
      state.logHistory.push({ step: state.globalStep, epoch: epoch + 1, ...m });
      bar.log(`step ${state.globalStep}: ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}`);
      const value = m[state.metricName];
      check(value !== undefined, '--metric', `'${state.metricName}' is not computed for ${objective} (have ${Object.keys(m).join(', ')})`);
      const better = state.bestMetric === null || (lowerIsBetter(state.metricName) ? value! < state.bestMetric : value! > state.bestMetric);
      if (better) {
        state.bestMetric = value!;
        state.bestStep = state.globalStep;
        save(bestDir, false, { 'eval_results.json': { step: state.globalStep, ...m } });
      }
    };

    const bar = new ProgressBar(process.stderr, 5000, o.progress ?? true);
    const acc = new GradientAccumulator();
    let interrupted = false;
    let stepTime = 0, stepsTimed = 0, tokensSeen = 0;
    const recent: number[] = [];
    log(`pretraining ${trainCorpus.count} sequences: ${epochs} epoch(s), ${totalSteps} updates of ${batchSize * gradAccum} sequences, ` +
      `lr ${schedule.lr} (${schedule.kind}, ${warmupSteps} warm-up)`);
    bar.begin(state.globalStep);

    outer: for (let epoch = state.epoch; epoch < epochs && state.globalStep < totalSteps; epoch++) {
      const order = new Rng(seed * 65536 + epoch).shuffle([...Array(trainCorpus.count).keys()]);
      const micro = batchIndices(order, batchSize);
      let mb = epoch === state.epoch ? state.batchInEpoch : 0;
      state.epoch = epoch;
      while (mb < micro.length && state.globalStep < totalSteps) {
        const t0 = performance.now();
        const group = micro.slice(mb, mb + gradAccum);
        const stats = emptyStats();
        let grads: Map<string, Tensor>, loss: number, tokens = 0;
        for (const idx of group) {
          const batch = maskedBatch(trainCorpus, idx, vocab, masking, padId, seed, epoch);
          tokens += batchTokens(batch);
          const r = await model.computeGradients(batch);
          addStats(stats, r.stats);
          if (group.length === 1) ({ grads, loss } = r);
          else acc.add(r.grads, r.loss, idx.length);
        }
        if (group.length > 1) ({ grads, loss } = acc.take());
        if (!Number.isFinite(loss!)) throw new Error(`update ${state.globalStep + 1}: the loss is ${loss!}; lower --lr or check the data`);
        const lr = learningRate(schedule, state.globalStep);
        applyUpdate(opt, grads!, lr, maxGradNorm);
        state.globalStep++;
        mb += group.length;
        state.batchInEpoch = mb;
        state.dropoutStep = model.step;
        stepTime += performance.now() - t0; stepsTimed++; tokensSeen += tokens;

        recent.push(loss!);
        if (recent.length > 20) recent.shift();
        bar.update({ step: state.globalStep, total: totalSteps, epoch: epoch + 1, epochs, loss: recent.reduce((a, b) => a + b, 0) / recent.length, lr, tokens });
        if (state.globalStep % 10 === 0 || state.globalStep === 1) {
          const m = statsMetrics(stats, objective, spec.rtd?.lambda);
          state.logHistory.push({ step: state.globalStep, loss: loss!, lr, accuracy: m.accuracy!, ...(objective === 'rtd' ? { rtd_accuracy: m.rtd_accuracy! } : {}) });
        }
        o.onStep?.({ step: state.globalStep, loss: loss!, lr, epoch });

        if (o.signal?.aborted) {
          bar.end();
          save(lastDir, true);
          log(`interrupted: saved ${lastDir} at update ${state.globalStep} (continue with --resume ${lastDir})`);
          interrupted = true;
          break outer;
        }
        if (o.evalSteps && state.globalStep % o.evalSteps === 0 && state.globalStep < totalSteps) await runEval(bar, epoch);
        if (o.saveSteps && state.globalStep % o.saveSteps === 0) save(lastDir, true);
      }
      if (mb >= micro.length) { state.epoch = epoch + 1; state.batchInEpoch = 0; }
      await runEval(bar, epoch);
      save(lastDir, true);
    }
    bar.end();
    const seconds = stepTime / 1000;
    return {
      globalStep: state.globalStep, interrupted, lastDir, bestDir: state.bestStep === null ? null : bestDir, bestMetric: state.bestMetric,
      metricName: state.metricName, lastEval, history: state.logHistory, trainSequences: trainCorpus.count, trainTokens: trainCorpus.tokens,
      secondsPerStep: stepsTimed ? seconds / stepsTimed : NaN, tokensPerSecond: seconds > 0 ? tokensSeen / seconds : NaN, peakRssBytes: peakRss(),
    };
  } finally {
    await model.dispose();
  }
}
