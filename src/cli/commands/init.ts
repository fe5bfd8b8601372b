// `deberta init`: a randomly initialised checkpoint (config.json + model.safetensors) from a config,
// initialised as transformers does, for training from scratch or for tests.
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors } from '../../io/safetensors.ts';
import { headFromConfig } from '../../models/auto.ts';
import { parseDebertaConfig, writeDebertaConfig, type DebertaConfig } from '../../models/deberta/config-file.ts';
import { architectureFor, initWeights } from '../../models/deberta/init.ts';
import type { HeadKind } from '../../models/deberta/modeling.ts';
import { checkWritableFolder, copyTokenizerFiles, float32Config } from '../../train/checkpoint.ts';
import { HEADS, parseHead, parseIntFlag } from '../flags.ts';

export interface InitOptions {
  config: string;
  out: string;
  seed?: number;
  head?: HeadKind;
  /** Folder whose tokenizer files are copied into the checkpoint. */
  tokenizer?: string;
  force?: boolean;
}

/** Writes the checkpoint; returns the head and the number of parameters. */
export function initCheckpoint(o: InitOptions): { head: HeadKind; parameters: number; config: DebertaConfig } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(o.config, 'utf8'));
  } catch (err) {
    throw new Error(`${o.config}: cannot read the config (${(err as Error).message})`);
  }
  checkWritableFolder(o.out, '--out');
  const config = parseDebertaConfig(json, o.config);
  const head = o.head ?? headFromConfig(config);
  config.architectures = [architectureFor(config, head)];
  if (existsSync(join(o.out, 'model.safetensors')) && !o.force) {
    throw new Error(`${o.out}: already holds model.safetensors (pass --force to overwrite it)`);
  }
  const weights = initWeights(config, head, o.seed ?? 0);
  mkdirSync(o.out, { recursive: true });
  writeSafetensors(join(o.out, 'model.safetensors'), weights, { format: 'pt' });
  writeDebertaConfig(o.out, float32Config(config));
  if (o.tokenizer) {
    if (copyTokenizerFiles(o.tokenizer, o.out).length === 0) throw new Error(`--tokenizer: ${o.tokenizer} holds no tokenizer files`);
  }
  let parameters = 0;
  for (const t of weights.values()) parameters += t.data.length;
  return { head, parameters, config };
}

export function register(program: Command): void {
  program.command('init')
    .description('write a randomly initialised checkpoint (config.json + model.safetensors) as transformers initialises one')
    .requiredOption('--config <file>', 'a DeBERTa config.json')
    .requiredOption('--out <dir>', 'the checkpoint folder to write')
    .option('--seed <n>', 'random seed', '0')
    .option('--head <name>', `model head (${HEADS.join(', ')}); default: from the config's architectures`)
    .option('--tokenizer <dir>', 'copy the tokenizer files of this folder into the checkpoint')
    .option('--force', 'overwrite an existing checkpoint')
    .action((opts: { config: string; out: string; seed: string; head?: string; tokenizer?: string; force?: boolean }) => {
      const r = initCheckpoint({
        config: opts.config, out: opts.out, seed: parseIntFlag(opts.seed, '--seed'),
        head: opts.head === undefined ? undefined : parseHead(opts.head, '--head'),
        tokenizer: opts.tokenizer, force: opts.force,
      });
      process.stdout.write(`${opts.out}: ${r.config.architectures[0]} with ${r.parameters.toLocaleString('en-US')} parameters (seed ${opts.seed})\n`);
    });
}
