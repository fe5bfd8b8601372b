// A Hub repository as a ModelFiles source: `has` asks the Hub (a HEAD, answered from the cache where
// huggingface_hub would: offline, a commit already cached, a file known missing, the Hub unreachable);
// `read` and `safetensors` download into the cache first and then read the snapshot file, so safetensors
// weights still go from the file to ONNX Runtime. Node only.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import type { ModelFiles } from '../io/files.ts';
import { readFileRange, readWholeFile, unlinked } from '../io/node-files.ts';
import { readSafetensors } from '../io/safetensors.ts';
import { COMMIT, RepoCache } from './cache.ts';
import { HubError, HubHttp, type FileMeta } from './http.ts';
import { isHubId, repoLabel, type HubOptions, type ProgressInfo } from './id.ts';
import { hubSettings, type HubSettings } from './settings.ts';

export interface HubFiles extends ModelFiles {
  readonly repo: string;
  readonly revision: string;
  readonly cacheDir: string;
  /** The snapshot folder of the revision's commit (known once any file was asked for). */
  snapshot(): string;
  /** The local path of a file, downloaded into the cache if it is not there yet. */
  fetch(name: string): Promise<string>;
  /** Files this source downloaded (not found in the cache). */
  readonly downloaded: string[];
}

type Resolved =
  | { kind: 'remote'; meta: FileMeta }
  | { kind: 'cached'; commit: string; path: string }
  | { kind: 'missing'; commit: string }
  | { kind: 'uncached'; commit: string; why: string };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the download lock of one blob (another process may hold it while it downloads). */
async function lockBlob(path: string, label: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      return await lockfile.lock(path, { realpath: false, stale: 20_000, update: 5_000, onCompromised: () => { /* the rename still checks the bytes */ } });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      if (Date.now() > deadline) throw new Error(`${label}: another process has held the download lock ${path}.lock for 30 minutes`);
      await sleep(150);
    }
  }
}

export interface HubFilesOptions extends HubOptions {
  /** The id was given where a folder could have been (this one): say so when there is no such repository. */
  orFolder?: string;
}

/** The files of Hub repository `repo` at `options.revision`, through huggingface_hub's cache. */
export function hubFiles(repo: string, options: HubFilesOptions = {}): HubFiles {
  if (!isHubId(repo)) throw new Error(`${repo}: not a Hugging Face Hub id (org/name or name)`);
  const s: HubSettings = hubSettings(options);
  const cache = new RepoCache(s.cacheDir, repo);
  const http = new HubHttp(s, repo);
  const label = repoLabel(repo, s.revision);
  const emit = (info: ProgressInfo) => {
    try { s.progress?.(info); } catch { /* a failing callback does not stop the download */ }
  };
  let commit: string | undefined;
  let unreachable: HubError | undefined;
  const resolved = new Map<string, Promise<Resolved>>();
  const fetched = new Map<string, Promise<string>>();
  const downloaded: string[] = [];

  const fromCache = (file: string, why: string): Resolved => {
    const c = cache.commitOf(s.revision);
    if (c === undefined) {
      const folder = options.orFolder ? `, nor is there a folder '${options.orFolder}'` : '';
      throw new HubError(`${label}/${file}: not in the cache (${s.cacheDir}) and ${why}${folder}; download it once online (deberta download ${repo}${s.revision === 'main' ? '' : ` --revision ${s.revision}`})`, 'Network');
    }
    commit = c;
    const path = cache.cached(c, file);
    if (path) return { kind: 'cached', commit: c, path };
    if (cache.isKnownMissing(c, file)) return { kind: 'missing', commit: c };
    return { kind: 'uncached', commit: c, why };
  };

  const resolveNow = async (file: string): Promise<Resolved> => {
    if (s.offline) return fromCache(file, `the Hub is not asked (${s.offlineWhy})`);
    if (COMMIT.test(s.revision)) {
      // A commit's files never change: a cached one needs no request.
      const path = cache.cached(s.revision, file);
      if (path) return { kind: 'cached', commit: (commit = s.revision), path };
      if (cache.isKnownMissing(s.revision, file)) return { kind: 'missing', commit: (commit = s.revision) };
    }
    if (unreachable) return fromCache(file, `the Hub cannot be reached (${unreachable.message})`);
    try {
      const meta = await http.head(file);
      commit = meta.commit;
      cache.writeRef(s.revision, meta.commit);
      return { kind: 'remote', meta };
    } catch (err) {
      const e = err as HubError;
      if (e.code === 'EntryNotFound') {
        // Remembered as missing at its commit when the answer names one (as huggingface_hub does).
        if (e.commit) {
          commit = e.commit;
          cache.markMissing(e.commit, file);
          cache.writeRef(s.revision, e.commit);
        }
        return { kind: 'missing', commit: e.commit ?? '' };
      }
      if (e.code === 'Network' || (e.code === 'HTTP' && (e.status ?? 0) >= 500)) {
        unreachable = e;
        try {
          return fromCache(file, `the Hub cannot be reached (${e.message})`);
        } catch {
          const folder = options.orFolder ? `; nor is there a folder '${options.orFolder}' here` : '';
          const fetchCmd = `deberta download ${repo}${s.revision === 'main' ? '' : ` --revision ${s.revision}`}`;
          throw new HubError(`${e.message}; no copy in the cache (${s.cacheDir})${folder}: download it where the Hub can be reached (${fetchCmd}) and copy the cache, or set HF_ENDPOINT to a mirror`, e.code, e.commit, e.status);
        }
      }
      if (e.code === 'RepositoryNotFound' && options.orFolder) throw new HubError(`${e.message}; nor is there a folder '${options.orFolder}' here`, e.code, e.commit, e.status);
      throw e;
    }
  };

  const resolve = (file: string): Promise<Resolved> => {
    let r = resolved.get(file);
    if (!r) {
      r = resolveNow(file);
      resolved.set(file, r);
      r.catch(() => resolved.delete(file));
    }
    return r;
  };

  const download = async (file: string, meta: FileMeta): Promise<string> => {
    const have = cache.cached(meta.commit, file);
    if (have) return have;
    const blob = cache.blob(meta.etag);
    if (existsSync(blob)) return cache.link(meta.commit, file, meta.etag);
    mkdirSync(cache.locks, { recursive: true });
    mkdirSync(join(cache.root, 'blobs'), { recursive: true });
    const release = await lockBlob(join(cache.locks, `${meta.etag}.lock`), `${label}/${file}`);
    try {
      if (!existsSync(blob)) {
        emit({ status: 'download', name: repo, file });
        let last = 0;
        await http.download(meta, file, `${blob}.incomplete`, (loaded, total) => {
          const now = Date.now();
          if (now - last < 100 && loaded !== total) return;
          last = now;
          emit({ status: 'progress', name: repo, file, loaded, total: total ?? loaded, progress: total ? (100 * loaded) / total : 0 });
        });
        renameSync(`${blob}.incomplete`, blob);
        downloaded.push(file);
      }
    } finally {
      await release().catch(() => { /* already released or compromised */ });
    }
    return cache.link(meta.commit, file, meta.etag);
  };

  const fetchFile = (file: string): Promise<string> => {
    let p = fetched.get(file);
    if (!p) {
      p = (async () => {
        emit({ status: 'initiate', name: repo, file });
        const r = await resolve(file);
        let path: string;
        if (r.kind === 'cached') path = r.path;
        else if (r.kind === 'missing') throw new HubError(`${label}/${file}: the repository has no such file at revision '${s.revision}'${r.commit ? ` (commit ${r.commit})` : ''}`, 'EntryNotFound', r.commit || undefined);
        else if (r.kind === 'uncached') throw new HubError(`${label}/${file}: not in the cache (${cache.snapshotDir(r.commit)}) and ${r.why}`, 'Network', r.commit);
        else path = await download(file, r.meta);
        emit({ status: 'done', name: repo, file });
        return path;
      })();
      fetched.set(file, p);
      p.catch(() => fetched.delete(file));
    }
    return p;
  };

  return {
    repo,
    revision: s.revision,
    cacheDir: s.cacheDir,
    downloaded,
    where: label,
    path: (name) => `${label}/${name}`,
    has: async (name) => {
      const r = await resolve(name);
      return r.kind === 'remote' || r.kind === 'cached';
    },
    read: async (name) => readWholeFile(await fetchFile(name)),
    readRange: async (name, offset, length) => readFileRange(await fetchFile(name), offset, length),
    // ONNX Runtime reads lazy weights from the file itself and refuses a link that leads out of the
    // snapshot folder: give it the blob.
    safetensors: async (name, opts) => readSafetensors(unlinked(await fetchFile(name)), opts).tensors,
    fetch: fetchFile,
    snapshot: () => {
      const c = commit ?? cache.commitOf(s.revision);
      if (c === undefined) throw new Error(`${label}: no commit known yet (nothing fetched)`);
      return cache.snapshotDir(c);
    },
  };
}
