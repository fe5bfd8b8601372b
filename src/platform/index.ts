// What differs between Node and browsers, behind one object that the entry point registers: Node's entry
// (src/index.ts) registers files on disk and onnxruntime-node, the browser entry (src/browser.ts) URLs and
// onnxruntime-web. Core modules ask `platform()` and never import either, so a browser bundle holds no
// Node built-in and Node never loads the browser runtime.
import type { Env as OrtEnv } from 'onnxruntime-common';
import type { EnvDefaults } from '../env.ts';
import type { ModelFiles } from '../io/files.ts';
import type { HubOptions } from '../hub/id.ts';
import type { Ort } from '../runtime/ort.ts';
import type { EmittedModel } from '../runtime/onnx-emit.ts';
import type { WeightRegion } from '../tensor.ts';

export interface RuntimeOptions {
  /**
   * Browsers: where ONNX Runtime Web's .wasm and .mjs files are, a folder URL or a map by file name. By default
   * onnxruntime-web looks beside its own module, which bundlers that handle `new URL(…, import.meta.url)`
   * (Vite, webpack) copy for you; with esbuild, serve `node_modules/onnxruntime-web/dist/` and point here.
   * Ignored in Node.
   */
  wasmPaths?: string | Record<string, string>;
  /** Threads a model uses when its options name none (Node: all cores; browsers: up to 4 when cross-origin isolated, else 1). */
  threads?: number;
}

export interface Platform {
  readonly name: 'node' | 'browser';
  /** ONNX Runtime's JavaScript API. */
  ort(): Promise<Ort>;
  /**
   * Opens what the user named as a checkpoint: a folder path (Node), a URL, or a Hugging Face Hub id
   * (`org/name`, fetched as `hub` says: Node through huggingface_hub's cache); fails naming it.
   */
  open(ref: string, hub?: HubOptions): Promise<ModelFiles>;
  /** ONNX Runtime's `env` object, the one its sessions read (`env.backends.onnx`). */
  ortEnv(): OrtEnv;
  /** The defaults of `env`'s settings here. */
  envDefaults(): EnvDefaults;
  /** Intra-op threads when none are asked for. */
  defaultThreads(): number;
  /** The embedded model of this name, where the platform ships one (Node: the package's models/ folder). */
  embeddedModel?(name: string): string | undefined;
  /** Applies runtime settings (see `configureRuntime`). */
  configure(opts: RuntimeOptions): void;
  /** Node: where a weight's bytes still lie in its checkpoint file (a FileTensor not yet read), so ONNX Runtime can read them there. */
  weightRegion?: WeightRegion;
  /** Node: runs `use` on the model written with its external data to a temporary folder (models over protobuf's 2 GB). */
  withModelFolder?<T>(model: EmittedModel, use: (path: string) => Promise<T>): Promise<T>;
  /**
   * Node: the model file sessions share under `folder` (SessionOptions.shareFolder) for the model `key`
   * identifies, written from `make()` (model + external data, atomically) by the first session that asks.
   */
  sharedModelFile?(folder: string, key: Uint8Array, make: () => Promise<EmittedModel>): Promise<string>;
  /**
   * Node: frees these buffers' memory now rather than at a later garbage collection, detaching them. For
   * what nothing can read any more: onnxruntime-node's copies of outputs it also wrote into the caller's
   * buffers (a training step's parameters and moments, hundreds of MB a run).
   */
  release?(buffers: ArrayBuffer[]): void;
}

let current: Platform | undefined;

export function setPlatform(p: Platform): void {
  current = p;
}

export function platform(): Platform {
  if (!current) {
    throw new Error("deberta-ts: no platform registered: import the library from 'deberta-ts' (or, running this repository's sources, "
      + 'start node with --import ./src/platform/node.ts as `npm test` does)');
  }
  return current;
}

/** `ref` opened by the platform (a Hub id as `hub` says), or the given files as they are. */
export async function openFiles(ref: string | ModelFiles, hub?: HubOptions): Promise<ModelFiles> {
  return typeof ref === 'string' ? platform().open(ref, hub) : ref;
}

/** Sets where ONNX Runtime loads from and how many threads models use by default; call before loading a model. */
export function configureRuntime(opts: RuntimeOptions): void {
  if (opts.threads !== undefined && !(Number.isSafeInteger(opts.threads) && opts.threads >= 1)) {
    throw new Error(`configureRuntime: threads must be a positive integer, got ${JSON.stringify(opts.threads)}`);
  }
  platform().configure(opts);
}
