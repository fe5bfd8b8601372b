// A stand-in for the Hugging Face Hub, on 127.0.0.1, for the hub tests: serves repositories under the Hub's
// URL scheme (/{repo}/resolve/{revision}/{file}) with its headers (X-Repo-Commit, ETag, X-Linked-Etag,
// X-Linked-Size, X-Error-Code), answers LFS files (*.safetensors, *.bin) with a 302 to /cdn/{sha256} (on
// its own origin or on a second server), supports Range, and injects faults on request: a connection cut
// mid-file, one that stops sending mid-file and stays open, 500, a corrupted body. Every request is logged.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface StandInRepo {
  /** commit → files (name → bytes). */
  commits: Record<string, Record<string, Uint8Array>>;
  /** branch or tag → commit. */
  refs: Record<string, string>;
  /** Gated: every file answers 401 GatedRepo unless the request carries this token. */
  gatedToken?: string;
}

export type FaultKind = 'cut' | 'stall' | '500' | 'corrupt';

export interface LoggedRequest { method: string; path: string; range?: string; auth?: string; server: 'hub' | 'cdn'; at: number; finished?: number }

const LFS = /\.(safetensors|bin)$/;

// Hashes are remembered per byte array: the stand-in answers many HEADs for the same files.
const hashes = new WeakMap<Uint8Array, { sha1?: string; sha256?: string }>();
const memo = (b: Uint8Array) => { let h = hashes.get(b); if (!h) hashes.set(b, (h = {})); return h; };
export const gitSha1 = (b: Uint8Array) => (memo(b).sha1 ??= createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex'));
export const sha256 = (b: Uint8Array) => (memo(b).sha256 ??= createHash('sha256').update(b).digest('hex'));
export const fakeCommit = (seed: string) => createHash('sha1').update(seed).digest('hex');

/** A folder's files (recursively), by relative path. */
export function folderContents(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p).split('\\').join('/')] = new Uint8Array(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** A repository with one commit, on branch main. */
export function oneCommitRepo(files: Record<string, Uint8Array>, seed = 'main'): StandInRepo {
  const c = fakeCommit(seed);
  return { commits: { [c]: files }, refs: { main: c } };
}

export class HubStandIn {
  readonly requests: LoggedRequest[] = [];
  private readonly faults = new Map<string, FaultKind[]>();
  /** Milliseconds to wait between 64 KiB chunks of a body (to make downloads overlap). */
  chunkDelayMs = 0;
  /** Renamed repositories: old id → new id, answered with a relative 307 as the Hub does. */
  readonly renamed = new Map<string, string>();
  /** A GET of this file sends no byte before this many HEADs of it have come in (waits at most 60 s). */
  readonly gates = new Map<string, number>();
  private blobs = new Map<string, { bytes: Uint8Array; file: string }>();

  private constructor(readonly repos: Map<string, StandInRepo>, private hub: Server, private cdn: Server | undefined, readonly url: string, readonly cdnUrl: string) {}

  /** Starts the stand-in; with `cdn: 'other-origin'` LFS redirects go to a second server (another origin). */
  static async start(repos: Record<string, StandInRepo>, opts: { cdn?: 'relative' | 'other-origin' } = {}): Promise<HubStandIn> {
    const listen = async (s: Server) => {
      await new Promise<void>((res, rej) => { s.once('error', rej); s.listen(0, '127.0.0.1', () => res()); });
      return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    };
    let self!: HubStandIn;
    const hub = createServer((req, res) => self.handle(req, res, 'hub'));
    const cdn = opts.cdn === 'other-origin' ? createServer((req, res) => self.handle(req, res, 'cdn')) : undefined;
    const url = await listen(hub);
    const cdnUrl = cdn ? await listen(cdn) : url;
    self = new HubStandIn(new Map(Object.entries(repos)), hub, cdn, url, cdn ? cdnUrl : '');
    for (const r of Object.values(repos)) for (const files of Object.values(r.commits)) for (const [f, b] of Object.entries(files)) self.blobs.set(sha256(b), { bytes: b, file: f });
    return self;
  }

  /** The next GET of `file` (by name) fails this way; several calls queue several faults. */
  fault(file: string, kind: FaultKind): void {
    const q = this.faults.get(file) ?? [];
    q.push(kind);
    this.faults.set(file, q);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  gets(file?: string): LoggedRequest[] {
    return this.requests.filter((r) => r.method === 'GET' && (file === undefined || r.path.endsWith(`/${file}`) || this.blobs.get(r.path.split('/').pop()!)?.file === file));
  }

  async stop(): Promise<void> {
    for (const s of [this.hub, this.cdn]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((res) => s.close(() => res()));
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse, server: 'hub' | 'cdn') {
    const path = decodeURI((req.url ?? '/').split('?')[0]!);
    const logged: LoggedRequest = { method: req.method ?? '', path, range: req.headers.range, auth: req.headers.authorization, server, at: performance.now() };
    this.requests.push(logged);
    res.on('close', () => { logged.finished = performance.now(); });
    if (path.startsWith('/cdn/')) {
      const blob = this.blobs.get(path.slice('/cdn/'.length));
      if (!blob) return void res.writeHead(404).end();
      return this.sendBody(req, res, blob.bytes, blob.file, { etag: `"${path.slice(5)}"` });
    }
    const at = path.indexOf('/resolve/');
    if (at < 0) return void res.writeHead(404).end();
    const repoId = path.slice(1, at);
    const [revRaw, ...fileParts] = path.slice(at + '/resolve/'.length).split('/');
    const rev = decodeURIComponent(revRaw ?? '');
    const file = fileParts.join('/');
    const moved = this.renamed.get(repoId);
    if (moved !== undefined) return void res.writeHead(307, { location: `/${moved}${path.slice(at)}` }).end();
    const repo = this.repos.get(repoId);
    const err = (status: number, code: string, extra: Record<string, string> = {}) =>
      void res.writeHead(status, { 'x-error-code': code, 'content-type': 'application/json', ...extra }).end(req.method === 'HEAD' ? undefined : JSON.stringify({ error: code }));
    if (!repo) return err(404, 'RepositoryNotFound');
    if (repo.gatedToken !== undefined && req.headers.authorization !== `Bearer ${repo.gatedToken}`) return err(401, 'GatedRepo');
    const commit = repo.refs[rev] ?? (repo.commits[rev] ? rev : undefined);
    if (!commit) return err(404, 'RevisionNotFound');
    const bytes = repo.commits[commit]![file];
    if (!bytes) return err(404, 'EntryNotFound', { 'x-repo-commit': commit });
    if (LFS.test(file)) {
      const sha = sha256(bytes);
      const location = this.cdnUrl ? `${this.cdnUrl}/cdn/${sha}` : `/cdn/${sha}`;
      return void res.writeHead(302, {
        'x-repo-commit': commit, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(bytes.length), etag: `"${gitSha1(bytes)}"`, location, 'content-length': '0',
      }).end();
    }
    this.sendBody(req, res, bytes, file, { 'x-repo-commit': commit, etag: `"${gitSha1(bytes)}"` });
  }

  private sendBody(req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, file: string, headers: Record<string, string>) {
    const gate = req.method === 'GET' ? this.gates.get(file) : undefined;
    if (gate !== undefined) {
      const deadline = performance.now() + 60_000;
      const heads = () => this.requests.filter((r) => r.method === 'HEAD' && r.path.endsWith(`/resolve/main/${file}`)).length;
      const wait = () => {
        if (heads() >= gate || performance.now() > deadline) this.sendOpen(req, res, bytes, file, headers);
        else setTimeout(wait, 20);
      };
      return wait();
    }
    this.sendOpen(req, res, bytes, file, headers);
  }

  private sendOpen(req: IncomingMessage, res: ServerResponse, bytes: Uint8Array, file: string, headers: Record<string, string>): void {
    const fault = req.method === 'GET' ? this.faults.get(file)?.shift() : undefined;
    if (fault === '500') return void res.writeHead(500).end('internal error');
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= bytes.length) return void res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
    }
    let body = bytes.subarray(start);
    if (fault === 'corrupt') {
      body = body.slice();
      body[body.length >> 1]! ^= 0xff;
    }
    res.writeHead(range ? 206 : 200, {
      ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.length),
      ...(range ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const end = fault === 'cut' || fault === 'stall' ? body.length >> 1 : body.length;
    const step = 64 << 10;
    const send = (at: number) => {
      if (at >= end) {
        if (fault === 'cut') res.socket?.destroy();
        else if (fault !== 'stall') res.end(); // a stalled answer stays open until the client gives up or stop()
        return;
      }
      const ok = res.write(body.subarray(at, Math.min(end, at + step)));
      const next = () => (this.chunkDelayMs > 0 ? setTimeout(() => send(at + step), this.chunkDelayMs) : send(at + step));
      if (ok) next();
      else res.once('drain', next);
    };
    send(0);
  }
}
