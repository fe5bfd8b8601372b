// transformers.js' `env` object, for code written against it (`env.allowRemoteModels = false`,
// `env.localModelPath = './models/'`): process-wide defaults for where models come from. Options given to a
// call (`endpoint`, `cacheDir`, `localFilesOnly`) win over these, and these over huggingface_hub's
// environment variables (HF_ENDPOINT, HF_HUB_CACHE, HF_HUB_OFFLINE). A setting this library does not have
// is a TypeError where it is assigned, never silently ignored. Pure; the platform supplies the defaults it
// knows (Node: the working directory and Python's cache; browsers: neither).
import type { Env as OrtEnv } from 'onnxruntime-common';
import { platform } from './platform/index.ts';

export interface Env {
  /** false: a Hub id is never fetched, only read from the cache or a local folder (as HF_HUB_OFFLINE=1). Default true. */
  allowRemoteModels: boolean;
  /** Whether a Hub id is first looked for as a folder under `localModelPath` (default: Node true, browsers false). */
  allowLocalModels: boolean;
  /**
   * Where a Hub id `org/name` is looked for first, as `localModelPath` + `org/name`. Node: a folder (default
   * '', the working directory). Browsers: a URL prefix (default '/models/'), used when it answers config.json.
   */
  localModelPath: string;
  /** The Hub's address (default `$HF_ENDPOINT`, else 'https://huggingface.co/'). */
  remoteHost: string;
  /** Node: the download cache, in huggingface_hub's layout (default `$HF_HUB_CACHE`, else `$HF_HOME/hub`). Browsers: null (the HTTP cache). */
  cacheDir: string | null;
  /** ONNX Runtime's own `env` (`wasm.numThreads`, `wasm.wasmPaths`, `logLevel`, …), as transformers.js exposes it. */
  readonly backends: { readonly onnx: OrtEnv };
}

/** The defaults a platform knows (they may read environment variables, so they are asked for each time). */
export interface EnvDefaults {
  allowLocalModels: boolean;
  localModelPath: string;
  endpoint: string;
  cacheDir: string | null;
}

interface Assigned {
  allowRemoteModels?: boolean;
  allowLocalModels?: boolean;
  localModelPath?: string;
  remoteHost?: string;
  cacheDir?: string;
}
let assigned: Assigned = {};

/** What the user assigned (only that: the rest falls through to options, environment variables and defaults). */
export function envAssigned(): Readonly<Assigned> {
  return assigned;
}

/** Back to the defaults (for tests). */
export function resetEnv(): void {
  assigned = {};
}

const defaults = (): EnvDefaults => platform().envDefaults();

function check<T>(name: string, value: unknown, ok: (v: unknown) => boolean, expected: string): T {
  if (!ok(value)) throw new TypeError(`env.${name} must be ${expected}, got ${value === null ? 'null' : typeof value === 'string' ? JSON.stringify(value) : typeof value}`);
  return value as T;
}
const isBool = (v: unknown) => typeof v === 'boolean';
const isString = (v: unknown) => typeof v === 'string';
const isHttpUrl = (v: unknown) => typeof v === 'string' && /^https?:\/\/[^/]/i.test(v);
const isFolder = (v: unknown) => typeof v === 'string' && v !== '';

const settings: Env = Object.seal({
  get allowRemoteModels() { return assigned.allowRemoteModels ?? true; },
  set allowRemoteModels(v: boolean) { assigned.allowRemoteModels = check('allowRemoteModels', v, isBool, 'true or false'); },
  get allowLocalModels() { return assigned.allowLocalModels ?? defaults().allowLocalModels; },
  set allowLocalModels(v: boolean) { assigned.allowLocalModels = check('allowLocalModels', v, isBool, 'true or false'); },
  get localModelPath() { return assigned.localModelPath ?? defaults().localModelPath; },
  set localModelPath(v: string) { assigned.localModelPath = check('localModelPath', v, isString, 'a string (a folder, or in browsers a URL prefix)'); },
  get remoteHost() { return assigned.remoteHost ?? `${defaults().endpoint}/`; },
  set remoteHost(v: string) { assigned.remoteHost = check('remoteHost', v, isHttpUrl, "an http(s) URL such as 'https://huggingface.co/'"); },
  get cacheDir() { return assigned.cacheDir ?? defaults().cacheDir; },
  set cacheDir(v: string | null) {
    if (platform().name !== 'node') throw new TypeError('env.cacheDir: browsers cache downloads in their HTTP cache; there is no folder to set');
    assigned.cacheDir = check('cacheDir', v, isFolder, 'a folder path');
  },
  backends: Object.freeze({ get onnx() { return platform().ortEnv(); } }),
});

// transformers.js has settings this library has not (its own cache, a custom fetch, …): assigning one says so.
export const env: Env = new Proxy(settings, {
  set(target, key, value) {
    if (typeof key === 'string' && key !== 'backends' && Object.hasOwn(target, key)) return Reflect.set(target, key, value);
    const known = Object.keys(target).filter((k) => k !== 'backends').join(', ');
    throw new TypeError(`env.${String(key)}: ${key === 'backends' ? 'read-only (set env.backends.onnx.wasm.numThreads and the like instead)' : `not a setting of deberta-ts (its settings: ${known})`}`);
  },
});

/** `localModelPath` joined to a Hub id the way transformers.js joins them (one slash between). */
export function localModelRef(id: string): string {
  const base = env.localModelPath;
  return base === '' ? id : `${base.replace(/\/+$/, '')}/${id}`;
}
