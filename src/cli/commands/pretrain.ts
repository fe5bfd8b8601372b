// `deberta pretrain`: pretrains a model from a config on text files, by masked-LM (with the Enhanced Mask
// Decoder) or replaced token detection (DeBERTa-v3: generator + discriminator, GDES). Same progress,
// evaluation, checkpointing and Ctrl-C / --resume behaviour as `deberta train`.
import type { Command } from 'commander';
import { CORPUS_FORMATS, type CorpusFormat } from '../../pretrain/data.ts';
import { OBJECTIVES, type Objective } from '../../pretrain/model.ts';
import { EMBEDDING_SHARING, type EmbeddingSharing } from '../../pretrain/rtd.ts';
import { DEFAULT_TOKENIZER, pretrain, type PretrainOptions } from '../../pretrain/trainer.ts';
import { addOptimizerOptions, optimizerOptions, runInterruptible } from '../training-flags.ts';
import { num, oneOf, parseIntFlag } from '../flags.ts';

export interface PretrainFlags {
  config: string; objective: string; train: string[]; eval?: string[]; out: string; tokenizer?: string; format?: string;
  maxLength: string; batchSize: string; evalBatchSize?: string; gradAccum: string; epochs: string; maxSteps?: string;
  lr: string; weightDecay: string; decayAll?: boolean; adamBeta1: string; adamBeta2: string; adamEps: string; schedule: string;
  warmupSteps?: string; warmupRatio: string; maxGradNorm: string; seed: string; threads?: string; dtype: string; dropout: boolean;
  maskRate: string; wholeWord?: boolean; maxNgram: string; maskFraction?: string; randomFraction?: string; emd?: boolean;
  rtdLambda: string; generatorLayers?: string; embeddingSharing: string; temperature: string;
  evalSteps?: string; saveSteps?: string; metric?: string; resume?: string; progress: boolean;
}

export function toPretrainOptions(f: PretrainFlags): PretrainOptions {
  const int = (v: string | undefined, flag: string, min = 1) => (v === undefined ? undefined : parseIntFlag(v, flag, min));
  return {
    config: f.config, objective: oneOf<Objective>(f.objective, OBJECTIVES, '--objective'), train: f.train, eval: f.eval, out: f.out,
    tokenizer: f.tokenizer, format: f.format === undefined ? undefined : oneOf<CorpusFormat>(f.format, CORPUS_FORMATS, '--format'),
    maxLength: int(f.maxLength, '--max-length', 4), batchSize: int(f.batchSize, '--batch-size'), evalBatchSize: int(f.evalBatchSize, '--eval-batch-size'),
    gradAccum: int(f.gradAccum, '--grad-accum'), epochs: int(f.epochs, '--epochs'), maxSteps: int(f.maxSteps, '--max-steps'),
    ...optimizerOptions(f, int),
    seed: int(f.seed, '--seed', 0), threads: int(f.threads, '--threads'),
    dtype: oneOf(f.dtype, ['float32', 'float64'] as const, '--dtype'), dropout: f.dropout,
    masking: {
      rate: num(f.maskRate, '--mask-rate', 0), wholeWord: f.wholeWord ?? false, maxNgram: int(f.maxNgram, '--max-ngram'),
      ...(f.maskFraction !== undefined ? { maskFraction: num(f.maskFraction, '--mask-fraction', 0) } : {}),
      ...(f.randomFraction !== undefined ? { randomFraction: num(f.randomFraction, '--random-fraction', 0) } : {}),
    },
    emd: f.emd, rtdLambda: num(f.rtdLambda, '--rtd-lambda', 0), generatorLayers: int(f.generatorLayers, '--generator-layers'),
    embeddingSharing: oneOf<EmbeddingSharing>(f.embeddingSharing, EMBEDDING_SHARING, '--embedding-sharing'),
    temperature: num(f.temperature, '--temperature', 0),
    evalSteps: int(f.evalSteps, '--eval-steps'), saveSteps: int(f.saveSteps, '--save-steps'), metric: f.metric, resume: f.resume,
    progress: f.progress,
  };
}

export function register(program: Command): void {
  const cmd = program.command('pretrain')
    .description('pretrain a model from a config on text (MLM with the Enhanced Mask Decoder, or RTD as DeBERTa-v3); writes OUT/best and OUT/last')
    .requiredOption('--config <file>', 'DeBERTa config.json: the model (mlm) or the discriminator (rtd)')
    .requiredOption('--train <files...>', 'training text: .txt (a text per line), .jsonl ("text"), .json (array of strings), Brown word/tag files, or folders of them')
    .option('--eval <files...>', 'evaluation text, scored after each epoch (and every --eval-steps)')
    .requiredOption('--objective <kind>', 'mlm | rtd')
    .requiredOption('--out <dir>', 'output folder')
    .option('--tokenizer <dir>', `tokenizer folder (default: the config's folder if it has one, else ${DEFAULT_TOKENIZER})`)
    .option('--format <fmt>', `${CORPUS_FORMATS.join(' | ')} (default: from the extension; Brown detected by its tags)`)
    .option('--max-length <n>', 'tokens per packed sequence, [CLS] and [SEP] included', '128')
    .option('--batch-size <n>', 'sequences per micro-batch', '16')
    .option('--eval-batch-size <n>', 'sequences per evaluation batch (default: --batch-size)')
    .option('--grad-accum <n>', 'micro-batches per update', '1')
    .option('--epochs <n>', 'epochs', '1')
    .option('--max-steps <n>', 'stop after this many updates (overrides --epochs)')
    .option('--seed <n>', 'seed for initialisation, shuffling, masking, dropout and sampling', '42')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: all cores)')
    .option('--dtype <type>', 'float32 | float64', 'float32')
    .option('--no-dropout', 'train without dropout')
    .option('--mask-rate <x>', 'fraction of tokens to predict', '0.15')
    .option('--whole-word', 'mask whole words')
    .option('--max-ngram <n>', 'mask spans of up to n words (or tokens), chosen with probability proportional to 1/n', '1')
    .option('--mask-fraction <x>', 'of the chosen tokens, the fraction replaced by [MASK] (default 0.8; rtd 1)')
    .option('--random-fraction <x>', 'of the chosen tokens, the fraction replaced by a random token (default 0.1; rtd 0)')
    .option('--emd', 'decode through the Enhanced Mask Decoder (default when position_biased_input is false)')
    .option('--no-emd', 'plain masked-LM head on the last layer')
    .option('--rtd-lambda <x>', 'rtd: weight of the RTD loss', '50')
    .option('--generator-layers <n>', 'rtd: generator depth (default: half the discriminator\'s)')
    .option('--embedding-sharing <kind>', 'rtd: gdes | es | none', 'gdes')
    .option('--temperature <x>', 'rtd: generator sampling temperature', '1')
    .option('--eval-steps <n>', 'also evaluate every n updates')
    .option('--save-steps <n>', 'also save OUT/last every n updates')
    .option('--metric <name>', 'metric that picks OUT/best (default: accuracy for mlm, rtd_accuracy for rtd)')
    .option('--resume <dir>', 'continue from OUT/last of an earlier run')
    .option('--no-progress', 'no progress bar');
  addOptimizerOptions(cmd, { lr: '5e-4', weightDecay: '0.01', beta2: '0.98', eps: '1e-6', warmupRatio: '0.06', decayAllHelp: 'decay every parameter instead of skipping biases and LayerNorm' })
    .action(async (flags: PretrainFlags) => {
      const opts = toPretrainOptions(flags);
      await runInterruptible(async (signal) => {
        const r = await pretrain({ ...opts, signal });
        const mb = (r.peakRssBytes / 2 ** 20).toFixed(0);
        const pace = Number.isFinite(r.secondsPerStep)
          ? `, ${(r.secondsPerStep * 1000).toFixed(0)} ms/update, ${Math.round(r.tokensPerSecond).toLocaleString('en-US')} tokens/s` : '';
        process.stderr.write(`${r.nothingToDo ? 'nothing to do' : 'done'}: ${r.globalStep} updates${pace}, peak memory ${mb} MiB\n`);
        if (r.lastEval) process.stderr.write(`last evaluation: ${Object.entries(r.lastEval).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}\n`);
        if (r.bestDir) process.stderr.write(`best checkpoint: ${r.bestDir} (${r.metricName} ${r.bestMetric!.toFixed(4)})\n`);
        process.stderr.write(`last checkpoint: ${r.lastDir}\n`);
        if (r.interrupted) process.exitCode = 130;
      });
    });
}
