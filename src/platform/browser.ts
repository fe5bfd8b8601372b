// The browser's platform: checkpoints by URL (fetch), onnxruntime-web (WebAssembly; WebGPU on request).
// Importing this module registers it.
import * as ortWeb from 'onnxruntime-web';
import { urlFiles } from '../io/files.ts';
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

export const browserPlatform: Platform = {
  name: 'browser',
  ort: async () => {
    ortWeb.env.wasm.numThreads = defaultThreads();
    return ortWeb as unknown as Ort;
  },
  open: async (ref) => urlFiles(ref),
  defaultThreads,
  configure,
};

setPlatform(browserPlatform);
