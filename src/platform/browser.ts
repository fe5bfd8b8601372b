// The browser's platform: checkpoints by URL (fetch), onnxruntime-web (WebAssembly; WebGPU on request).
// Importing this module registers it.
import * as ortWeb from 'onnxruntime-web';
import { folderUrl, urlFiles, type ModelFiles } from '../io/files.ts';
import { env, localModelRef } from '../env.ts';
import { DEFAULT_ENDPOINT, DEFAULT_REVISION, isHubId, resolveUrl, type HubOptions } from '../hub/id.ts';
import type { Ort } from '../runtime/ort.ts';
import { setPlatform, type Platform, type RuntimeOptions } from './index.ts';

interface BrowserGlobals { navigator?: { hardwareConcurrency?: number }; crossOriginIsolated?: boolean }

let threads: number | undefined;
// The thread count this module last gave ONNX Runtime Web; another value there was set by the user
// (env.backends.onnx.wasm.numThreads) and is kept.
let threadsGiven: number | undefined;

function configure(opts: RuntimeOptions): void {
  if (opts.wasmPaths !== undefined) ortWeb.env.wasm.wasmPaths = opts.wasmPaths;
  if (opts.threads !== undefined) threads = opts.threads;
}

// WebAssembly threads need SharedArrayBuffer, which browsers give cross-origin-isolated pages only.
function defaultThreads(): number {
  if (threads !== undefined) return threads;
  const g = globalThis as BrowserGlobals;
  return g.crossOriginIsolated === true ? Math.min(4, g.navigator?.hardwareConcurrency ?? 1) : 1;
}

// A Hub id (`org/name`, no leading `/` or `.`, no trailing `/`) is looked for first under env.localModelPath
// when env.allowLocalModels is set (a server that answers its config.json), else fetched from the Hub itself,
// with the browser's HTTP cache as the only cache; anything else is a URL, relative to the page.
async function open(ref: string, hub: HubOptions = {}): Promise<ModelFiles> {
  if (!isHubId(ref)) return urlFiles(ref);
  if (env.allowLocalModels) {
    const local = urlFiles(localModelRef(ref));
    if (await local.has('config.json').catch(() => false)) return local;
  }
  const offline = hub.localFilesOnly === true ? 'localFilesOnly' : hub.localFilesOnly !== false && !env.allowRemoteModels ? 'env.allowRemoteModels is false' : '';
  if (offline) {
    const where = env.allowLocalModels ? `found no ${folderUrl(localModelRef(ref))}config.json` : 'env.allowLocalModels is false';
    throw new Error(`${ref}: not fetched from the Hub (${offline}), and ${where}`);
  }
  return urlFiles(resolveUrl(hub.endpoint ?? env.remoteHost, ref, hub.revision ?? DEFAULT_REVISION));
}

export const browserPlatform: Platform = {
  name: 'browser',
  ort: async () => {
    const given = ortWeb.env.wasm.numThreads;
    if (given === undefined || given === threadsGiven) ortWeb.env.wasm.numThreads = threadsGiven = defaultThreads();
    return ortWeb as unknown as Ort;
  },
  ortEnv: () => ortWeb.env,
  envDefaults: () => ({ allowLocalModels: false, localModelPath: '/models/', endpoint: DEFAULT_ENDPOINT, cacheDir: null }),
  open,
  defaultThreads,
  configure,
};

setPlatform(browserPlatform);
