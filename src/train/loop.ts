// The training loop that fine-tuning (src/train/trainer.ts) and pretraining (src/pretrain/trainer.ts)
// both run: argument checks, the output folder and the resumed checkpoint, the schedule, shuffled
// micro-batches -> gradients -> accumulation, clipping, AdamW -> evaluation -> checkpoints (OUT/best, the
// best evaluation; OUT/last, resumable), Ctrl-C and progress. What differs between the two (data, model,
// metrics, what a checkpoint holds) comes in a LoopSpec.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Tensor } from '../tensor.ts';
import { Rng } from '../util/random.ts';
import {
  checkWritableFolder, readResumeState, removeStaleTemporaries, saveCheckpoint, type CheckpointContents, type ResumeState, type TrainerState,
} from './checkpoint.ts';
import { batchIndices } from './data.ts';
import { AdamW, applyUpdate, GradientAccumulator, learningRate, type Schedule, type ScheduleKind } from './optim.ts';
import { ProgressBar } from './progress.ts';

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
  /**
   * Up to this many updates in one ONNX Runtime run, while their micro-batches have the same dims (one
   * micro-batch an update: no gradient accumulation). Parameters and AdamW moments then come back to
   * JavaScript once a run instead of once an update: about 10 % faster, for a second copy of them in memory
   * while a run lasts. Default 1: each update on its own, the AdamW step in JavaScript.
   */
  stepsPerRun?: number;
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

/** The options of any training run: fine-tuning's and pretraining's extend these. */
export interface LoopOptions extends RunControl, TrainingSettings {
  /** Output folder: `best/` (best evaluation) and `last/` (latest, resumable). */
  out: string;
  /** Metric that picks `best/`; see lowerIsBetter for which way is better. */
  metric?: string;
}

/** The defaults in which fine-tuning and pretraining differ (betas and eps: AdamW's own when left out). */
export interface LoopDefaults { batchSize: number; epochs: number; lr: number; weightDecay: number; betas?: [number, number]; eps?: number }

export function check(cond: boolean, flag: string, msg: string): void {
  if (!cond) throw new Error(`${flag}: ${msg}`);
}

/**
 * Whether a metric improves downwards: errors, losses and perplexity, told by the name's last word
 * (`mse`, `rmse`, `mae`, `loss`, `mlm_loss`, `rtd_loss`, `perplexity`); every other metric improves upwards.
 */
export function lowerIsBetter(metric: string): boolean {
  return /(^|_)(mse|rmse|mae|loss|perplexity)$/.test(metric);
}

/**
 * Whether `value` beats the best so far. A NaN (e.g. the correlation of constant predictions) never does,
 * not even as the first evaluation; any real value beats no best (null) or a NaN one.
 */
export function improves(metric: string, value: number, best: number | null): boolean {
  if (Number.isNaN(value)) return false;
  if (best === null || Number.isNaN(best)) return true;
  return lowerIsBetter(metric) ? value < best : value > best;
}

/** The peak resident set size so far (Linux VmHWM; elsewhere the current RSS). */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss;
}

/** How many updates a run makes and at what learning rate. */
export interface Plan {
  /** Updates per pass over the training items. */
  stepsPerEpoch: number;
  epochs: number;
  schedule: Schedule;
}

/** A resumed run that had already done all its updates: nothing is trained or written. */
export interface Finished {
  state: TrainerState;
  /** The resumed folder. */
  lastDir: string;
  /** Its run's `best/` when that exists. */
  bestDir: string | null;
  peakRssBytes: number;
}

/**
 * A run being set up: its options checked (each error naming the flag), the output folder checked and
 * tidied of what killed runs left there, the resumed checkpoint (if any) read.
 */
export class TrainingRun {
  readonly log: (line: string) => void;
  readonly batchSize: number;
  readonly gradAccum: number;
  readonly stepsPerRun: number;
  readonly seed: number;
  readonly dtype: 'float32' | 'float64';
  readonly maxGradNorm: number;
  readonly maxLength: number;
  readonly weightDecay: number;
  readonly decay: 'all' | 'no-bias-norm';
  readonly resume: ResumeState | undefined;

  constructor(readonly options: LoopOptions, readonly defaults: LoopDefaults) {
    const o = options;
    this.log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.batchSize = o.batchSize ?? defaults.batchSize;
    this.gradAccum = o.gradAccum ?? 1;
    this.stepsPerRun = o.stepsPerRun ?? 1;
    this.seed = o.seed ?? 42;
    this.dtype = o.dtype ?? 'float32';
    this.maxGradNorm = o.maxGradNorm ?? 1;
    this.maxLength = o.maxLength ?? 128;
    this.weightDecay = o.weightDecay ?? defaults.weightDecay;
    this.decay = o.decay ?? 'no-bias-norm';
    check(Number.isSafeInteger(this.batchSize) && this.batchSize >= 1, '--batch-size', `must be a positive integer, got ${this.batchSize}`);
    check(Number.isSafeInteger(this.gradAccum) && this.gradAccum >= 1, '--grad-accum', `must be a positive integer, got ${this.gradAccum}`);
    check(Number.isSafeInteger(this.stepsPerRun) && this.stepsPerRun >= 1, '--steps-per-run', `must be a positive integer, got ${this.stepsPerRun}`);
    check(this.stepsPerRun === 1 || this.gradAccum === 1, '--steps-per-run', `runs updates of one micro-batch each; it cannot go with --grad-accum ${this.gradAccum}`);
    check(Number.isSafeInteger(this.seed) && this.seed >= 0 && this.seed < 2 ** 32, '--seed', `must be an integer in [0, 2^32), got ${this.seed}`);
    check(Number.isSafeInteger(this.maxLength) && this.maxLength >= 4, '--max-length', `must be an integer >= 4, got ${this.maxLength}`);
    check(this.maxGradNorm >= 0, '--max-grad-norm', `must be >= 0, got ${this.maxGradNorm}`);

    // The output folder must be writable before anything is loaded; what killed runs left there is tidied
    // (and a checkpoint caught between its two renames restored) before the resumed folder is read.
    checkWritableFolder(o.out, '--out');
    for (const dir of new Set([resolve(o.out), ...(o.resume ? [dirname(resolve(o.resume))] : [])])) {
      for (const line of removeStaleTemporaries(dir)) this.log(line);
    }
    this.resume = o.resume ? readResumeState(o.resume) : undefined;
  }

  /**
   * A resumed run must repeat the settings that shape the data, the schedule and the random streams:
   * the first of `keys` whose value in `now` differs from the resumed run's is an error naming it.
   */
  checkResume(now: Record<string, unknown>, keys: readonly string[]): void {
    const before = this.resume?.trainerState.args ?? {};
    for (const k of keys) {
      const a = JSON.stringify(before[k]), b = JSON.stringify(now[k]);
      if (before[k] !== undefined && a !== b) {
        throw new Error(`${this.options.resume}: was trained with ${k} ${a}, this run asks for ${b}; resume with the same settings`);
      }
    }
  }

  /** The schedule for `items` training items a pass (examples, context windows, packed sequences). */
  plan(items: number): Plan {
    const o = this.options;
    const microPerEpoch = Math.ceil(items / this.batchSize);
    const stepsPerEpoch = Math.ceil(microPerEpoch / this.gradAccum);
    const totalSteps = o.maxSteps ?? (o.epochs ?? this.defaults.epochs) * stepsPerEpoch;
    check(Number.isSafeInteger(totalSteps) && totalSteps >= 1, o.maxSteps !== undefined ? '--max-steps' : '--epochs', `gives ${totalSteps} updates`);
    const warmupSteps = o.warmupSteps ?? Math.ceil((o.warmupRatio ?? 0) * totalSteps);
    return {
      stepsPerEpoch, epochs: Math.ceil(totalSteps / stepsPerEpoch),
      schedule: { kind: o.schedule ?? 'linear', lr: o.lr ?? this.defaults.lr, warmupSteps, totalSteps },
    };
  }

  /** The settings every run records in trainer_state.json (each kind of run adds its own). */
  settings(plan: Plan, maxLength = this.maxLength) {
    const s = plan.schedule;
    return {
      batchSize: this.batchSize, gradAccum: this.gradAccum, epochs: plan.epochs, totalSteps: s.totalSteps, lr: s.lr, schedule: s.kind,
      warmupSteps: s.warmupSteps, maxLength, seed: this.seed, dtype: this.dtype, weightDecay: this.weightDecay, decay: this.decay,
      maxGradNorm: this.maxGradNorm, stepsPerRun: this.stepsPerRun,
    };
  }

  /** The settings (of `settings`) a resumed run must repeat. */
  static readonly RESUME_KEYS = ['batchSize', 'gradAccum', 'totalSteps', 'seed', 'maxLength'] as const;

  /** When the resumed run had already done all `plan`'s updates: says so, and what it left. */
  finished(plan: Plan): Finished | undefined {
    const resume = this.resume, dir = this.options.resume;
    const totalSteps = plan.schedule.totalSteps;
    if (!resume || !dir || resume.trainerState.globalStep < totalSteps) return undefined;
    const best = join(dirname(resolve(dir)), 'best');
    this.log(`nothing to do: ${dir} has already done all ${totalSteps} updates; nothing was trained or written`);
    return {
      state: resume.trainerState, lastDir: dir,
      bestDir: resume.trainerState.bestStep !== null && existsSync(join(best, 'model.safetensors')) ? best : null, peakRssBytes: peakRss(),
    };
  }
}

/** What a model gives the loop for one micro-batch (gradNorm: their global norm, when the model measured it). */
export interface Gradients { loss: number; grads: Map<string, Tensor>; gradNorm?: number }

/** The trainable model: live parameters (updated in place), dropout step, gradients of a batch. */
export interface TrainableModel<B, R extends Gradients> {
  params: Map<string, Tensor>;
  /** Micro-batches run so far: dropout masks (and sampling noise) depend on it, so it is saved and restored. */
  step: number;
  computeGradients(batch: B): Promise<R>;
  /**
   * Several updates in one run, a micro-batch each (gradients, clipping and AdamW at rates `lrs`, in place on
   * `params` and `opt`'s moments); for --steps-per-run. Only for batches that `stackable` says can share a run.
   */
  trainSteps?(batches: B[], opt: AdamW, lrs: number[], maxGradNorm: number): Promise<{ loss: number }[]>;
  stackable?(a: B, b: B): boolean;
  dispose(): Promise<void>;
}

/** An evaluation: its metrics, and whatever else the kind of run keeps of it (logits...). */
export interface Evaluation { metrics: Record<string, number> }

/** What makes a run fine-tuning or pretraining. */
export interface LoopSpec<B, R extends Gradients, E extends Evaluation> {
  plan: Plan;
  /** trainer_state.json `args`: TrainingRun.settings and the kind's own. */
  args: Record<string, unknown>;
  /** Training items; each epoch shuffles them (seeded by the seed and the epoch) into micro-batches. */
  items: number;
  /** The loop disposes of it when the run ends. */
  model: TrainableModel<B, R>;
  /** A micro-batch of these items, its weight in the update's mean (examples, labelled tokens...) and its tokens; null: nothing to learn from. */
  batch(indices: number[], epoch: number): { batch: B; weight: number; tokens: number } | null;
  /** Fields the training-loss entries of the log history (every 10 updates) get besides step, loss and lr. */
  logEntry?(results: R[]): Record<string, number>;
  /** Scores the evaluation data (absent without any): after each epoch, and every `evalSteps` updates. */
  evaluate?(): Promise<E>;
  evalSteps?: number;
  /** The metric that picks `best/` without --metric, and what the run is (for the error naming a metric it lacks). */
  defaultMetric: string;
  what: string;
  /** The log line before training starts, up to the schedule: "training 40 examples"; `unit` names the items an update counts. */
  headline: string;
  unit: string;
  /**
   * How an evaluation is reported: 'epoch' (fine-tuning, which evaluates at epoch ends): "epoch N: ...", the
   * epoch in eval_results.json and a line for each new best; 'step' (pretraining, mid-epoch too): "step N: ...".
   */
  reportBy: 'epoch' | 'step';
  /** What a checkpoint of the current parameters holds; the loop adds the optimizer, the trainer state and eval_results.json. */
  checkpoint(resumable: boolean): CheckpointContents;
}

export interface LoopResult<E extends Evaluation> {
  state: TrainerState;
  interrupted: boolean;
  lastDir: string;
  bestDir: string | null;
  /** The evaluation that made `best/`, and the last one (null without evaluation data). */
  bestEval: E | null;
  lastEval: E | null;
  secondsPerStep: number;
  tokensPerSecond: number;
  peakRssBytes: number;
}

/** Trains `spec.model` to the end of `spec.plan` (or until `signal` aborts), saving as it goes. */
export async function runLoop<B, R extends Gradients, E extends Evaluation>(run: TrainingRun, spec: LoopSpec<B, R, E>): Promise<LoopResult<E>> {
  const o = run.options;
  const { model, plan } = spec;
  const { schedule, epochs } = plan;
  const totalSteps = schedule.totalSteps;
  const resume = run.resume;
  try {
    // Dropout masks depend on (seed, step): a resumed run continues the very sequence of masks.
    model.step = resume?.trainerState.dropoutStep ?? 0;
    const opt = new AdamW(model.params, {
      lr: schedule.lr, betas: o.betas ?? run.defaults.betas, eps: o.eps ?? run.defaults.eps, weightDecay: run.weightDecay, decay: run.decay,
    });
    if (resume) opt.loadStateTensors(resume.optimizer.tensors, resume.optimizer.step, join(o.resume!, 'optimizer.safetensors'));
    const state: TrainerState = resume?.trainerState ?? {
      globalStep: 0, epoch: 0, batchInEpoch: 0, dropoutStep: 0, totalSteps, seed: run.seed, bestMetric: null, bestStep: null,
      metricName: o.metric ?? spec.defaultMetric, logHistory: [], args: spec.args,
    };
    const lastDir = join(o.out, 'last');
    const bestDir = join(o.out, 'best');
    const save = (dir: string, resumable: boolean, extra?: Record<string, unknown>) => saveCheckpoint(dir, {
      ...spec.checkpoint(resumable),
      optimizer: resumable ? { tensors: opt.stateTensors(), step: opt.stepCount } : undefined,
      trainerState: resumable ? state : undefined, extraJson: extra,
    });

    const bar = new ProgressBar(process.stderr, 5000, o.progress ?? true);
    let bestEval: E | null = null, lastEval: E | null = null;
    let evaluatedAt = -1;
    const runEval = async (epoch: number) => {
      if (!spec.evaluate || evaluatedAt === state.globalStep) return;
      evaluatedAt = state.globalStep;
      const ev = await spec.evaluate();
      lastEval = ev;
      const m = ev.metrics;
      const value = m[state.metricName];
      check(value !== undefined, '--metric', `'${state.metricName}' is not computed for ${spec.what} (have ${Object.keys(m).join(', ')})`);
      state.logHistory.push({ step: state.globalStep, epoch: epoch + 1, ...m });
      const byEpoch = spec.reportBy === 'epoch';
      bar.log(`${byEpoch ? `epoch ${epoch + 1}` : `step ${state.globalStep}`}: ${Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}`);
      if (improves(state.metricName, value!, state.bestMetric)) {
        state.bestMetric = value!;
        state.bestStep = state.globalStep;
        bestEval = ev;
        save(bestDir, false, { 'eval_results.json': { step: state.globalStep, ...(byEpoch ? { epoch: epoch + 1 } : {}), ...m } });
        if (byEpoch) bar.log(`saved the best checkpoint so far (${state.metricName} ${value!.toFixed(4)}) to ${bestDir}`);
      }
    };

    const acc = new GradientAccumulator();
    const grouped = run.stepsPerRun > 1;
    check(!grouped || Boolean(model.trainSteps && model.stackable), '--steps-per-run', `${spec.what} takes one update a run`);
    /** Updates until the next multiple of `every` (unbounded without one). */
    const stepsUntil = (every?: number) => (every ? every - (state.globalStep % every) : Infinity);
    const checkLoss = (loss: number, update: number) => {
      if (!Number.isFinite(loss)) throw new Error(`update ${update}: the loss is ${loss}; lower --lr or check the data`);
    };
    type Update = { loss: number; lr: number; tokens: number; results: R[] };
    /** The next update, from run.gradAccum micro-batches from `mb` on (none when none has anything to learn from). */
    const oneUpdate = async (micro: number[][], mb: number, epoch: number): Promise<{ updates: Update[]; used: number }> => {
      const group = micro.slice(mb, mb + run.gradAccum);
      const batches = group.map((idx) => spec.batch(idx, epoch)).filter((b) => b !== null);
      if (!batches.length) return { updates: [], used: group.length };
      let tokens = 0;
      const results: R[] = [];
      for (const b of batches) {
        tokens += b.tokens;
        const r = await model.computeGradients(b.batch);
        results.push(r);
        if (batches.length > 1) acc.add(r.grads, r.loss, b.weight);
      }
      // One micro-batch: its gradients as they are, with no copy.
      const { grads, loss } = batches.length === 1 ? results[0]! : acc.take();
      checkLoss(loss, state.globalStep + 1);
      const lr = learningRate(schedule, state.globalStep);
      applyUpdate(opt, grads, lr, run.maxGradNorm, batches.length === 1 ? results[0]!.gradNorm : undefined);
      return { updates: [{ loss, lr, tokens, results }], used: group.length };
    };
    /**
     * Up to stepsPerRun updates of a micro-batch each, in one run, while their batches stack; never past an
     * evaluation, a save or the last update, so that those come between runs as they would between updates.
     */
    const severalUpdates = async (micro: number[][], mb: number, epoch: number): Promise<{ updates: Update[]; used: number }> => {
      const room = Math.min(run.stepsPerRun, totalSteps - state.globalStep, stepsUntil(spec.evalSteps), stepsUntil(o.saveSteps));
      const taken: { batch: B; tokens: number }[] = [];
      let end = mb;
      while (end < micro.length && taken.length < room) {
        const b = spec.batch(micro[end]!, epoch);
        if (b && taken.length && !model.stackable!(taken[0]!.batch, b.batch)) break;
        end++;
        if (b) taken.push(b);
      }
      const lrs = taken.map((_, k) => learningRate(schedule, state.globalStep + k));
      const rs = taken.length ? await model.trainSteps!(taken.map((b) => b.batch), opt, lrs, run.maxGradNorm) : [];
      return { updates: rs.map((r, k) => ({ loss: r.loss, lr: lrs[k]!, tokens: taken[k]!.tokens, results: [] })), used: end - mb };
    };
    let interrupted = false;
    let stepTime = 0, stepsTimed = 0, tokensSeen = 0;
    const recentLoss: number[] = [];
    run.log(`${spec.headline}: ${epochs} epoch(s), ${totalSteps} updates of ${run.batchSize * run.gradAccum} ${spec.unit}, ` +
      `lr ${schedule.lr} (${schedule.kind}, ${schedule.warmupSteps} warm-up)`);
    bar.begin(state.globalStep);

    outer: for (let epoch = state.epoch; epoch < epochs && state.globalStep < totalSteps; epoch++) {
      // The order of an epoch depends only on the seed and the epoch, so a resumed run sees the same batches.
      const order = new Rng(run.seed * 65536 + epoch).shuffle([...Array(spec.items).keys()]);
      const micro = batchIndices(order, run.batchSize);
      let mb = epoch === state.epoch ? state.batchInEpoch : 0;
      state.epoch = epoch;
      while (mb < micro.length && state.globalStep < totalSteps) {
        const t0 = performance.now();
        const { updates, used } = grouped ? await severalUpdates(micro, mb, epoch) : await oneUpdate(micro, mb, epoch);
        mb += used;
        state.batchInEpoch = mb;
        if (!updates.length) continue;
        state.dropoutStep = model.step;
        const elapsed = performance.now() - t0;
        for (const { loss, lr, tokens, results } of updates) {
          // A group's losses come back with its run; a single update was checked before it was applied.
          if (grouped) checkLoss(loss, state.globalStep + 1);
          state.globalStep++;
          stepTime += elapsed / updates.length; stepsTimed++; tokensSeen += tokens;
          recentLoss.push(loss);
          if (recentLoss.length > 20) recentLoss.shift();
          const smooth = recentLoss.reduce((a, b) => a + b, 0) / recentLoss.length;
          bar.update({ step: state.globalStep, total: totalSteps, epoch: epoch + 1, epochs, loss: smooth, lr, tokens });
          if (state.globalStep % 10 === 0 || state.globalStep === 1) state.logHistory.push({ step: state.globalStep, loss, lr, ...(results.length ? spec.logEntry?.(results) : {}) });
          o.onStep?.({ step: state.globalStep, loss, lr, epoch });
        }

        if (o.signal?.aborted) {
          bar.end();
          save(lastDir, true);
          run.log(`interrupted: saved ${lastDir} at update ${state.globalStep} (continue with --resume ${lastDir})`);
          interrupted = true;
          break outer;
        }
        if (spec.evalSteps && state.globalStep % spec.evalSteps === 0 && state.globalStep < totalSteps) await runEval(epoch);
        if (o.saveSteps && state.globalStep % o.saveSteps === 0) save(lastDir, true);
      }
      // The epoch is over, or --max-steps ended it early: evaluate and save either way (as transformers
      // does at the end of training), so that a short run still leaves OUT/last and OUT/best.
      if (mb >= micro.length) {
        state.epoch = epoch + 1;
        state.batchInEpoch = 0;
      }
      await runEval(epoch);
      save(lastDir, true);
    }
    bar.end();
    const seconds = stepTime / 1000;
    return {
      state, interrupted, lastDir, bestDir: state.bestStep === null ? null : bestDir, bestEval, lastEval,
      secondsPerStep: stepsTimed ? seconds / stepsTimed : NaN, tokensPerSecond: seconds > 0 ? tokensSeen / seconds : NaN, peakRssBytes: peakRss(),
    };
  } finally {
    await model.dispose();
  }
}
