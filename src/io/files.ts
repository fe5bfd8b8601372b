// Where a checkpoint's files come from. Every loader reads through this interface, so the same parsing
// runs on a folder on disk (Node), a URL base (browsers, or Node's fetch) or file contents in memory.
import type { Tensor } from '../tensor.ts';

export interface ModelFiles {
  /** The folder, URL or label in messages. */
  readonly where: string;
  /** A file's full name in messages (its path or URL). */
  path(name: string): string;
  has(name: string): Promise<boolean>;
  /** The file's bytes; fails naming the file. */
  read(name: string): Promise<Uint8Array>;
  /**
   * `length` bytes of a file from `offset`, where the source can read part of a file (Node: folders and the
   * Hub's cache), so that big files need not be in memory whole; fails naming the file when it is shorter.
   */
  readRange?(name: string, offset: number, length: number): Promise<Uint8Array>;
  /**
   * A safetensors file's tensors read straight from storage, where the source can (Node: tensor by tensor,
   * or with `lazy` left on disk until used, so they go from the file to ONNX Runtime). Sources without
   * it are parsed from `read`.
   */
  safetensors?(name: string, opts: { lazy?: boolean }): Promise<Map<string, Tensor>>;
  /**
   * A torch.save file's tensors read from storage piece by piece, where the source can (Node: the file is
   * never read whole; with `lazy` the tensors that lie in it as they are stay there until used). Sources
   * without it are parsed from `read`.
   */
  torch?(name: string, opts: { lazy?: boolean }): Promise<Map<string, Tensor>>;
}

/** File contents already in memory, by name (`label` names them in messages). */
export function memoryFiles(files: Record<string, string | Uint8Array>, label?: string): ModelFiles {
  const where = label ?? 'files in memory';
  return {
    where,
    path: (name) => (label ? `${label.replace(/\/$/, '')}/${name}` : name),
    has: async (name) => Object.hasOwn(files, name),
    read: async (name) => {
      const f = Object.hasOwn(files, name) ? files[name] : undefined;
      if (f === undefined) throw new Error(`${name}: not among the ${where}`);
      return typeof f === 'string' ? new TextEncoder().encode(f) : f;
    },
  };
}

/** The files under a URL (a checkpoint folder on a web server), fetched as needed. Relative URLs resolve against the page. */
export function urlFiles(baseUrl: string | URL): ModelFiles {
  const base = folderUrl(String(baseUrl));
  const seen = new Map<string, Promise<Response>>();
  const get = (name: string): Promise<Response> => {
    let res = seen.get(name);
    if (!res) {
      const url = new URL(name, base).href;
      res = fetch(url).catch((err: Error) => { throw new Error(`${url}: cannot fetch (${err.message})`); });
      seen.set(name, res);
    }
    return res;
  };
  return {
    where: base,
    path: (name) => new URL(name, base).href,
    has: async (name) => (await get(name)).ok,
    read: async (name) => {
      const res = await get(name);
      seen.delete(name); // a body is read once
      if (!res.ok) throw new Error(`${res.url || new URL(name, base).href}: HTTP ${res.status} ${res.statusText}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** A folder URL with a trailing slash, made absolute against the page's address where there is one. */
export function folderUrl(baseUrl: string): string {
  const withSlash = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const page = (globalThis as { location?: { href: string } }).location?.href;
  return new URL(withSlash, page).href;
}

/** The file's bytes; a failure names the file. */
export async function readBytes(files: ModelFiles, name: string): Promise<Uint8Array> {
  try {
    return await files.read(name);
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.startsWith(files.path(name)) ? msg : `${files.path(name)}: cannot read (${msg})`);
  }
}

export async function readText(files: ModelFiles, name: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(files, name));
}

export async function readJson(files: ModelFiles, name: string): Promise<unknown> {
  const text = await readText(files, name);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`${files.path(name)}: not valid JSON (${(err as Error).message})`);
  }
}
