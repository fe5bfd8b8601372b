// The browser entry (bundled by scripts/build-browser.ts into dist/browser/deberta.js): the library's
// model and tokenizer code on onnxruntime-web, with checkpoints fetched over HTTP.
import * as ortWeb from 'onnxruntime-web';
import { setOrt, type Ort } from './runtime/ort.ts';

export { loadModelFromUrl, loadTokenizerFromUrl } from './browser/load.ts';
export { fillMask, classify, type FillMaskCandidate, type LabelScore } from './browser/tasks.ts';
export type { DebertaModel, HeadKind, LoadOptions } from './models/create.ts';
export type { PreTrainedTokenizer } from './tokenizers/tokenizer.ts';

export interface BrowserRuntime {
  /** The execution providers models are created with: ['webgpu', 'wasm'] when a GPU adapter exists, else ['wasm']. */
  executionProviders: string[];
  threads: number;
}

interface GpuNavigator { gpu?: { requestAdapter(): Promise<unknown> }; hardwareConcurrency?: number }

/**
 * Registers onnxruntime-web as the backend. `wasmPaths`: the folder holding ORT's .wasm/.mjs files
 * (default: beside this bundle). WebGPU is used when the browser offers an adapter, unless `webgpu: false`.
 */
export async function initRuntime(opts: { wasmPaths?: string; webgpu?: boolean } = {}): Promise<BrowserRuntime> {
  ortWeb.env.wasm.wasmPaths = opts.wasmPaths ?? new URL('./', import.meta.url).href;
  const nav = (globalThis as { navigator?: GpuNavigator }).navigator;
  // Threads need SharedArrayBuffer, which browsers give cross-origin-isolated pages only.
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = isolated ? Math.min(4, nav?.hardwareConcurrency ?? 1) : 1;
  ortWeb.env.wasm.numThreads = threads;
  setOrt(ortWeb as unknown as Ort);
  let gpu = false;
  if (opts.webgpu !== false && nav?.gpu) {
    try {
      gpu = Boolean(await nav.gpu.requestAdapter());
    } catch {
      gpu = false;
    }
  }
  return { executionProviders: gpu ? ['webgpu', 'wasm'] : ['wasm'], threads };
}
