// Hub ids on the command line: every --model and --tokenizer takes a folder, a URL or a Hub id (with
// --revision). An id is fetched into huggingface_hub's cache first, with a progress display on stderr,
// and the command then reads the snapshot folder (so worker threads and servers load a plain folder).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { downloadModel, type DownloadOptions } from '../hub/download.ts';
import { isHubId, type ProgressInfo } from '../hub/id.ts';
import { formatDuration } from '../train/progress.ts';

export const REVISION_HELP = 'with a Hugging Face Hub id: the branch, tag or commit (default main)';

/** Adds --revision. */
export function revisionOption(cmd: Command): Command {
  return cmd.option('--revision <rev>', REVISION_HELP);
}

const mb = (n: number) => `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;

/**
 * Download progress on stderr: on a terminal one line per file redrawn in place (bar, bytes, rate, ETA);
 * otherwise a line when a download starts and one when it ends. Files found in the cache print nothing.
 */
export class DownloadProgress {
  private started = new Map<string, number>();
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr) {}

  readonly callback = (e: ProgressInfo): void => {
    const key = `${e.name}/${e.file}`;
    const now = performance.now();
    if (e.status === 'download') {
      this.started.set(key, now);
      if (!this.out.isTTY) this.out.write(`downloading ${key}\n`);
    } else if (e.status === 'progress' && this.out.isTTY && e.total) {
      if (now - this.lastDraw < 100 && e.loaded !== e.total) return;
      this.lastDraw = now;
      const s = (now - (this.started.get(key) ?? now)) / 1000;
      const rate = s > 0 ? (e.loaded ?? 0) / s : 0;
      const width = 20;
      const filled = Math.min(width, Math.round(((e.loaded ?? 0) / e.total) * width));
      const eta = rate > 0 ? formatDuration((e.total - (e.loaded ?? 0)) / rate) : '?';
      const line = `${key} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${mb(e.loaded ?? 0)}/${mb(e.total)}  ${mb(rate)}/s  ETA ${eta}`;
      this.out.write(`\r${line.slice(0, Math.max(20, (this.out.columns ?? 120) - 1))}\x1b[K`);
    } else if (e.status === 'done' && this.started.has(key)) {
      const s = (now - this.started.get(key)!) / 1000;
      this.started.delete(key);
      if (this.out.isTTY) this.out.write('\r\x1b[K');
      this.out.write(`downloaded ${key} in ${s.toFixed(1)} s\n`);
    }
  };
}

/** True where `ref` would be fetched from the Hub: a valid id that is neither a path on disk nor a URL. */
export function isHubRef(ref: string): boolean {
  return !/^https?:\/\//i.test(ref) && !existsSync(ref) && isHubId(ref);
}

/**
 * The folder to read for a --model or --tokenizer value: the value itself, or for a Hub id the snapshot
 * folder it was downloaded to (only what `parts` needs is fetched).
 */
export async function localCheckpoint<T extends string | undefined>(ref: T, o: { revision?: string; parts?: DownloadOptions['parts']; progress?: DownloadProgress } = {}): Promise<T | string> {
  if (ref === undefined || !isHubRef(ref)) return ref;
  return downloadModel(ref, { revision: o.revision, parts: o.parts, progress_callback: (o.progress ?? new DownloadProgress()).callback });
}

/** --revision given where no value is a Hub id is a mistake worth saying. */
export function checkRevision(revision: string | undefined, refs: (string | undefined)[]): void {
  if (revision !== undefined && !refs.some((r) => r !== undefined && isHubRef(r))) {
    const given = refs.filter((r) => r !== undefined);
    const what = given.length === 0 ? 'no --model is given' : `${given.join(' and ')} ${given.length > 1 ? 'are no Hub ids' : 'is no Hub id'}`;
    throw new Error(`--revision is for Hugging Face Hub ids, and ${what}`);
  }
}
