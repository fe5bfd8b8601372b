// Runs compiled graphs on ONNX Runtime. One session serves every batch size and sequence length.
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { DType, Tensor, TypedArray } from '../tensor.ts';
import type { Graph } from '../graph/graph.ts';
import { emitOnnx, splitPath, type EmitOptions, type EmittedModel } from './onnx-emit.ts';
import { defaultThreads, getOrt, isNode, type Ort } from './ort.ts';
import { platform } from '../platform/index.ts';

export interface SessionOptions {
  /** Intra-op threads; default all cores. */
  threads?: number;
  /** ONNX Runtime graph optimisation level; default 'all'. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * ONNX Runtime execution providers, by name or with their options (default ['cpu']; e.g. 'webgpu',
   * or { name: 'webgpu', validationMode: 'disabled' }).
   */
  executionProviders?: ExecutionProvider[];
}

export type ExecutionProvider = string | { readonly name: string; readonly [option: string]: unknown };

/**
 * ONNX Runtime's contrib ops (FusedMatMul and the like) only where every provider runs them: its CPU
 * kernels (the 'cpu' provider, and 'wasm' in browsers). Other providers lack some and would send those
 * nodes back to the CPU, with a copy either side; standard ONNX runs on all of them.
 */
export function cpuOnly(providers: readonly ExecutionProvider[] = ['cpu']): boolean {
  return providers.every((p) => ['cpu', 'wasm'].includes(typeof p === 'string' ? p : p.name));
}

export function fromOrt(t: OrtTensor): Tensor {
  return { dtype: t.type as DType, dims: [...t.dims], data: t.data as TypedArray };
}

export class Session {
  private constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async fromGraph(g: Graph, emit: EmitOptions, opts: SessionOptions = {}): Promise<Session> {
    const onnxRuntimeOps = cpuOnly(opts.executionProviders);
    const weightRegion = platform().weightRegion;
    if (weightRegion) {
      // Weights still on disk go to ONNX Runtime straight from their files (no copy through JS), when
      // they share one folder and nothing else needs external data.
      const model = emitOnnx(g, { weightRegion, onnxRuntimeOps, ...emit });
      if (!model.weightFiles || (!model.externalData && weightFolder(model.weightFiles) !== undefined)) return Session.fromModel(model, opts);
      // Otherwise every weight goes through one side file, streamed there (those still in their files
      // read piece by piece), never all in memory.
      if (platform().withModelFolder) return Session.fromModel(emitOnnx(g, { onnxRuntimeOps, ...emit, weightRegion: undefined, externalAbove: 0 }), opts);
    }
    return Session.fromModel(emitOnnx(g, { onnxRuntimeOps, ...emit, weightRegion: undefined }), opts);
  }

  static async fromModel(model: EmittedModel | Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const ort = await getOrt();
    const options: InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads ?? (await defaultThreads()),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: opts.optimization ?? 'all',
      // Errors only: ONNX Runtime warns about every GPU session that leaves its shape ops on the CPU, as it should.
      logSeverityLevel: 3,
      executionProviders: (opts.executionProviders ?? ['cpu']).map(withDefaults) as InferenceSession.ExecutionProviderConfig[],
    };
    let session: InferenceSession;
    if (typeof model === 'string' || model instanceof Uint8Array) {
      session = await ort.InferenceSession.create(model as Uint8Array, options);
    } else if (model.weightFiles) {
      const folder = weightFolder(model.weightFiles);
      if (!isNode || folder === undefined || model.externalData) throw new Error('weights referenced in files must share one folder, in Node');
      // ONNX Runtime reads (maps) the weights from their files itself.
      const extra = { session: { model_external_initializers_file_folder_path: folder } };
      session = await ort.InferenceSession.create(model.model, { ...options, extra });
    } else if (!model.externalData) {
      session = await ort.InferenceSession.create(model.model, options);
    } else if (platform().withModelFolder) {
      // Models over protobuf's 2 GB limit: the weights go to a side file ONNX Runtime reads beside the model.
      session = await platform().withModelFolder!(model, (path) => ort.InferenceSession.create(path, options));
    } else {
      const { location, chunks, size } = model.externalData!;
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) { bytes.set(c, at); at += c.length; }
      const data = { path: location, data: bytes };
      session = await ort.InferenceSession.create(model.model, { ...options, externalData: [data] } as InferenceSession.SessionOptions);
    }
    return new Session(ort, session, session.inputNames, session.outputNames);
  }

  private toOrt(t: Tensor): OrtTensor {
    if (t.dtype === 'bfloat16') throw new Error('ONNX Runtime (JS) has no bfloat16 tensors; convert to float32 first');
    return new this.ort.Tensor(t.dtype as OrtTensor.Type, t.data as OrtTensor.DataType, t.dims);
  }

  private feeds(feeds: Record<string, Tensor>): Record<string, OrtTensor> {
    const out: Record<string, OrtTensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`missing input '${name}' (the model takes ${this.inputNames.join(', ')})`);
      out[name] = this.toOrt(t);
    }
    return out;
  }

  /** Runs with the given feeds; fetches all outputs, or only those named. */
  async run(feeds: Record<string, Tensor>, fetch?: readonly string[]): Promise<Record<string, Tensor>> {
    const result = fetch ? await this.session.run(this.feeds(feeds), [...fetch]) : await this.session.run(this.feeds(feeds));
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(result)) out[k] = fromOrt(v);
    return out;
  }

  /**
   * Runs writing outputs into caller-owned tensors (used to update training state in place); outputs given
   * as null are fetched into new tensors. Returns the outputs fetched (the caller-owned ones as given).
   */
  async runInto(feeds: Record<string, Tensor>, outputs: Record<string, Tensor | null>): Promise<Record<string, Tensor>> {
    const fetches: Record<string, OrtTensor | null> = {};
    for (const [k, v] of Object.entries(outputs)) fetches[k] = v ? this.toOrt(v) : null;
    const result = await this.session.run(this.feeds(feeds), fetches);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(outputs)) out[k] = v ?? fromOrt(result[k]!);
    return out;
  }

  async release(): Promise<void> { await this.session.release(); }
}

/**
 * WebGPU by name gets storageBufferCacheMode 'simple': the default ('bucket') pools only buffers up to a
 * size, so the [B, heads, n, n] attention tensors (400 MB at 32 × 512) were made and freed on every run;
 * on an H100 that made 32 × 512 take 2.79 s instead of 0.45 s (docs/perf.md). Node only (the option is
 * onnxruntime-node's); options given as an object are passed as they are.
 */
function withDefaults(p: ExecutionProvider): ExecutionProvider {
  return p === 'webgpu' && isNode ? { name: 'webgpu', storageBufferCacheMode: 'simple' } : p;
}

/** The one folder all weight files lie in, or undefined. */
function weightFolder(files: Record<string, string>): string | undefined {
  const folders = new Set(Object.values(files).map((p) => splitPath(p).folder || '.'));
  return folders.size === 1 ? [...folders][0] : undefined;
}
