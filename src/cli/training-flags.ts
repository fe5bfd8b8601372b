// What `deberta train` and `deberta pretrain` share: the batching, AdamW / schedule and run-control flags
// (with each command's own defaults and wording), their parsing into the training loop's options, and the
// run itself: Ctrl-C handling that saves a resumable checkpoint before exiting, and the closing report.
import type { Command } from 'commander';
import type { LoopOptions } from '../train/loop.ts';
import { num, oneOf, parseIntFlag } from './flags.ts';

/** Where the two commands differ: defaults, and the help of flags whose meaning depends on the data. */
export interface TrainingDefaults {
  epochs: string; batchSize: string; lr: string; weightDecay: string; beta2: string; eps: string; warmupRatio: string;
  /** What a micro-batch holds: "examples", "sequences". */
  items: string;
  help: { evalBatchSize: string; maxLength: string; seed: string; metric: string; resume: string; decayAll: string };
}

export interface TrainingFlags {
  epochs: string; maxSteps?: string; batchSize: string; evalBatchSize?: string; gradAccum: string; maxLength: string;
  lr: string; weightDecay: string; decayAll?: boolean; adamBeta1: string; adamBeta2: string; adamEps: string;
  schedule: string; warmupSteps?: string; warmupRatio: string; maxGradNorm: string;
  seed: string; threads?: string; dtype: string; dropout: boolean; metric?: string; resume?: string; saveSteps?: string; progress: boolean;
}

/** An integer flag that may be absent; a bad value fails naming the flag. */
export function optionalInt(v: string | undefined, flag: string, min = 1): number | undefined {
  return v === undefined ? undefined : parseIntFlag(v, flag, min);
}

export function addTrainingOptions(cmd: Command, d: TrainingDefaults): Command {
  return cmd
    .option('--epochs <n>', 'epochs', d.epochs)
    .option('--max-steps <n>', 'stop after this many updates (overrides --epochs)')
    .option('--batch-size <n>', `${d.items} per micro-batch`, d.batchSize)
    .option('--eval-batch-size <n>', d.help.evalBatchSize)
    .option('--grad-accum <n>', 'micro-batches per update', '1')
    .option('--max-length <n>', d.help.maxLength, '128')
    .option('--lr <x>', 'peak learning rate', d.lr)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', d.weightDecay)
    .option('--decay-all', d.help.decayAll)
    .option('--adam-beta1 <x>', 'AdamW beta1', '0.9')
    .option('--adam-beta2 <x>', 'AdamW beta2', d.beta2)
    .option('--adam-eps <x>', 'AdamW epsilon', d.eps)
    .option('--schedule <kind>', 'linear | cosine | constant (after warm-up)', 'linear')
    .option('--warmup-steps <n>', 'linear warm-up updates (default: --warmup-ratio of all updates)')
    .option('--warmup-ratio <x>', 'warm-up as a fraction of all updates', d.warmupRatio)
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', '1')
    .option('--seed <n>', d.help.seed, '42')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)')
    .option('--dtype <type>', 'float32 | float64', 'float32')
    .option('--no-dropout', 'train without dropout')
    .option('--metric <name>', d.help.metric)
    .option('--resume <dir>', d.help.resume)
    .option('--save-steps <n>', 'also save OUT/last every n updates')
    .option('--no-progress', 'no progress bar');
}

/** The flags of addTrainingOptions as the training loop's options (every value checked, naming its flag). */
export function trainingOptions(f: TrainingFlags): Omit<LoopOptions, 'out'> {
  const int = optionalInt;
  return {
    epochs: int(f.epochs, '--epochs'), maxSteps: int(f.maxSteps, '--max-steps'), batchSize: int(f.batchSize, '--batch-size'),
    evalBatchSize: int(f.evalBatchSize, '--eval-batch-size'), gradAccum: int(f.gradAccum, '--grad-accum'), maxLength: int(f.maxLength, '--max-length', 4),
    lr: num(f.lr, '--lr', 0), weightDecay: num(f.weightDecay, '--weight-decay', 0),
    decay: f.decayAll ? 'all' : 'no-bias-norm',
    betas: [num(f.adamBeta1, '--adam-beta1', 0), num(f.adamBeta2, '--adam-beta2', 0)],
    eps: num(f.adamEps, '--adam-eps', 0),
    schedule: oneOf(f.schedule, ['linear', 'cosine', 'constant'] as const, '--schedule'),
    warmupSteps: int(f.warmupSteps, '--warmup-steps', 0), warmupRatio: num(f.warmupRatio, '--warmup-ratio', 0),
    maxGradNorm: num(f.maxGradNorm, '--max-grad-norm', 0),
    seed: int(f.seed, '--seed', 0), threads: int(f.threads, '--threads'),
    dtype: oneOf(f.dtype, ['float32', 'float64'] as const, '--dtype'), dropout: f.dropout, metric: f.metric,
    resume: f.resume, saveSteps: int(f.saveSteps, '--save-steps'), progress: f.progress,
  };
}

/** What a finished run tells the command line (train()'s and pretrain()'s results both are). */
export interface RunSummary {
  nothingToDo?: boolean;
  interrupted: boolean;
  globalStep: number;
  secondsPerStep: number;
  /** Pretraining's pace in tokens. */
  tokensPerSecond?: number;
  peakRssBytes: number;
  lastEval?: Record<string, number> | null;
  bestDir: string | null;
  metricName: string;
  bestMetric: number | null;
  lastDir: string;
}

/** First Ctrl-C: finish the update, save OUT/last, exit. Second: exit at once. */
export async function runInterruptible<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSigint = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping after this update to save a checkpoint (Ctrl-C again to quit without saving)\n');
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    return await run(stop.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Runs a training command (Ctrl-C: see runInterruptible) and reports on stderr; an interrupted run exits with 130. */
export async function runTrainingCommand(run: (signal: AbortSignal) => Promise<RunSummary>): Promise<void> {
  await runInterruptible(async (signal) => {
    const r = await run(signal);
    const mb = (r.peakRssBytes / 2 ** 20).toFixed(0);
    const tokens = r.tokensPerSecond === undefined ? '' : `, ${Math.round(r.tokensPerSecond).toLocaleString('en-US')} tokens/s`;
    const pace = Number.isFinite(r.secondsPerStep) ? `, ${(r.secondsPerStep * 1000).toFixed(0)} ms/update${tokens}` : '';
    process.stderr.write(`${r.nothingToDo ? 'nothing to do' : 'done'}: ${r.globalStep} updates${pace}, peak memory ${mb} MiB\n`);
    if (r.lastEval) process.stderr.write(`last evaluation: ${Object.entries(r.lastEval).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}\n`);
    if (r.bestDir) process.stderr.write(`best checkpoint: ${r.bestDir} (${r.metricName} ${r.bestMetric?.toFixed(4) ?? NaN})\n`);
    process.stderr.write(`last checkpoint: ${r.lastDir}\n`);
    if (r.interrupted) process.exitCode = 130;
  });
}
