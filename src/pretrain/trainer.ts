// Pretraining as a spec of the training loop (src/train/loop.ts): packed text -> dynamically masked
// micro-batches -> gradients (src/pretrain/model.ts); evaluation reports masked-token accuracy and
// perplexity (RTD: also the discriminator's accuracy). OUT/best and OUT/last (resumable: optimizer state,
// trainer state, the GDES deltas): an RTD checkpoint folder is the discriminator, a normal checkpoint (the
// shared embeddings folded in), with the generator in generator/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MODELS_DIR } from '../platform/node.ts';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { parseDebertaConfig, readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { architectureFor } from '../models/deberta/init.ts';
import { tensor, toFloat32, toFloat64, type Tensor } from '../tensor.ts';
import { AutoTokenizer } from '../tokenizers/auto.ts';
import { TOKENIZER_FILES, type CheckpointContents } from '../train/checkpoint.ts';
import { batchIndices } from '../train/data.ts';
import { check, runLoop, TrainingRun, type LoopOptions } from '../train/loop.ts';
import { batchTokens, corpusFiles, maskedBatch, maskVocabulary, packCorpus, type CorpusFormat, type PackedCorpus } from './data.ts';
import { checkMasking, MLM_MASKING, RTD_MASKING, type MaskingOptions, type MaskVocabulary } from './masking.ts';
import {
  addStats, createPretrainModel, emptyStats, exportCheckpoints, generatorConfig, importCheckpoints, initPretrainWeights,
  statsMetrics, type Objective, type PretrainModel, type PretrainSpec,
} from './model.ts';
import type { EmbeddingSharing } from './rtd.ts';

/** The embedded models' tokenizer (8,001 SentencePiece pieces trained on the Brown corpus), shipped in the package. */
export const DEFAULT_TOKENIZER = join(MODELS_DIR, 'deberta-v3-brown-small');

export interface PretrainOptions extends LoopOptions {
  /** A DeBERTa config.json: the model (MLM) or the discriminator (RTD). */
  config: string;
  objective: Objective;
  train: string[];
  eval?: string[];
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
  /** Metric that picks OUT/best (default: accuracy for MLM, rtd_accuracy for RTD; losses and perplexity: lower is better). */
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
  const objective = o.objective;
  check(objective === 'mlm' || objective === 'rtd', '--objective', `expected mlm or rtd, got '${objective}'`);
  const masking: MaskingOptions = { ...(objective === 'rtd' ? RTD_MASKING : MLM_MASKING), ...o.masking };
  checkMasking(masking);
  const run = new TrainingRun(o, { batchSize: 16, epochs: 1, lr: 5e-4, weightDecay: 0.01, betas: [0.9, 0.98], eps: 1e-6 });
  const { log, maxLength, seed, batchSize } = run;

  // Configs: from --config, or from the checkpoint being resumed.
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

  const plan = run.plan(trainCorpus.count);
  const args = {
    objective, ...run.settings(plan), emd, masking, sequences: trainCorpus.count, train: o.train,
    ...(spec.rtd ? { rtdLambda: spec.rtd.lambda, temperature: spec.rtd.temperature, sharing, generatorLayers: generator!.num_hidden_layers } : {}),
  };
  run.checkResume(args, ['objective', 'sequences', ...TrainingRun.RESUME_KEYS, 'emd', 'masking', 'rtdLambda', 'sharing', 'generatorLayers']);
  const corpusSize = { trainSequences: trainCorpus.count, trainTokens: trainCorpus.tokens };
  const finished = run.finished(plan);
  if (finished) {
    const st = finished.state;
    return {
      globalStep: st.globalStep, interrupted: false, lastDir: finished.lastDir, bestDir: finished.bestDir, bestMetric: st.bestMetric,
      metricName: st.metricName, lastEval: null, history: st.logHistory, ...corpusSize,
      secondsPerStep: NaN, tokensPerSecond: NaN, peakRssBytes: finished.peakRssBytes, nothingToDo: true,
    };
  }

  // Weights: fresh (seeded), or those of the resumed checkpoint.
  let weights: Map<string, Tensor>;
  if (o.resume) {
    const model = (await loadCheckpointTensors(o.resume)).tensors;
    const gen = objective === 'rtd' ? (await loadCheckpointTensors(join(o.resume, 'generator'))).tensors : undefined;
    const deltaFile = join(o.resume, 'gdes_delta.safetensors');
    const deltas = existsSync(deltaFile) ? readSafetensors(deltaFile).tensors : undefined;
    weights = importCheckpoints(spec, model, gen, deltas);
  } else weights = initPretrainWeights(spec, seed);
  const dtype = run.dtype;
  for (const [k, t] of weights) {
    if (t.dtype !== dtype) weights.set(k, dtype === 'float64' ? tensor('float64', t.dims, toFloat64(t)) : tensor('float32', t.dims, toFloat32(t)));
  }
  let parameters = 0;
  for (const t of weights.values()) parameters += t.data.length;
  log(`${objective === 'mlm' ? `MLM${emd ? ' with the Enhanced Mask Decoder' : ''}` : `RTD (generator of ${generator!.num_hidden_layers} layers${emd ? ' with the EMD' : ''}, ${sharing} embedding sharing, lambda ${spec.rtd!.lambda})`}: ` +
    `${parameters.toLocaleString('en-US')} parameters`);
  const model = await createPretrainModel(spec, weights, { dtype, dropout: o.dropout ?? true, seed, threads: o.threads });

  const r = await runLoop(run, {
    plan, args, items: trainCorpus.count, model,
    batch: (idx, epoch) => {
      const batch = maskedBatch(trainCorpus, idx, vocab, masking, padId, seed, epoch);
      return { batch, weight: idx.length, tokens: batchTokens(batch) };
    },
    logEntry: (results) => {
      const m = statsMetrics(results.reduce((s, x) => addStats(s, x.stats), emptyStats()), objective, spec.rtd?.lambda);
      return { accuracy: m.accuracy!, ...(objective === 'rtd' ? { rtd_accuracy: m.rtd_accuracy! } : {}) };
    },
    evaluate: evalCorpus
      ? async () => ({ metrics: await evaluatePretraining(model, evalCorpus, vocab, masking, padId, seed, o.evalBatchSize ?? batchSize) })
      : undefined,
    evalSteps: o.evalSteps,
    defaultMetric: objective === 'mlm' ? 'accuracy' : 'rtd_accuracy', what: objective, reportBy: 'step',
    headline: `pretraining ${trainCorpus.count} sequences`, unit: 'sequences',
    checkpoint: (resumable) => {
      const c = exportCheckpoints(spec, model.params);
      const contents: CheckpointContents = { config: savedConfig, weights: c.model, tokenizerDir };
      if (objective === 'rtd') {
        contents.subdirs = { generator: { config: mlmConfig(generator!), weights: c.generator!, tokenizerDir } };
        if (resumable && c.deltas!.size) contents.extraTensors = { 'gdes_delta.safetensors': c.deltas! };
      }
      return contents;
    },
  });
  const st = r.state;
  return {
    globalStep: st.globalStep, interrupted: r.interrupted, lastDir: r.lastDir, bestDir: r.bestDir, bestMetric: st.bestMetric,
    metricName: st.metricName, lastEval: r.lastEval?.metrics ?? null, history: st.logHistory, ...corpusSize,
    secondsPerStep: r.secondsPerStep, tokensPerSecond: r.tokensPerSecond, peakRssBytes: r.peakRssBytes,
  };
}
