// `deberta cache ls | rm`: the model repositories in huggingface_hub's cache (the one Python uses too).
import type { Command } from 'commander';
import { removeFromCache, scanCache } from '../../hub/cache.ts';
import { defaultCacheDir } from '../../hub/settings.ts';
import { renderTable } from '../task-io.ts';

const size = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : `${n}`);

export function register(program: Command): void {
  const cache = program.command('cache').description('list or remove models in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub)');
  cache
    .command('ls')
    .description('list the cached model repositories: size, revisions, files, last change')
    .option('--cache-dir <dir>', 'the cache folder')
    .option('--json', 'as JSON')
    .action((opts: { cacheDir?: string; json?: boolean }) => {
      const dir = opts.cacheDir ?? defaultCacheDir();
      const repos = scanCache(dir);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(repos, null, 2)}\n`);
        return;
      }
      if (repos.length === 0) {
        process.stdout.write(`no models in ${dir}\n`);
        return;
      }
      process.stdout.write(renderTable(['repo', 'size', 'revisions', 'files', 'modified', 'path'], repos.map((r) => [
        r.repo, size(r.size), Object.keys(r.refs).join(',') || r.snapshots.map((s) => s.slice(0, 8)).join(','), r.files,
        new Date(r.modified).toISOString().slice(0, 16).replace('T', ' '), r.path,
      ]), 400));
    });
  cache
    .command('rm')
    .description('remove a repository from the cache, or with --revision only that revision\'s snapshot and the files no other revision uses')
    .argument('<id>', 'the repository id, org/name')
    .option('--revision <rev>', 'a branch, tag or commit in the cache')
    .option('--cache-dir <dir>', 'the cache folder')
    .action((id: string, opts: { revision?: string; cacheDir?: string }) => {
      const removed = removeFromCache(opts.cacheDir ?? defaultCacheDir(), id, opts.revision);
      for (const p of removed) process.stdout.write(`removed ${p}\n`);
    });
}
