// The Hub's file protocol as huggingface_hub speaks it: a HEAD on {endpoint}/{repo}/resolve/{revision}/{file}
// for the commit (X-Repo-Commit), the etag (X-Linked-Etag, else ETag) and the size (X-Linked-Size, else
// Content-Length); a GET that follows redirects (to a CDN for LFS files; the token goes only to the Hub's own
// origin), resumes a dropped connection with Range, and checks an LFS file's sha256 against its etag.
// X-Error-Code answers become errors that say what to do. Node only.
import { createHash, type Hash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { repoLabel, resolveUrl } from './id.ts';
import type { HubSettings } from './settings.ts';

export interface FileMeta {
  commit: string;
  etag: string;
  size: number | undefined;
  /** Where to GET the bytes (the redirect target for LFS files). */
  location: string;
}

export type HubErrorCode = 'RepositoryNotFound' | 'RevisionNotFound' | 'EntryNotFound' | 'GatedRepo' | 'Unauthorized' | 'HTTP' | 'Network' | 'Integrity';

export class HubError extends Error {
  constructor(message: string, readonly code: HubErrorCode, readonly commit?: string, readonly status?: number) {
    super(message);
    this.name = 'HubError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
const envNumber = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The etag without quotes or the weak-validator prefix, as huggingface_hub stores it. */
export function normalizeEtag(v: string | null): string | undefined {
  if (v === null) return undefined;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

export class HubHttp {
  private readonly origin: string;

  constructor(private readonly s: HubSettings, private readonly repo: string) {
    this.origin = new URL(s.endpoint).origin;
  }

  private headers(url: string, extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { 'user-agent': 'deberta-ts', 'accept-encoding': 'identity', ...extra };
    // The token goes to the Hub only, never to the host a redirect points at.
    if (this.s.token !== undefined && new URL(url).origin === this.origin) h.authorization = `Bearer ${this.s.token}`;
    return h;
  }

  private label(file: string): string {
    return `${repoLabel(this.repo, this.s.revision)}/${file}`;
  }

  /** The error an unsuccessful answer stands for. */
  private errorFor(res: Response, file: string, url: string): HubError {
    const code = res.headers.get('x-error-code');
    const commit = res.headers.get('x-repo-commit') ?? undefined;
    const where = `${this.s.endpoint}`;
    const tokenHint = this.s.token === undefined
      ? 'if it is private or gated, give a token with access (HF_TOKEN, the file $HF_HOME/token, or the token option)'
      : 'check that the token (HF_TOKEN, $HF_HOME/token or the token option) has access to it';
    if (code === 'RepositoryNotFound') {
      return new HubError(`${this.repo}: no such repository on ${where} (RepositoryNotFound, HTTP ${res.status}); check the id, and ${tokenHint}`, 'RepositoryNotFound', commit, res.status);
    }
    if (code === 'RevisionNotFound') {
      return new HubError(`${this.repo}: revision '${this.s.revision}' not found on ${where} (RevisionNotFound); give an existing branch, tag or commit (the revision option, --revision)`, 'RevisionNotFound', commit, res.status);
    }
    if (code === 'EntryNotFound') {
      return new HubError(`${this.label(file)}: the repository has no such file at revision '${this.s.revision}' (EntryNotFound)`, 'EntryNotFound', commit, res.status);
    }
    if (code === 'GatedRepo') {
      return new HubError(`${this.label(file)}: ${this.repo} is a gated repository (GatedRepo, HTTP ${res.status}); accept its conditions on its page on ${where}, then give a token with access (HF_TOKEN, the file $HF_HOME/token, or the token option)`, 'GatedRepo', commit, res.status);
    }
    if (res.status === 401 || res.status === 403) {
      return new HubError(`${this.label(file)}: HTTP ${res.status} from ${url}; ${tokenHint}`, 'Unauthorized', commit, res.status);
    }
    return new HubError(`${this.label(file)}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} from ${url}`, 'HTTP', commit, res.status);
  }

  /** fetch, with 429 and 5xx answers tried again a few times (backing off), and network errors named. */
  private async fetch(url: string, init: RequestInit, file: string, tries = 3): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, { ...init, redirect: 'manual' });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new HubError(`${this.label(file)}: cannot reach ${url} (${cause?.code ?? cause?.message ?? (err as Error).message})`, 'Network');
      }
      if ((res.status === 429 || res.status >= 500) && attempt < tries) {
        await res.body?.cancel();
        await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)));
        continue;
      }
      return res;
    }
  }

  /** The file's metadata; EntryNotFound (and the other Hub errors) as HubError. */
  async head(file: string): Promise<FileMeta> {
    let url = resolveUrl(this.s.endpoint, this.repo, this.s.revision, file);
    const timeout = envNumber('HF_HUB_ETAG_TIMEOUT', 10) * 1000;
    for (let hops = 0; ; hops++) {
      const res = await this.fetch(url, { method: 'HEAD', headers: this.headers(url), signal: AbortSignal.timeout(timeout) }, file);
      const location = res.headers.get('location');
      const isRedirect = res.status >= 300 && res.status < 400 && location !== null;
      // An LFS file answers with a redirect to its storage that carries the metadata; other redirects
      // (a renamed repository) are followed, as huggingface_hub follows relative ones.
      if (isRedirect && !(res.headers.has('x-repo-commit') || res.headers.has('x-linked-etag'))) {
        if (hops >= 10) throw new HubError(`${this.label(file)}: too many redirects from ${url}`, 'HTTP', undefined, res.status);
        url = new URL(location, url).href;
        continue;
      }
      if (!isRedirect && !res.ok) throw this.errorFor(res, file, url);
      const commit = res.headers.get('x-repo-commit');
      const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
      if (!commit || !etag) {
        throw new HubError(`${this.label(file)}: ${url} answered without ${!commit ? 'X-Repo-Commit' : 'an ETag'}: is ${this.s.endpoint} a Hugging Face Hub (HF_ENDPOINT)?`, 'HTTP', undefined, res.status);
      }
      const sizeHeader = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
      const size = sizeHeader === null ? undefined : Number(sizeHeader);
      return { commit, etag, size: Number.isSafeInteger(size) ? size : undefined, location: isRedirect ? new URL(location, url).href : url };
    }
  }

  /** GET from `url` following redirects, asking for bytes from `from` on. */
  private async get(url: string, file: string, from: number, signal: AbortSignal): Promise<Response> {
    for (let hops = 0; hops <= 10; hops++) {
      const res = await this.fetch(url, { method: 'GET', headers: this.headers(url, from > 0 ? { range: `bytes=${from}-` } : {}), signal }, file);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location !== null) {
        await res.body?.cancel();
        url = new URL(location, url).href;
        continue;
      }
      if (!res.ok && res.status !== 416) throw this.errorFor(res, file, url);
      return res;
    }
    throw new HubError(`${this.label(file)}: too many redirects from ${url}`, 'HTTP');
  }

  /**
   * Downloads the file into `dest` (an .incomplete file, resumed from where an earlier attempt stopped),
   * up to 5 more tries after a dropped connection; checks the size and, for LFS files, the sha256. On a
   * failed check `dest` is removed.
   */
  async download(meta: FileMeta, file: string, dest: string, onBytes?: (loaded: number, total: number | undefined) => void): Promise<void> {
    const fh = await open(dest, 'a+');
    const stallMs = envNumber('HF_HUB_DOWNLOAD_TIMEOUT', 10) * 1000;
    let failed = false;
    try {
      let hash: Hash | undefined;
      let have = (await fh.stat()).size;
      const restart = async () => {
        await fh.truncate(0);
        have = 0;
        hash = SHA256.test(meta.etag) ? createHash('sha256') : undefined;
      };
      if (meta.size !== undefined && have > meta.size) await restart();
      hash = SHA256.test(meta.etag) ? createHash('sha256') : undefined;
      if (hash && have > 0) {
        // The bytes an earlier attempt left count towards the checksum.
        const buf = Buffer.allocUnsafe(8 << 20);
        for (let at = 0; at < have;) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, have - at), at);
          if (bytesRead === 0) break;
          hash.update(buf.subarray(0, bytesRead));
          at += bytesRead;
        }
      }
      // Received bytes are written in blocks of a few MB, one write in flight while the next block fills.
      let block: Uint8Array[] = [];
      let blockBytes = 0;
      let writing: Promise<unknown> = Promise.resolve();
      const writeBlock = async () => {
        await writing;
        if (blockBytes === 0) return;
        const bufs = block;
        block = [];
        blockBytes = 0;
        writing = fh.writev(bufs);
      };
      for (let retry = 0; ; retry++) {
        if (meta.size !== undefined && have === meta.size) break;
        const ctl = new AbortController();
        let lastData = Date.now();
        const timer = setInterval(() => { if (Date.now() - lastData > stallMs) ctl.abort(new Error(`no data for ${stallMs / 1000} s`)); }, Math.min(1000, stallMs));
        try {
          const res = await this.get(meta.location, file, have, ctl.signal);
          if (res.status === 416) {
            // Nothing past what we have: start again from the first byte.
            await res.body?.cancel();
            await restart();
            throw new HubError(`${this.label(file)}: the server refused the range from byte ${have}`, 'Network');
          }
          if (have > 0 && res.status !== 206) await restart();
          else if (res.status === 206) {
            const start = /bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
            if (start !== undefined && Number(start) !== have) {
              await res.body?.cancel();
              throw new HubError(`${this.label(file)}: asked for bytes from ${have}, got them from ${start}`, 'HTTP');
            }
          }
          onBytes?.(have, meta.size);
          if (res.body) {
            for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
              lastData = Date.now();
              hash?.update(chunk);
              block.push(chunk);
              blockBytes += chunk.length;
              have += chunk.length;
              if (blockBytes >= 4 << 20) await writeBlock();
              onBytes?.(have, meta.size);
            }
          }
          if (meta.size === undefined || have === meta.size) break;
          if (have > meta.size) throw new HubError(`${this.label(file)}: got ${have} bytes, more than the ${meta.size} announced`, 'Integrity');
          throw new HubError(`${this.label(file)}: the connection closed after ${have} of ${meta.size} bytes`, 'Network');
        } catch (err) {
          const e = err as HubError;
          // 5xx answers were tried again in `fetch` already; a dropped connection is resumed here.
          const retryable = !(e instanceof HubError) || e.code === 'Network';
          if (!retryable || retry >= 5) {
            if (e instanceof HubError) throw e;
            throw new HubError(`${this.label(file)}: download failed after ${have} bytes (${(e as Error).message}${(e as { cause?: Error }).cause ? `: ${(e as { cause?: Error }).cause!.message}` : ''})`, 'Network');
          }
          await sleep(Math.min(2000, 100 * 2 ** retry));
        } finally {
          clearInterval(timer);
          // What arrived before a failure is kept: the next attempt resumes after it.
          await writeBlock();
          await writing;
        }
      }
      if (hash) {
        const got = hash.digest('hex');
        if (got !== meta.etag) {
          failed = true;
          throw new HubError(`${this.label(file)}: the downloaded bytes have sha256 ${got}, not the ${meta.etag} the Hub announced; nothing was cached (try again; if it persists, something between here and ${new URL(meta.location).host} alters the file)`, 'Integrity');
        }
      }
    } catch (err) {
      if ((err as HubError).code === 'Integrity') failed = true;
      throw err;
    } finally {
      await fh.close();
      if (failed) await rm(dest, { force: true });
    }
  }
}
