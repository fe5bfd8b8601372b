// Fine-tuning as a spec of the training loop (src/train/loop.ts): a checkpoint and its tokenizer, JSONL /
// CSV / TSV data turned into features for one task, the head model's gradients (src/train/step.ts), the
// task's metrics after each epoch, and Hugging Face checkpoint folders OUT/best and OUT/last. Parameters,
// optimizer state and the ONNX Runtime sessions live for the whole run; nothing is rebuilt per step.
import { join } from 'node:path';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { headFromConfig } from '../models/auto.ts';
import { readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { architectureFor, initParam, paramShapes } from '../models/deberta/init.ts';
import type { HeadKind } from '../models/deberta/modeling.ts';
import { tensor, toFloat32, toFloat64, type Tensor } from '../tensor.ts';
import { AutoTokenizer } from '../tokenizers/auto.ts';
import {
  collate, countTokens, encoderFromTokenizer, examplesOf, featurize, lossWeight, readRecords, toExamples,
  TASKS, type ColumnOptions, type SeqClsExample, type Task,
} from './data.ts';
import { defaultMetric, evaluate, type EvalResult } from './evaluate.ts';
import { buildLabelMap, inferProblemType, labelNames, relabelNotice, sequenceLabelMap, type LabelMap, type ProblemType } from './labels.ts';
import { check, runLoop, TrainingRun, type LoopOptions } from './loop.ts';
import { Rng } from '../util/random.ts';
import { gradientModelFromTensors } from './step.ts';

export { evaluate, type EvalResult, type EvalSettings } from './evaluate.ts';
export { peakRss, type RunControl, type TrainingSettings } from './loop.ts';

export interface TrainOptions extends LoopOptions {
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
  const run = new TrainingRun(o, { batchSize: 8, epochs: 3, lr: 5e-5, weightDecay: 0 });
  const { log, resume, batchSize } = run;

  // Where the weights come from: the model, or the checkpoint being resumed (which has the label map).
  const source = o.resume ?? o.model;
  const config = readDebertaConfig(source);
  const task = o.task ?? taskOf(config, source);
  const head = HEAD[task];
  const tokenizerDir = o.tokenizer ?? source;
  const tokenizer = await AutoTokenizer.fromPretrained(tokenizerDir).catch((err: Error) => {
    throw new Error(`${err.message}${o.tokenizer ? '' : ' (name a tokenizer folder with --tokenizer)'}`);
  });
  const enc = encoderFromTokenizer(tokenizer);
  let maxLength = run.maxLength;
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
  run.checkResume({ task }, ['task']);
  const trainEx = toExamples(task, readRecords(o.train, o.format), o.train, o.columns);
  const evalEx = o.eval ? toExamples(task, readRecords(o.eval, o.format), o.eval, o.columns) : [];
  let labels: LabelMap = { id2label: config.id2label, label2id: config.label2id };
  let problemType: ProblemType | undefined;
  if (task === 'sequence-classification') {
    problemType = sequenceProblem(config, examplesOf(trainEx, task), o, log);
    run.checkResume({ problemType }, ['problemType']);
    if (!resume) labels = sequenceLabelMap(problemType, examplesOf(trainEx, task), labels, o.train);
  } else if (task === 'token-classification' && !resume) {
    labels = buildLabelMap(labelNames(trainEx), labels);
  }
  if (task === 'sequence-classification' || task === 'token-classification') {
    const notice = resume ? undefined : relabelNotice({ id2label: config.id2label, label2id: config.label2id }, labels, o.train);
    if (notice) log(notice);
    const n = Object.keys(labels.id2label).length;
    const least = problemType === 'regression' || problemType === 'multi_label_classification' ? 1 : 2;
    check(n >= least || resume !== undefined, o.train, `needs at least ${least === 1 ? 'one label' : 'two different labels'}, found ${n}`);
    Object.assign(config, { id2label: labels.id2label, label2id: labels.label2id, num_labels: n });
  }
  config.architectures = [architectureFor(config, head)];
  const featureOptions = { maxLength, labels, problemType, docStride };
  const trainFeatures = featurize(task, trainEx, enc, { ...featureOptions, file: o.train });
  const evalFeatures = o.eval ? featurize(task, evalEx, enc, { ...featureOptions, file: o.eval }) : [];

  const plan = run.plan(trainFeatures.length);
  const args = { task, problemType, ...run.settings(plan, maxLength), docStride, train: o.train, examples: trainFeatures.length };
  run.checkResume(args, ['examples', ...TrainingRun.RESUME_KEYS, 'docStride']);
  const finished = run.finished(plan);
  if (finished) {
    const st = finished.state;
    return {
      task, problemType, globalStep: st.globalStep, interrupted: false, bestMetric: st.bestMetric, bestDir: finished.bestDir, lastDir: finished.lastDir,
      bestEval: null, history: st.logHistory, labels, metricName: st.metricName, secondsPerStep: NaN, peakRssBytes: finished.peakRssBytes, nothingToDo: true,
    };
  }

  const { weights, fresh } = await loadTrainingWeights(source, config, head, run.seed, run.dtype);
  if (fresh.length) log(`initialised new ${head} weights: ${fresh.join(', ')}`);
  const gm = await gradientModelFromTensors(config, weights, head, { dtype: run.dtype, dropout: o.dropout ?? true, seed: run.seed, threads: o.threads });
  const withTypes = config.type_vocab_size > 0;
  // Question answering trains on context windows: a long context gives several.
  const count = (ex: unknown[], feats: unknown[]) => `${ex.length} examples${feats.length === ex.length ? '' : ` (${feats.length} windows)`}`;
  const r = await runLoop(run, {
    plan, args, items: trainFeatures.length, model: gm,
    batch: (idx) => {
      const batch = collate(task, idx.map((i) => trainFeatures[i]!), enc.padId, withTypes);
      const weight = lossWeight(task, batch);
      return weight > 0 ? { batch, weight, tokens: countTokens(batch) } : null; // a batch with every label ignored teaches nothing
    },
    evaluate: evalFeatures.length ? () => evaluate(gm, task, evalFeatures, evalEx, {
      batchSize: o.evalBatchSize ?? batchSize * 2, padId: enc.padId, withTypes, labels, maxAnswerLength: o.maxAnswerLength ?? 30,
    }) : undefined,
    defaultMetric: defaultMetric(task, problemType), what: task, reportBy: 'epoch',
    headline: `training ${count(trainEx, trainFeatures)}${evalFeatures.length ? `, evaluating on ${count(evalEx, evalFeatures)}` : ''}`,
    unit: task === 'question-answering' ? 'windows' : 'examples',
    checkpoint: () => ({ config, weights: gm.params, tokenizerDir }),
  });
  const st = r.state;
  return {
    task, problemType, globalStep: st.globalStep, interrupted: r.interrupted, bestMetric: st.bestMetric, bestDir: r.bestDir,
    lastDir: r.lastDir, bestEval: r.bestEval, history: st.logHistory, labels, metricName: st.metricName,
    secondsPerStep: r.secondsPerStep, peakRssBytes: r.peakRssBytes,
  };
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
