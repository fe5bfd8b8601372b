// `deberta pretrain`: pretrains a model from a config on text files, by masked-LM (with the Enhanced Mask
// Decoder) or replaced token detection (DeBERTa-v3: generator + discriminator, GDES). Same progress,
// evaluation, checkpointing and Ctrl-C / --resume behaviour as `deberta train`.
import type { Command } from 'commander';
import { CORPUS_FORMATS, type CorpusFormat } from '../../pretrain/data.ts';
import { OBJECTIVES, type Objective } from '../../pretrain/model.ts';
import { EMBEDDING_SHARING, type EmbeddingSharing } from '../../pretrain/rtd.ts';
import { DEFAULT_TOKENIZER, pretrain, type PretrainOptions } from '../../pretrain/trainer.ts';
import { addTrainingOptions, optionalInt as int, runTrainingCommand, trainingOptions, type TrainingFlags } from '../training-flags.ts';
import { num, oneOf } from '../flags.ts';

export interface PretrainFlags extends TrainingFlags {
  config: string; objective: string; train: string[]; eval?: string[]; out: string; tokenizer?: string; format?: string;
  maskRate: string; wholeWord?: boolean; maxNgram: string; maskFraction?: string; randomFraction?: string; emd?: boolean;
  rtdLambda: string; generatorLayers?: string; embeddingSharing: string; temperature: string; evalSteps?: string;
}

export function toPretrainOptions(f: PretrainFlags): PretrainOptions {
  return {
    config: f.config, objective: oneOf<Objective>(f.objective, OBJECTIVES, '--objective'), train: f.train, eval: f.eval, out: f.out,
    tokenizer: f.tokenizer, format: f.format === undefined ? undefined : oneOf<CorpusFormat>(f.format, CORPUS_FORMATS, '--format'),
    ...trainingOptions(f),
    masking: {
      rate: num(f.maskRate, '--mask-rate', 0), wholeWord: f.wholeWord ?? false, maxNgram: int(f.maxNgram, '--max-ngram'),
      ...(f.maskFraction !== undefined ? { maskFraction: num(f.maskFraction, '--mask-fraction', 0) } : {}),
      ...(f.randomFraction !== undefined ? { randomFraction: num(f.randomFraction, '--random-fraction', 0) } : {}),
    },
    emd: f.emd, rtdLambda: num(f.rtdLambda, '--rtd-lambda', 0), generatorLayers: int(f.generatorLayers, '--generator-layers'),
    embeddingSharing: oneOf<EmbeddingSharing>(f.embeddingSharing, EMBEDDING_SHARING, '--embedding-sharing'),
    temperature: num(f.temperature, '--temperature', 0), evalSteps: int(f.evalSteps, '--eval-steps'),
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
    .option('--eval-steps <n>', 'also evaluate every n updates');
  addTrainingOptions(cmd, {
    epochs: '1', batchSize: '16', lr: '5e-4', weightDecay: '0.01', beta2: '0.98', eps: '1e-6', warmupRatio: '0.06', items: 'sequences',
    help: {
      evalBatchSize: 'sequences per evaluation batch (default: --batch-size)',
      maxLength: 'tokens per packed sequence, [CLS] and [SEP] included',
      seed: 'seed for initialisation, shuffling, masking, dropout and sampling',
      metric: 'metric that picks OUT/best (default: accuracy for mlm, rtd_accuracy for rtd)',
      resume: 'continue from OUT/last of an earlier run',
      decayAll: 'decay every parameter instead of skipping biases and LayerNorm',
    },
  })
    .action(async (flags: PretrainFlags) => {
      const opts = toPretrainOptions(flags);
      await runTrainingCommand((signal) => pretrain({ ...opts, signal }));
    });
}
