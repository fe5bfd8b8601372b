// The browser's platform: checkpoints by URL (fetch), onnxruntime-web (WebAssembly; WebGPU on request).
// Importing this module registers it.
import * as ortWeb from 'onnxruntime-web';
import { urlFiles } from '../io/files.ts';
import { DEFAULT_ENDPOINT, DEFAULT_REVISION, isHubId, resolveUrl, type HubOptions } from '../hub/id.ts';
import type { Ort } from '../runtime/ort.ts';
import { setPlatform, type Platform, type RuntimeOptions } from './index.ts';

interface BrowserGlobals { navigator?: { hardwareConcurrency?: number }; crossOriginIsolated?: boolean }

let threads: number | undefined;

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

// A Hub id (`org/name`, no leading `/` or `.`, no trailing `/`) is fetched from the Hub itself, with the
// browser's HTTP cache as the only cache; anything else is a URL, relative to the page.
function browserHubUrl(ref: string, hub: HubOptions = {}): string | undefined {
  if (!isHubId(ref)) return undefined;
  return resolveUrl(hub.endpoint ?? DEFAULT_ENDPOINT, ref, hub.revision ?? DEFAULT_REVISION);
}

export const browserPlatform: Platform = {
  name: 'browser',
  ort: async () => {
    ortWeb.env.wasm.numThreads = defaultThreads();
    return ortWeb as unknown as Ort;
  },
  open: async (ref, hub) => urlFiles(browserHubUrl(ref, hub) ?? ref),
  defaultThreads,
  configure,
};

setPlatform(browserPlatform);
