// What `deberta train` and `deberta pretrain` share: the AdamW / schedule flags (with each command's own
// defaults) and Ctrl-C handling that saves a resumable checkpoint before exiting.
import type { Command } from 'commander';
import { num, oneOf } from './flags.ts';


export interface OptimizerDefaults { lr: string; weightDecay: string; beta2: string; eps: string; warmupRatio: string; decayAllHelp: string }

export interface OptimizerFlags {
  lr: string; weightDecay: string; decayAll?: boolean; adamBeta1: string; adamBeta2: string; adamEps: string;
  schedule: string; warmupSteps?: string; warmupRatio: string; maxGradNorm: string;
}

export function addOptimizerOptions(cmd: Command, d: OptimizerDefaults): Command {
  return cmd
    .option('--lr <x>', 'peak learning rate', d.lr)
    .option('--weight-decay <x>', 'AdamW decoupled weight decay', d.weightDecay)
    .option('--decay-all', d.decayAllHelp)
    .option('--adam-beta1 <x>', 'AdamW beta1', '0.9')
    .option('--adam-beta2 <x>', 'AdamW beta2', d.beta2)
    .option('--adam-eps <x>', 'AdamW epsilon', d.eps)
    .option('--schedule <kind>', 'linear | cosine | constant (after warm-up)', 'linear')
    .option('--warmup-steps <n>', 'linear warm-up updates (default: --warmup-ratio of all updates)')
    .option('--warmup-ratio <x>', 'warm-up as a fraction of all updates', d.warmupRatio)
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', '1');
}

export function optimizerOptions(f: OptimizerFlags, int: (v: string | undefined, flag: string, min?: number) => number | undefined) {
  return {
    lr: num(f.lr, '--lr', 0), weightDecay: num(f.weightDecay, '--weight-decay', 0),
    decay: f.decayAll ? ('all' as const) : ('no-bias-norm' as const),
    betas: [num(f.adamBeta1, '--adam-beta1', 0), num(f.adamBeta2, '--adam-beta2', 0)] as [number, number],
    eps: num(f.adamEps, '--adam-eps', 0),
    schedule: oneOf(f.schedule, ['linear', 'cosine', 'constant'] as const, '--schedule'),
    warmupSteps: int(f.warmupSteps, '--warmup-steps', 0), warmupRatio: num(f.warmupRatio, '--warmup-ratio', 0),
    maxGradNorm: num(f.maxGradNorm, '--max-grad-norm', 0),
  };
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
