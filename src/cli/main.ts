// The `deberta` command line: each subcommand lives in its own module under src/cli/commands and
// registers itself on the program here.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import '../platform/node.ts';
import { register as registerForward } from './commands/forward.ts';
import { register as registerExport } from './commands/export.ts';
import { register as registerGrad } from './commands/grad.ts';
import { register as registerInit } from './commands/init.ts';
import { register as registerPretrain } from './commands/pretrain.ts';
import { register as registerTrain } from './commands/train.ts';
import { register as registerTokenize } from './commands/tokenize.ts';
import { register as registerTasks } from './commands/tasks.ts';
import { register as registerServe } from './commands/serve.ts';
import { register as registerTokenizerTrain } from './commands/tokenizer-train.ts';
import { register as registerDownload } from './commands/download.ts';
import { register as registerCache } from './commands/cache.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('deberta')
    .description('DeBERTa for TypeScript: run, tokenize, train and serve Hugging Face DeBERTa checkpoints')
    .version(pkg.version);
  // Subcommands (one module each, in src/cli/commands):
  registerForward(program);
  registerExport(program);
  registerGrad(program);
  registerInit(program);
  registerTrain(program);
  registerPretrain(program);
  registerTokenize(program);
  registerTasks(program); // fill-mask, classify, zero-shot, ner, qa, embed, rerank
  registerServe(program);
  registerTokenizerTrain(program);
  registerDownload(program);
  registerCache(program);
  return program;
}

/** Runs the command line; errors are printed as one line and exit with status 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // A reader that stops early (`| head -1`) closes the pipe: the output wanted is out, so stop quietly
  // instead of dying of an unhandled EPIPE with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`deberta: stdout: ${err.message}\n`);
    process.exit(1);
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`deberta: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

// `node src/cli/main.ts …` (the repository's sources) runs it too; the installed command is bin/deberta.js.
if (process.argv[1] && /main\.[jt]s$/.test(process.argv[1])) void main();
