// `deberta tokenizer-train`: train a SentencePiece-compatible unigram or BPE tokenizer from text files
// and write spm.model, tokenizer.json, tokenizer_config.json and special_tokens_map.json.
import type { Command } from 'commander';
import { DEFAULT_OPTIONS, trainTokenizerToDir, type InputFormat, type ModelKind } from '../../tokenizers/train/index.ts';
import { checkWritableFolder } from '../../train/checkpoint.ts';

interface Opts {
  input: string[];
  vocabSize: string;
  modelType: string;
  out: string;
  inputFormat: string;
  characterCoverage: string;
  maxSentences: string;
  maxSentencepieceLength: string;
  splitDigits?: boolean;
  normalization: string;
  seed: string;
  quiet?: boolean;
}

function integer(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new Error(`${flag} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
  return n;
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${flag} must be one of ${allowed.join(', ')} (got ${JSON.stringify(v)})`);
  return v as T;
}

export function register(program: Command): void {
  program
    .command('tokenizer-train')
    .description('train a SentencePiece-compatible tokenizer (unigram or BPE) with DeBERTa-v3 special tokens')
    .requiredOption('--input <files...>', 'text files, one sentence per line (read as a stream)')
    .requiredOption('--vocab-size <n>', 'pieces in spm.model, the 4 special pieces included ([MASK] is added after them)')
    .requiredOption('--out <dir>', 'folder for spm.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json')
    .option('--model-type <type>', 'unigram or bpe', 'unigram')
    .option('--input-format <format>', 'text, or brown for the POS-tagged Brown corpus files', 'text')
    .option('--character-coverage <x>', 'share of character occurrences the alphabet covers', String(DEFAULT_OPTIONS.characterCoverage))
    .option('--max-sentences <n>', 'train on a uniform sample of this many sentences (0: all)', '0')
    .option('--max-sentencepiece-length <n>', 'longest piece, in characters', String(DEFAULT_OPTIONS.maxSentencepieceLength))
    .option('--split-digits', 'make every digit a piece of its own')
    .option('--normalization <rule>', 'nmt_nfkc (SentencePiece default) or identity', DEFAULT_OPTIONS.normalization)
    .option('--seed <n>', 'seed of the --max-sentences sample', String(DEFAULT_OPTIONS.seed))
    .option('--quiet', 'no progress on stderr')
    .action(async (opts: Opts) => {
      const modelType = oneOf<ModelKind>('--model-type', opts.modelType, ['unigram', 'bpe']);
      const inputFormat = oneOf<InputFormat>('--input-format', opts.inputFormat, ['text', 'brown']);
      const normalization = oneOf('--normalization', opts.normalization, ['nmt_nfkc', 'identity'] as const);
      const characterCoverage = Number(opts.characterCoverage);
      if (!(characterCoverage > 0 && characterCoverage <= 1)) throw new Error(`--character-coverage must be in (0, 1] (got ${JSON.stringify(opts.characterCoverage)})`);
      checkWritableFolder(opts.out, '--out');
      const started = Date.now();
      const log = opts.quiet ? undefined : (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}\n`);
      const result = await trainTokenizerToDir(
        { files: opts.input },
        {
          modelType,
          vocabSize: integer('--vocab-size', opts.vocabSize, 1),
          inputFormat,
          characterCoverage,
          maxSentences: integer('--max-sentences', opts.maxSentences, 0),
          maxSentencepieceLength: integer('--max-sentencepiece-length', opts.maxSentencepieceLength, 1),
          splitDigits: opts.splitDigits === true,
          normalization,
          seed: integer('--seed', opts.seed, 0),
          log,
        },
        opts.out,
      );
      if (!opts.quiet) process.stderr.write(`wrote ${result.files.join(', ')}\n`);
    });
}
