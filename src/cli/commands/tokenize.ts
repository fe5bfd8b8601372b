// `deberta tokenize`: a JSON array of texts (or [a, b] pairs with --pairs) on stdin, one object per item
// on stdout with what transformers returns for it (input_ids, tokens, offsets, token_type_ids,
// attention_mask), so the output can be compared with Python's directly.
import type { Command } from 'commander';
import { AutoTokenizer, type TokenizerSource } from '../../tokenizers/index.ts';
import { checkRevision, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { intArg, oneOf } from '../flags.ts';

interface TokenizeOptions {
  tokenizer: string;
  revision?: string;
  pairs?: boolean;
  use?: TokenizerSource;
  maxLength?: number;
  truncation?: string;
  stride?: number;
  addSpecialTokens: boolean;
}

export function register(program: Command): void {
  program
    .command('tokenize')
    .description('tokenize a JSON array read from stdin (strings, or [a, b] pairs with --pairs) and write a JSON array to stdout')
    .requiredOption('--tokenizer <dir|id>', 'checkpoint folder with tokenizer.json, spm.model, or vocab.json + merges.txt; or a Hub id')
    .option('--revision <rev>', REVISION_HELP)
    .option('--pairs', 'items are [text, textPair] pairs')
    .option('--use <file>', 'read this file even if others are present: tokenizer.json, spm.model or vocab.json')
    .option('--max-length <n>', 'truncate to n tokens (special tokens included)', intArg('--max-length', 1))
    .option('--truncation <strategy>', 'with --max-length: longest_first (default), only_first or only_second')
    .option('--stride <n>', 'with --max-length: also output the overflow windows, overlapping by n tokens', intArg('--stride', 0))
    .option('--no-add-special-tokens', 'do not add [CLS] / [SEP]')
    .action(async (opts: TokenizeOptions) => {
      if (opts.truncation !== undefined) oneOf(opts.truncation, ['longest_first', 'only_first', 'only_second'] as const, '--truncation');
      if (opts.use !== undefined) oneOf(opts.use, ['tokenizer.json', 'spm.model', 'vocab.json'] as const, '--use');
      if (opts.stride !== undefined && opts.maxLength === undefined) throw new Error('--stride: needs --max-length');
      // Without a length there is nothing to truncate to: the flag would be ignored.
      if (opts.truncation !== undefined && opts.maxLength === undefined) throw new Error('--truncation: needs --max-length');
      checkRevision(opts.revision, [opts.tokenizer]);
      opts.tokenizer = await localCheckpoint(opts.tokenizer, { revision: opts.revision, parts: 'tokenizer' });
      const items = parseInput(await readStdin(), opts.pairs === true);
      const tokenizer = await AutoTokenizer.fromPretrained(opts.tokenizer, opts.use ? { use: opts.use } : {});
      const truncation = opts.maxLength !== undefined ? ((opts.truncation ?? 'longest_first') as 'longest_first') : false;
      const out: unknown[] = [];
      items.forEach((item, i) => {
        const r = tokenizer.encodeBatch([item], {
          addSpecialTokens: opts.addSpecialTokens,
          truncation,
          maxLength: opts.maxLength,
          stride: opts.stride,
          returnOverflowingTokens: opts.stride !== undefined,
          returnOffsets: true,
          returnTokens: true,
        });
        r.inputIds.forEach((ids, k) => {
          const row: Record<string, unknown> = {
            input_ids: ids,
            tokens: r.tokens![k],
            offsets: r.offsets![k],
            token_type_ids: r.tokenTypeIds[k],
            attention_mask: r.attentionMask[k],
          };
          if (opts.stride !== undefined) row.overflow_to_sample_mapping = i;
          out.push(row);
        });
      });
      process.stdout.write(JSON.stringify(out) + '\n');
    });
}

async function readStdin(): Promise<string> {
  // A terminal would wait for a JSON array typed by hand: say what is expected instead.
  if (process.stdin.isTTY) throw new Error('no input: pipe a JSON array of texts into stdin (e.g. echo \'["a text"]\' | deberta tokenize --tokenizer DIR)');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseInput(text: string, pairs: boolean): [string, string | null][] {
  if (text.trim() === '') throw new Error(`stdin: empty; expected a JSON array of ${pairs ? '[text, textPair] pairs' : 'strings'}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`stdin: invalid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data)) throw new Error('stdin: expected a JSON array');
  return data.map((item, i): [string, string | null] => {
    if (pairs) {
      if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string' || typeof item[1] !== 'string') {
        throw new Error(`stdin: item ${i} must be a [text, textPair] pair of strings (--pairs)`);
      }
      return [item[0], item[1]];
    }
    if (typeof item !== 'string') throw new Error(`stdin: item ${i} must be a string${Array.isArray(item) ? ' (use --pairs for [a, b] pairs)' : ''}`);
    return [item, null];
  });
}
