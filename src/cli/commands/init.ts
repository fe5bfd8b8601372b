// `deberta init`: a randomly initialised checkpoint (config.json + model.safetensors) from a config,
// initialised as transformers does, for training from scratch or for tests. Each weight is made, written
// and dropped in turn, so a model larger than memory (deberta-v2-xxlarge: 6 GB) needs one weight at a time.
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensorsStream } from '../../io/safetensors.ts';
import { headFromConfig } from '../../models/auto.ts';
import { parseDebertaConfig, writeDebertaConfig, type DebertaConfig } from '../../models/deberta/config-file.ts';
import { architectureFor, initParam, paramShapes } from '../../models/deberta/init.ts';
import { floatToBf16, floatToHalf, numel, type Tensor } from '../../tensor.ts';
import { Rng } from '../../util/random.ts';
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
  /** The weights' dtype in the file (default float32; float16 and bfloat16 are rounded from float32 values). */
  dtype?: InitDtype;
}

export const INIT_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export type InitDtype = (typeof INIT_DTYPES)[number];

/** Float32 values rounded to float16 or bfloat16 (nearest even). */
function rounded(t: Tensor, dtype: InitDtype): Tensor {
  if (dtype === 'float32') return t;
  const src = t.data as Float32Array;
  const out = new Uint16Array(src.length);
  const round = dtype === 'float16' ? floatToHalf : floatToBf16;
  for (let i = 0; i < src.length; i++) out[i] = round(src[i]!);
  return { dtype, dims: t.dims, data: out };
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
  const dtype = o.dtype ?? 'float32';
  if (!(INIT_DTYPES as readonly string[]).includes(dtype)) throw new Error(`--dtype: '${dtype}' is not one of ${INIT_DTYPES.join(', ')}`);
  // The same values, in the same order, as initWeights(config, head, seed), made one weight at a time.
  const shapes = paramShapes(config, head);
  const rng = new Rng(o.seed ?? 0);
  mkdirSync(o.out, { recursive: true });
  writeSafetensorsStream(join(o.out, 'model.safetensors'), [...shapes].map(([name, dims]) => ({ name, dtype, dims })),
    (name) => rounded(initParam(config, name, shapes.get(name)!, rng), dtype), { format: 'pt' });
  const saved = float32Config(config);
  if (dtype !== 'float32') {
    // transformers names it `dtype` (newer) or `torch_dtype`: set whichever the config has, else the latter.
    const raw = { ...saved.raw };
    if ('dtype' in raw) raw.dtype = dtype;
    if ('torch_dtype' in raw || !('dtype' in raw)) raw.torch_dtype = dtype;
    saved.raw = raw;
  }
  writeDebertaConfig(o.out, saved);
  if (o.tokenizer) {
    if (copyTokenizerFiles(o.tokenizer, o.out).length === 0) throw new Error(`--tokenizer: ${o.tokenizer} holds no tokenizer files`);
  }
  let parameters = 0;
  for (const dims of shapes.values()) parameters += numel(dims);
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
    .option('--dtype <dtype>', `weights' dtype in the file (${INIT_DTYPES.join(', ')})`, 'float32')
    .action((opts: { config: string; out: string; seed: string; head?: string; tokenizer?: string; force?: boolean; dtype: string }) => {
      const r = initCheckpoint({
        config: opts.config, out: opts.out, seed: parseIntFlag(opts.seed, '--seed'),
        head: opts.head === undefined ? undefined : parseHead(opts.head, '--head'),
        tokenizer: opts.tokenizer, force: opts.force, dtype: opts.dtype as InitDtype,
      });
      process.stdout.write(`${opts.out}: ${r.config.architectures[0]} with ${r.parameters.toLocaleString('en-US')} parameters (seed ${opts.seed})\n`);
    });
}
