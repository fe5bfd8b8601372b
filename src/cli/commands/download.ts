// `deberta download <id>`: fetches what loading a Hub model reads (config, weights, tokenizer) into
// huggingface_hub's cache and prints the snapshot folder.
import type { Command } from 'commander';
import { downloadModel } from '../../hub/download.ts';
import { isHubId } from '../../hub/id.ts';
import { DownloadProgress, REVISION_HELP } from '../hub-args.ts';
import { oneOf } from '../flags.ts';

export function register(program: Command): void {
  program
    .command('download')
    .description('download a model from the Hugging Face Hub into the cache (huggingface_hub\'s, $HF_HUB_CACHE) and print its snapshot folder')
    .argument('<id>', 'the repository id, org/name')
    .option('--revision <rev>', REVISION_HELP)
    .option('--only <part>', 'model (config and weights) or tokenizer; default both')
    .option('--cache-dir <dir>', 'the cache folder (default $HF_HUB_CACHE, else $HF_HOME/hub)')
    .action(async (id: string, opts: { revision?: string; only?: string; cacheDir?: string }) => {
      if (!isHubId(id)) throw new Error(`${id}: not a Hugging Face Hub id (org/name or name)`);
      const parts = opts.only === undefined ? 'all' : oneOf(opts.only, ['model', 'tokenizer'] as const, '--only');
      const dir = await downloadModel(id, { revision: opts.revision, parts, cacheDir: opts.cacheDir, progress_callback: new DownloadProgress().callback });
      process.stdout.write(`${dir}\n`);
    });
}
