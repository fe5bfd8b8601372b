// `deberta train`: fine-tunes a checkpoint on JSONL/CSV data for one task, evaluating each epoch and
// keeping the best checkpoint; Ctrl-C saves a resumable checkpoint before exiting.
import type { Command } from 'commander';
import { TASKS, type Task } from '../../train/data.ts';
import { PROBLEM_TYPES } from '../../train/labels.ts';
import { train, type TrainOptions } from '../../train/trainer.ts';
import { checkWritableFolder } from '../../train/checkpoint.ts';
import { checkRevision, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { addTrainingOptions, optionalInt as int, runTrainingCommand, trainingOptions, type TrainingFlags } from '../training-flags.ts';
import { oneOf } from '../flags.ts';

interface Flags extends TrainingFlags {
  model: string; revision?: string; task?: string; problemType?: string; train: string; eval?: string; out: string; tokenizer?: string; format?: string;
  textColumn?: string; textPairColumn?: string; labelColumn?: string; tokensColumn?: string; questionColumn?: string;
  contextColumn?: string; answersColumn?: string; choicesColumn?: string; docStride?: string; maxAnswerLength: string;
  stepsPerRun?: string;
}

export function toTrainOptions(f: Flags): TrainOptions {
  return {
    model: f.model, task: f.task === undefined ? undefined : oneOf<Task>(f.task, TASKS, '--task'),
    problemType: f.problemType === undefined ? undefined : oneOf(f.problemType, PROBLEM_TYPES, '--problem-type'), train: f.train, eval: f.eval, out: f.out, tokenizer: f.tokenizer,
    format: f.format === undefined ? undefined : oneOf(f.format, ['jsonl', 'csv', 'tsv'] as const, '--format'),
    columns: {
      text: f.textColumn, textPair: f.textPairColumn, label: f.labelColumn, tokens: f.tokensColumn,
      question: f.questionColumn, context: f.contextColumn, answers: f.answersColumn, choices: f.choicesColumn,
    },
    ...trainingOptions(f),
    docStride: int(f.docStride, '--doc-stride', 0), maxAnswerLength: int(f.maxAnswerLength, '--max-answer-length'),
    stepsPerRun: int(f.stepsPerRun, '--steps-per-run'),
  };
}

export function register(program: Command): void {
  const cmd = program.command('train')
    .description('fine-tune a checkpoint; writes OUT/best (best evaluation) and OUT/last (resumable) as Hugging Face folders')
    .requiredOption('--model <dir|id>', 'checkpoint folder to start from (e.g. from `deberta init`), or Hub id')
    .option('--revision <rev>', REVISION_HELP)
    .option('--task <task>', `${TASKS.join(' | ')} (default: the task of the model's head, from config.json architectures)`)
    .option('--problem-type <type>', `sequence classification: ${PROBLEM_TYPES.join(' | ')} (default: the config's problem_type, else from the labels: lists -> multi-label, fractional numbers -> regression)`)
    .requiredOption('--train <file>', 'training data (.jsonl, .csv or .tsv)')
    .option('--eval <file>', 'evaluation data, scored after each epoch')
    .requiredOption('--out <dir>', 'output folder')
    .option('--tokenizer <dir|id>', 'tokenizer folder or Hub id (default: the model\'s)')
    .option('--format <fmt>', 'jsonl | csv | tsv (default: from the file extension)')
    .option('--text-column <name>', 'text (default: text, sentence, sentence1, ...; multiple choice: context, sent1, ...)')
    .option('--text-pair-column <name>', 'second text (default: text_pair, sentence2, hypothesis, ... when present)')
    .option('--label-column <name>', 'label, or tags for token classification (default: label / ner_tags, ...)')
    .option('--tokens-column <name>', 'token classification words (default: tokens, words)')
    .option('--question-column <name>', 'question answering (default: question)')
    .option('--context-column <name>', 'question answering (default: context)')
    .option('--answers-column <name>', 'question answering, SQuAD format (default: answers)')
    .option('--choices-column <name>', 'multiple choice list of endings (default: choices, or ending0, ending1, ...)')
    .option('--doc-stride <n>', 'question answering: tokens shared by consecutive windows of a long context (default: min(max-length / 2, 128))')
    .option('--max-answer-length <n>', 'question answering: longest answer, in tokens, that evaluation predicts', '30')
    .option('--steps-per-run <n>', 'up to n updates in one ONNX Runtime run while their batches have the same dims (about 10 % faster, a second copy of the weights and optimizer state in memory; not with --grad-accum)', '1');
  addTrainingOptions(cmd, {
    epochs: '3', batchSize: '8', lr: '5e-5', weightDecay: '0', beta2: '0.999', eps: '1e-8', warmupRatio: '0', items: 'examples',
    help: {
      evalBatchSize: 'examples per evaluation batch (default: twice --batch-size)',
      maxLength: 'truncate sequences to this many tokens (question answering: the length of each context window with its question)',
      seed: 'seed for head initialisation, shuffling and dropout',
      metric: 'metric that picks the best checkpoint (default: accuracy; micro_f1 multi-label; mse, lowest, regression; f1 token classification and QA)',
      resume: 'continue from a checkpoint written by an earlier run (OUT/last)',
      decayAll: 'decay every parameter (torch AdamW) instead of skipping biases and LayerNorm (transformers Trainer)',
    },
  })
    .action(async (flags: Flags) => {
      toTrainOptions(flags); // every flag checked, and the output folder, before anything is downloaded
      checkWritableFolder(flags.out, '--out');
      checkRevision(flags.revision, [flags.model, flags.tokenizer]);
      flags.model = await localCheckpoint(flags.model, { revision: flags.revision, parts: flags.tokenizer === undefined ? 'all' : 'model' });
      flags.tokenizer = await localCheckpoint(flags.tokenizer, { revision: flags.revision, parts: 'tokenizer' });
      const opts = toTrainOptions(flags);
      // First Ctrl-C: finish the update, save OUT/last, exit. Second: exit at once.
      await runTrainingCommand((signal) => train({ ...opts, signal }));
    });
}
