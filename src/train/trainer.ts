// The fine-tuning loop: data -> features -> shuffled micro-batches -> gradients (src/train/step.ts) ->
// accumulation, clipping, AdamW with a schedule -> evaluation each epoch -> checkpoints (the best one,
// and the last one with optimizer state for resuming). Parameters, optimizer state and the ONNX Runtime
// sessions live for the whole run; nothing is rebuilt per step.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { headFromConfig } from '../models/auto.ts';
import { readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { architectureFor, initParam, paramShapes } from '../models/deberta/init.ts';
import type { HeadKind } from '../models/deberta/modeling.ts';
import { tensor, toFloat32, toFloat64, type Tensor } from '../tensor.ts';
import { AutoTokenizer } from '../tokenizers/auto.ts';
import { checkWritableFolder, readResumeState, removeStaleTemporaries, saveCheckpoint, type TrainerState } from './checkpoint.ts';
import {
  batchIndices, collate, countTokens, encoderFromTokenizer, examplesOf, featurize, lossWeight, readRecords, toExamples,
  TASKS, type ColumnOptions, type SeqClsExample, type Task,
} from './data.ts';
import { defaultMetric, evaluate, improves, type EvalResult } from './evaluate.ts';
import { buildLabelMap, inferProblemType, labelNames, sequenceLabelMap, type LabelMap, type ProblemType } from './labels.ts';
import { AdamW, applyUpdate, GradientAccumulator, learningRate, type ScheduleKind } from './optim.ts';
import { ProgressBar } from './progress.ts';
import { Rng } from '../util/random.ts';
import { gradientModelFromTensors } from './step.ts';

export { evaluate, type EvalResult, type EvalSettings } from './evaluate.ts';

export interface TrainOptions extends RunControl, TrainingSettings {
  /** Checkpoint folder to fine-tune (config.json + weights; its tokenizer unless `tokenizer` is given). */
  model: string;
  /** Default: the task of the model's head (config.json `architectures`). */
  task?: Task;
  /**
   * Sequence classification (default: the model config's `problem_type`, else read off the labels:
   * lists -> multi-label, fractional numbers -> regression, else single-label).
   */
  problemType?: ProblemType;
  train: string;
  eval?: string;
  /** Output folder: `best/` (best evaluation) and `last/` (latest, with optimizer state). */
  out: string;
  tokenizer?: string;
  format?: 'jsonl' | 'csv' | 'tsv';
  columns?: ColumnOptions;
  /** Question answering: overlap, in tokens, of consecutive context windows (default min(maxLength / 2, 128)). */
  docStride?: number;
  /**
   * Metric that picks the best checkpoint (default: accuracy; micro_f1 for multi-label, mse (lower is
   * better) for regression, f1 for token classification and QA).
   */
  metric?: string;
  /** Longest answer, in tokens, question answering predicts. */
  maxAnswerLength?: number;
}

/** The batching, optimiser and schedule settings that fine-tuning and pretraining share. */
export interface TrainingSettings {
  epochs?: number;
  /** Stop after this many optimizer updates (overrides `epochs`). */
  maxSteps?: number;
  batchSize?: number;
  evalBatchSize?: number;
  gradAccum?: number;
  lr?: number;
  weightDecay?: number;
  /** 'no-bias-norm' (transformers Trainer, default) or 'all' (torch AdamW on every parameter). */
  decay?: 'all' | 'no-bias-norm';
  betas?: [number, number];
  eps?: number;
  schedule?: ScheduleKind;
  warmupSteps?: number;
  warmupRatio?: number;
  /** Global gradient-norm clipping; 0 turns it off. */
  maxGradNorm?: number;
  maxLength?: number;
  seed?: number;
  dtype?: 'float32' | 'float64';
  threads?: number;
  /** Dropout as the config sets it (default true). */
  dropout?: boolean;
}

/** How a training run (fine-tuning or pretraining) is resumed, saved, stopped, watched and logged. */
export interface RunControl {
  /** A `last/` checkpoint folder of an earlier run to continue. */
  resume?: string;
  /** Also save `last/` every this many updates. */
  saveSteps?: number;
  /** Stops training after the current update, saving `last/` first (Ctrl-C). */
  signal?: AbortSignal;
  /** Called after every optimizer update (e.g. to stop a run through `signal` at a given step). */
  onStep?: (info: { step: number; loss: number; lr: number; epoch: number }) => void;
  /** Show the progress bar (default true). */
  progress?: boolean;
  log?: (line: string) => void;
}

export interface TrainResult {
  task: Task;
  /** Sequence classification: the problem type trained (saved in config.json). */
  problemType?: ProblemType;
  globalStep: number;
  interrupted: boolean;
  bestMetric: number | null;
  bestDir: string | null;
  lastDir: string;
  /** Evaluation of the best checkpoint. */
  bestEval: EvalResult | null;
  history: Record<string, number | string>[];
  labels: LabelMap;
  metricName: string;
  /** Mean seconds per optimizer update, and the peak resident memory of the process (bytes). */
  secondsPerStep: number;
  peakRssBytes: number;
  /** The resumed run had already done all its updates: nothing was trained or written (lastDir is the resumed folder). */
  nothingToDo?: boolean;
}

const HEAD: Record<Task, HeadKind> = {
  'sequence-classification': 'sequence-classification',
  'token-classification': 'token-classification',
  'question-answering': 'question-answering',
  'multiple-choice': 'multiple-choice',
};

function check(cond: boolean, flag: string, msg: string): void {
  if (!cond) throw new Error(`${flag}: ${msg}`);
}

/** The peak resident set size so far (Linux VmHWM; elsewhere the current RSS). */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss;
}

/**
 * The weights to train: the checkpoint's, under the head's names (a bare encoder gains the 'deberta.'
 * prefix), with head weights it lacks or whose shape changed (a new label count) freshly initialised.
 */
export function trainingWeights(config: DebertaConfig, head: HeadKind, ckpt: Map<string, Tensor>, file: string,
  seed: number, dtype: 'float32' | 'float64'): { weights: Map<string, Tensor>; fresh: string[] } {
  const prefixed = [...ckpt.keys()].some((k) => k.startsWith('deberta.'));
  const rng = new Rng(seed);
  const weights = new Map<string, Tensor>();
  const fresh: string[] = [];
  for (const [name, dims] of paramShapes(config, head)) {
    const t = ckpt.get(name) ?? (!prefixed && name.startsWith('deberta.') ? ckpt.get(name.slice('deberta.'.length)) : undefined);
    const fits = t && t.dims.length === dims.length && t.dims.every((d, i) => d === dims[i]);
    if (!fits && name.startsWith('deberta.')) {
      throw new Error(t ? `${file}: weight '${name}' has shape [${t.dims}], the config implies [${dims}]`
        : `${file}: missing encoder weight '${name}' (expected shape [${dims}])`);
    }
    const value = fits ? t! : initParam(config, name, dims, rng);
    if (!fits) fresh.push(name);
    // The tensors become the live parameters: converted once here, never copied when already in `dtype`.
    weights.set(name, value.dtype === dtype ? value : dtype === 'float64'
      ? tensor('float64', value.dims, toFloat64(value))
      : tensor('float32', value.dims, value.dtype === 'float64' ? Float32Array.from(value.data as Float64Array) : toFloat32(value)));
  }
  return { weights, fresh };
}

// A function of its own so that the checkpoint's tensors (when converted) are not kept for the whole run.
async function loadTrainingWeights(dir: string, config: DebertaConfig, head: HeadKind, seed: number, dtype: 'float32' | 'float64') {
  const { tensors, files } = await loadCheckpointTensors(dir);
  return trainingWeights(config, head, tensors, files.length === 1 ? files[0]! : dir, seed, dtype);
}

/** The task when --task is not given: that of the model's head. */
function taskOf(config: DebertaConfig, dir: string): Task {
  let head: string;
  try {
    head = headFromConfig(config);
  } catch (err) {
    throw new Error(`--task: not given, and ${join(dir, 'config.json')}: ${(err as Error).message.replace(/^config\.json: /, '')}`);
  }
  if (!(TASKS as string[]).includes(head)) {
    throw new Error(`--task: not given, and ${join(dir, 'config.json')} names no fine-tuning head (architectures: ${JSON.stringify(config.architectures ?? [])}); pass --task ${TASKS.join(' | ')}`);
  }
  return head as Task;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const batchSize = o.batchSize ?? 8;
  const gradAccum = o.gradAccum ?? 1;
  const seed = o.seed ?? 42;
  const dtype = o.dtype ?? 'float32';
  const maxGradNorm = o.maxGradNorm ?? 1;
  check(Number.isSafeInteger(batchSize) && batchSize >= 1, '--batch-size', `must be a positive integer, got ${batchSize}`);
  check(Number.isSafeInteger(gradAccum) && gradAccum >= 1, '--grad-accum', `must be a positive integer, got ${gradAccum}`);
  check(Number.isSafeInteger(seed) && seed >= 0 && seed < 2 ** 32, '--seed', `must be an integer in [0, 2^32), got ${seed}`);
  check(maxGradNorm >= 0, '--max-grad-norm', `must be >= 0, got ${maxGradNorm}`);

  // The output folder must be writable before anything is loaded; what killed runs left there is tidied
  // (and a checkpoint caught between its two renames restored) before the resumed folder is read.
  checkWritableFolder(o.out, '--out');
  for (const dir of new Set([resolve(o.out), ...(o.resume ? [dirname(resolve(o.resume))] : [])])) {
    for (const line of removeStaleTemporaries(dir)) log(line);
  }

  // Where the weights come from: the model, or the checkpoint being resumed (which has the label map).
  const source = o.resume ?? o.model;
  const resume = o.resume ? readResumeState(o.resume) : undefined;
  const config = readDebertaConfig(source);
  const task = o.task ?? taskOf(config, source);
  const head = HEAD[task];
  // A resumed run must repeat the settings that shape the data, the schedule and the random streams.
  const sameAsBefore = (now: Record<string, unknown>, keys: string[]) => {
    const before = resume?.trainerState.args ?? {};
    for (const k of keys) {
      if (before[k] !== undefined && before[k] !== now[k]) {
        throw new Error(`${o.resume}: was trained with ${k} ${JSON.stringify(before[k])}, this run asks for ${JSON.stringify(now[k])}; resume with the same settings`);
      }
    }
  };
  const tokenizerDir = o.tokenizer ?? source;
  const tokenizer = await AutoTokenizer.fromPretrained(tokenizerDir).catch((err: Error) => {
    throw new Error(`${err.message}${o.tokenizer ? '' : ' (name a tokenizer folder with --tokenizer)'}`);
  });
  const enc = encoderFromTokenizer(tokenizer);
  let maxLength = o.maxLength ?? 128;
  check(Number.isSafeInteger(maxLength) && maxLength >= 4, '--max-length', `must be an integer >= 4, got ${maxLength}`);
  if (config.position_biased_input && maxLength > config.max_position_embeddings) {
    log(`note: --max-length ${maxLength} exceeds max_position_embeddings; using ${config.max_position_embeddings}`);
    maxLength = config.max_position_embeddings;
  }

  let docStride: number | undefined;
  if (task === 'question-answering') {
    docStride = o.docStride ?? Math.min(Math.floor(maxLength / 2), 128);
    check(Number.isSafeInteger(docStride) && docStride >= 0 && docStride < maxLength, '--doc-stride',
      `must be an integer in [0, --max-length ${maxLength}), got ${docStride}`);
  }

  // Data and labels.
  sameAsBefore({ task }, ['task']);
  const trainEx = toExamples(task, readRecords(o.train, o.format), o.train, o.columns);
  const evalEx = o.eval ? toExamples(task, readRecords(o.eval, o.format), o.eval, o.columns) : [];
  let labels: LabelMap = { id2label: config.id2label, label2id: config.label2id };
  let problemType: ProblemType | undefined;
  if (task === 'sequence-classification') {
    problemType = sequenceProblem(config, examplesOf(trainEx, task), o, log);
    sameAsBefore({ problemType }, ['problemType']);
    if (!resume) labels = sequenceLabelMap(problemType, examplesOf(trainEx, task), labels, o.train);
  } else if (task === 'token-classification' && !resume) {
    labels = buildLabelMap(labelNames(trainEx), labels);
  }
  if (task === 'sequence-classification' || task === 'token-classification') {
    const n = Object.keys(labels.id2label).length;
    const least = problemType === 'regression' || problemType === 'multi_label_classification' ? 1 : 2;
    check(n >= least || resume !== undefined, o.train, `needs at least ${least === 1 ? 'one label' : 'two different labels'}, found ${n}`);
    Object.assign(config, { id2label: labels.id2label, label2id: labels.label2id, num_labels: n });
  }
  config.architectures = [architectureFor(config, head)];
  const featureOptions = { maxLength, labels, problemType, docStride };
  const trainFeatures = featurize(task, trainEx, enc, { ...featureOptions, file: o.train });
  const evalFeatures = o.eval ? featurize(task, evalEx, enc, { ...featureOptions, file: o.eval }) : [];

  // The schedule.
  const microPerEpoch = Math.ceil(trainFeatures.length / batchSize);
  const stepsPerEpoch = Math.ceil(microPerEpoch / gradAccum);
  const totalSteps = o.maxSteps ?? (o.epochs ?? 3) * stepsPerEpoch;
  check(Number.isSafeInteger(totalSteps) && totalSteps >= 1, o.maxSteps !== undefined ? '--max-steps' : '--epochs', `gives ${totalSteps} updates`);
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);
  const warmupSteps = o.warmupSteps ?? Math.ceil((o.warmupRatio ?? 0) * totalSteps);
  const schedule = { kind: o.schedule ?? 'linear' as ScheduleKind, lr: o.lr ?? 5e-5, warmupSteps, totalSteps };
  const args = {
    task, problemType, batchSize, gradAccum, epochs, totalSteps, lr: schedule.lr, schedule: schedule.kind, warmupSteps, maxLength, docStride, seed, dtype,
    weightDecay: o.weightDecay ?? 0, decay: o.decay ?? 'no-bias-norm', maxGradNorm, train: o.train, examples: trainFeatures.length,
  };
  sameAsBefore(args, ['examples', 'batchSize', 'gradAccum', 'totalSteps', 'seed', 'maxLength', 'docStride']);
  if (resume && resume.trainerState.globalStep >= totalSteps) {
    const st = resume.trainerState;
    const best = join(dirname(resolve(o.resume!)), 'best');
    log(`nothing to do: ${o.resume} has already done all ${totalSteps} updates; nothing was trained or written`);
    return {
      task, problemType, globalStep: st.globalStep, interrupted: false, bestMetric: st.bestMetric,
      bestDir: st.bestStep !== null && existsSync(join(best, 'model.safetensors')) ? best : null, lastDir: o.resume!, bestEval: null,
      history: st.logHistory, labels, metricName: st.metricName, secondsPerStep: NaN, peakRssBytes: peakRss(), nothingToDo: true,
    };
  }

  // Model, optimizer.
  const { weights, fresh } = await loadTrainingWeights(source, config, head, seed, dtype);
  if (fresh.length) log(`initialised new ${head} weights: ${fresh.join(', ')}`);
  const gm = await gradientModelFromTensors(config, weights, head, { dtype, dropout: o.dropout ?? true, seed, threads: o.threads });
  // Dropout masks depend on (seed, step): a resumed run continues the very sequence of masks.
  gm.step = resume?.trainerState.dropoutStep ?? 0;
  try {
    const opt = new AdamW(gm.params, { lr: schedule.lr, betas: o.betas, eps: o.eps, weightDecay: args.weightDecay, decay: args.decay });
    if (resume) opt.loadStateTensors(resume.optimizer.tensors, resume.optimizer.step, join(source, 'optimizer.safetensors'));

    const state: TrainerState = resume?.trainerState ?? {
      globalStep: 0, epoch: 0, batchInEpoch: 0, dropoutStep: 0, totalSteps, seed, bestMetric: null, bestStep: null,
      metricName: o.metric ?? defaultMetric(task, problemType), logHistory: [], args,
    };
    const lastDir = join(o.out, 'last');
    const bestDir = join(o.out, 'best');
    const withTypes = config.type_vocab_size > 0;
    const save = (dir: string, withOptimizer: boolean, extra?: Record<string, unknown>) => saveCheckpoint(dir, {
      config, weights: gm.params, tokenizerDir,
      optimizer: withOptimizer ? { tensors: opt.stateTensors(), step: opt.stepCount } : undefined,
      trainerState: withOptimizer ? state : undefined, extraJson: extra,
    });

    const bar = new ProgressBar(process.stderr, 5000, o.progress ?? true);
    const acc = new GradientAccumulator();
    let bestEval: EvalResult | null = null;
    let interrupted = false;
    let stepTime = 0, stepsTimed = 0;
    const recentLoss: number[] = [];
    // Question answering trains on context windows: a long context gives several.
    const count = (ex: unknown[], feats: unknown[]) => `${ex.length} examples${feats.length === ex.length ? '' : ` (${feats.length} windows)`}`;
    const unit = task === 'question-answering' ? 'windows' : 'examples';
    log(`training ${count(trainEx, trainFeatures)}${evalFeatures.length ? `, evaluating on ${count(evalEx, evalFeatures)}` : ''}: ` +
      `${epochs} epoch(s), ${totalSteps} updates of ${batchSize * gradAccum} ${unit}, lr ${schedule.lr} (${schedule.kind}, ${warmupSteps} warm-up)`);
    bar.begin(state.globalStep);

    outer: for (let epoch = state.epoch; epoch < epochs && state.globalStep < totalSteps; epoch++) {
      // The order of an epoch depends only on the seed and the epoch, so a resumed run sees the same batches.
      const order = new Rng(seed * 65536 + epoch).shuffle([...trainFeatures.keys()]);
      const micro = batchIndices(order, batchSize);
      let mb = epoch === state.epoch ? state.batchInEpoch : 0;
      state.epoch = epoch;
      while (mb < micro.length && state.globalStep < totalSteps) {
        const t0 = performance.now();
        const group = micro.slice(mb, mb + gradAccum);
        let tokens = 0;
        let grads: Map<string, Tensor>, loss: number;
        const batches = group.map((idx) => collate(task, idx.map((i) => trainFeatures[i]!), enc.padId, withTypes))
          .filter((b) => lossWeight(task, b) > 0); // a batch with every label ignored teaches nothing
        if (batches.length === 0) { mb += group.length; state.batchInEpoch = mb; continue; }
        if (batches.length === 1) {
          tokens = countTokens(batches[0]!);
          ({ grads, loss } = await gm.computeGradients(batches[0]!)); // no copy when there is nothing to accumulate
        } else {
          for (const batch of batches) {
            tokens += countTokens(batch);
            const r = await gm.computeGradients(batch);
            acc.add(r.grads, r.loss, lossWeight(task, batch));
          }
          ({ grads, loss } = acc.take());
        }
        if (!Number.isFinite(loss)) throw new Error(`update ${state.globalStep + 1}: the loss is ${loss}; lower --lr or check the data`);
        const lr = learningRate(schedule, state.globalStep);
        applyUpdate(opt, grads, lr, maxGradNorm);
        state.globalStep++;
        mb += group.length;
        state.batchInEpoch = mb;
        state.dropoutStep = gm.step;
        stepTime += performance.now() - t0; stepsTimed++;

        recentLoss.push(loss);
        if (recentLoss.length > 20) recentLoss.shift();
        const smooth = recentLoss.reduce((a, b) => a + b, 0) / recentLoss.length;
        bar.update({ step: state.globalStep, total: totalSteps, epoch: epoch + 1, epochs, loss: smooth, lr, tokens });
        if (state.globalStep % 10 === 0 || state.globalStep === 1) state.logHistory.push({ step: state.globalStep, loss, lr });
        o.onStep?.({ step: state.globalStep, loss, lr, epoch });

        if (o.signal?.aborted) {
          bar.end();
          save(lastDir, true);
          log(`interrupted: saved ${lastDir} at update ${state.globalStep} (continue with --resume ${lastDir})`);
          interrupted = true;
          break outer;
        }
        if (o.saveSteps && state.globalStep % o.saveSteps === 0) save(lastDir, true);
      }
      // The epoch is over, or --max-steps ended it early: evaluate and save either way (as transformers
      // does at the end of training), so that a short run still leaves OUT/last and OUT/best.
      const complete = mb >= micro.length;
      if (complete) {
        state.epoch = epoch + 1;
        state.batchInEpoch = 0;
      }

      if (evalFeatures.length) {
        const ev = await evaluate(gm, task, evalFeatures, evalEx, {
          batchSize: o.evalBatchSize ?? batchSize * 2, padId: enc.padId, withTypes, labels, maxAnswerLength: o.maxAnswerLength ?? 30,
        });
        const value = ev.metrics[state.metricName];
        check(value !== undefined, '--metric', `'${state.metricName}' is not computed for ${task} (have ${Object.keys(ev.metrics).join(', ')})`);
        state.logHistory.push({ step: state.globalStep, epoch: epoch + 1, ...ev.metrics });
        bar.log(`epoch ${epoch + 1}: ${Object.entries(ev.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}`);
        if (improves(state.metricName, value!, state.bestMetric)) {
          state.bestMetric = value!;
          state.bestStep = state.globalStep;
          bestEval = ev;
          save(bestDir, false, { 'eval_results.json': { step: state.globalStep, epoch: epoch + 1, ...ev.metrics } });
          bar.log(`saved the best checkpoint so far (${state.metricName} ${value!.toFixed(4)}) to ${bestDir}`);
        }
      }
      save(lastDir, true);
      if (!complete) break;
    }
    bar.end();
    return {
      task, problemType, globalStep: state.globalStep, interrupted, bestMetric: state.bestMetric, bestDir: state.bestStep === null ? null : bestDir,
      lastDir, bestEval, history: state.logHistory, labels, metricName: state.metricName,
      secondsPerStep: stepsTimed ? stepTime / stepsTimed / 1000 : NaN, peakRssBytes: peakRss(),
    };
  } finally {
    await gm.dispose();
  }
}

/**
 * The problem type of a sequence classification run: --problem-type, else the config's, else read off
 * the labels. It goes into config.json (transformers and the text-classification pipeline pick sigmoid
 * or identity from it); single-label stays implicit (null) unless it was asked for.
 */
function sequenceProblem(config: DebertaConfig, examples: SeqClsExample[], o: TrainOptions, log: (line: string) => void): ProblemType {
  const given = o.problemType ?? config.problem_type;
  let problemType: ProblemType;
  if (given) {
    problemType = given;
  } else {
    const inferred = inferProblemType(examples, config.num_labels);
    problemType = inferred.problemType;
    if (problemType !== 'single_label_classification') log(`problem type ${problemType}: ${inferred.why} (set it with --problem-type)`);
  }
  config.problem_type = given || problemType !== 'single_label_classification' ? problemType : null;
  return problemType;
}
