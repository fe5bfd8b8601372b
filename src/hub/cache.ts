// huggingface_hub's cache layout, read and written as Python does, so a model either side downloaded is
// used by the other:
//   {cache}/models--{org}--{name}/blobs/{etag}                 the file's bytes (etag: sha256 for LFS files, git sha1 otherwise)
//   {cache}/models--{org}--{name}/snapshots/{commit}/{file}    a relative symlink to the blob (a copy where links fail)
//   {cache}/models--{org}--{name}/refs/{revision}              the commit a branch or tag pointed at
//   {cache}/models--{org}--{name}/.no_exist/{commit}/{file}    an empty file: known to be missing at that commit
//   {cache}/.locks/models--{org}--{name}/                      lock files of downloads in progress
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoFolderName } from './id.ts';

export const COMMIT = /^[0-9a-f]{40}$/;

export class RepoCache {
  readonly root: string;
  readonly locks: string;

  constructor(readonly cacheDir: string, readonly repo: string) {
    this.root = join(cacheDir, repoFolderName(repo));
    this.locks = join(cacheDir, '.locks', repoFolderName(repo));
  }

  blob(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  pointer(commit: string, file: string): string {
    return join(this.snapshotDir(commit), ...file.split('/'));
  }

  noExistPath(commit: string, file: string): string {
    return join(this.root, '.no_exist', commit, ...file.split('/'));
  }

  /** The commit `revision` names in the cache: itself when it is a commit, else refs/{revision}. */
  commitOf(revision: string): string | undefined {
    if (COMMIT.test(revision)) return existsSync(this.snapshotDir(revision)) ? revision : undefined;
    try {
      const c = readFileSync(join(this.root, 'refs', ...revision.split('/')), 'utf8').trim();
      return COMMIT.test(c) ? c : undefined;
    } catch {
      return undefined;
    }
  }

  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    const path = join(this.root, 'refs', ...revision.split('/'));
    if (this.commitOf(revision) === commit) return;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, commit);
  }

  /** The snapshot file when it is there (a link whose blob exists, or a copy). */
  cached(commit: string, file: string): string | undefined {
    const p = this.pointer(commit, file);
    try {
      return statSync(p).isFile() ? p : undefined;
    } catch {
      return undefined;
    }
  }

  isKnownMissing(commit: string, file: string): boolean {
    return existsSync(this.noExistPath(commit, file));
  }

  markMissing(commit: string, file: string): void {
    const p = this.noExistPath(commit, file);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, '');
  }

  /** Points snapshots/{commit}/{file} at the blob: a relative symlink, or a copy where the file system refuses links. */
  link(commit: string, file: string, etag: string): string {
    const p = this.pointer(commit, file);
    const blob = this.blob(etag);
    mkdirSync(dirname(p), { recursive: true });
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink() && resolve(dirname(p), readlinkSync(p)) === blob) return p;
      rmSync(p, { force: true });
    } catch { /* not there */ }
    try {
      symlinkSync(relative(dirname(p), blob), p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return p; // another process made it
      copyFileSync(blob, p);
    }
    return p;
  }
}

export interface CachedRepo {
  repo: string;
  path: string;
  /** Bytes of its blobs. */
  size: number;
  /** Files in its newest snapshot. */
  files: number;
  /** Branch or tag → commit. */
  refs: Record<string, string>;
  snapshots: string[];
  /** Last change to any of its files (ms since the epoch). */
  modified: number;
}

function walkFiles(dir: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, out);
    else out.push(p);
  }
  return out;
}

/** The model repositories in a cache, as `hf cache ls` lists them. */
export function scanCache(cacheDir: string): CachedRepo[] {
  let names: string[];
  try {
    names = readdirSync(cacheDir);
  } catch {
    return [];
  }
  const repos: CachedRepo[] = [];
  for (const name of names.sort()) {
    if (!name.startsWith('models--')) continue;
    const path = join(cacheDir, name);
    const repo = name.slice('models--'.length).split('--').join('/');
    let size = 0;
    let modified = 0;
    for (const f of walkFiles(join(path, 'blobs'))) {
      const st = statSync(f);
      size += st.size;
      modified = Math.max(modified, st.mtimeMs);
    }
    const refs: Record<string, string> = {};
    const refsDir = join(path, 'refs');
    for (const f of walkFiles(refsDir)) refs[relative(refsDir, f).split('\\').join('/')] = readFileSync(f, 'utf8').trim();
    let snapshots: string[] = [];
    try {
      snapshots = readdirSync(join(path, 'snapshots'));
    } catch { /* none */ }
    const newest = snapshots.map((s) => ({ s, t: statSync(join(path, 'snapshots', s)).mtimeMs })).sort((a, b) => b.t - a.t)[0];
    const files = newest ? walkFiles(join(path, 'snapshots', newest.s)).length : 0;
    repos.push({ repo, path, size, files, refs, snapshots, modified });
  }
  return repos;
}

/** Removes a repository from the cache, or only one revision's snapshot and the blobs no other snapshot uses. */
export function removeFromCache(cacheDir: string, repo: string, revision?: string): string[] {
  const cache = new RepoCache(cacheDir, repo);
  if (!existsSync(cache.root)) throw new Error(`${repo}: not in the cache at ${cacheDir}`);
  if (revision === undefined) {
    rmSync(cache.root, { recursive: true, force: true });
    rmSync(cache.locks, { recursive: true, force: true });
    return [cache.root];
  }
  const commit = cache.commitOf(revision);
  if (commit === undefined) throw new Error(`${repo}: revision '${revision}' is not in the cache at ${cacheDir}`);
  const removed = [cache.snapshotDir(commit)];
  rmSync(cache.snapshotDir(commit), { recursive: true, force: true });
  rmSync(join(cache.root, '.no_exist', commit), { recursive: true, force: true });
  for (const f of walkFiles(join(cache.root, 'refs'))) {
    if (readFileSync(f, 'utf8').trim() === commit) {
      rmSync(f);
      removed.push(f);
    }
  }
  // Blobs no remaining snapshot links to.
  const used = new Set<string>();
  for (const f of walkFiles(join(cache.root, 'snapshots'))) {
    try {
      used.add(resolve(dirname(f), readlinkSync(f)));
    } catch { /* a copy, not a link */ }
  }
  for (const b of walkFiles(join(cache.root, 'blobs'))) {
    if (!used.has(b)) {
      rmSync(b);
      removed.push(b);
    }
  }
  return removed;
}
