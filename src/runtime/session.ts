// Runs compiled graphs on ONNX Runtime. One session serves every batch size and sequence length.
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { DType, Tensor, TypedArray } from '../tensor.ts';
import type { Graph } from '../graph/graph.ts';
import { constantFrontier, emitOnnx, splitPath, type EmitOptions, type EmittedModel } from './onnx-emit.ts';
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
  /**
   * ONNX Runtime's memory pattern (default false): from the second run of a shape on, it allocates all
   * of that shape's intermediates as one block, beside what its arena already holds. Off, inference runs
   * at the same steady speed, the second run of each shape is not 2-3x slower than the others (fresh
   * pages for the block), and the peak is lower: v3-base 8 x 512 1.48 GB instead of 2.02, 1 x 2048
   * 2.17 GB instead of 2.97; a v3-xsmall training step 1.5 GB instead of 2.2 (docs/perf-log.md).
   */
  memPattern?: boolean;
  /**
   * Node, CPU, inference: a folder where sessions of the same model share one model file. The first
   * session writes there the model with its input-independent values already computed (the folding
   * ONNX Runtime would otherwise redo, and keep a private copy of, in every session) and every weight in
   * its side file; each session maps that file, so worker threads serving one model share the weights
   * and folded constants in memory (the page cache) instead of holding a copy each. Such sessions skip
   * prepacking, which would copy the weight matrices into each session again. One folder serves the
   * models of one checkpoint (its heads). Default: the one set by `setSessionDefaults` (worker threads of
   * a server pool), else none.
   */
  shareFolder?: string;
  /**
   * ONNX Runtime's prepacking of constant weight matrices (default on; off with `shareFolder`). It changes
   * the last bits of results, so a pool turns it off in every worker, shared or not, and its results do not
   * depend on the number of workers.
   */
  prepack?: boolean;
}

const defaults: Pick<SessionOptions, 'shareFolder' | 'prepack'> = {};

/** Options every ONNX Runtime session made on the calling thread gets unless given (a server pool's worker thread sets them). */
export function setSessionDefaults(opts: Pick<SessionOptions, 'shareFolder' | 'prepack'>): void {
  Object.assign(defaults, opts);
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
    const shareFolder = opts.shareFolder ?? defaults.shareFolder;
    if (shareFolder && onnxRuntimeOps && emit.paramsAs !== 'inputs' && platform().sharedModelFile) {
      try {
        return await Session.shared(g, emit, { ...opts, shareFolder });
      } catch (err) {
        // The shared file could not be written (disk full, no permission): the model loads privately instead.
        if ((err as { code?: unknown }).code === undefined) throw err;
      }
    }
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

  /** A session on the model file shared under `opts.shareFolder` (see SessionOptions.shareFolder), written first if need be. */
  private static async shared(g: Graph, emit: EmitOptions, opts: SessionOptions & { shareFolder: string }): Promise<Session> {
    const { shareFolder, ...own } = opts;
    const weightRegion = platform().weightRegion;
    // The model as emitted with its weights' places in their files identifies it among the models of one
    // checkpoint (graph, weights, files), which is what a share folder holds. Weights not in files are
    // emitted as external data, not read, so a float16 checkpoint is not converted here.
    const probe = emitOnnx(g, { weightRegion, onnxRuntimeOps: true, ...emit, externalAbove: 0 });
    const files = Object.values(probe.weightFiles ?? {}).map((p) => `${p}\n`).join('');
    const key = new Uint8Array([...probe.model, ...new TextEncoder().encode(files)]);
    const path = await platform().sharedModelFile!(shareFolder, key, async () => {
      const frontier = constantFrontier(Object.values(emit.outputs), { paramsAs: emit.paramsAs, onnxRuntimeOps: true });
      const constants = new Map<(typeof frontier)[number], Tensor>();
      if (frontier.length) {
        const outputs = Object.fromEntries(frontier.map((v, i) => [`folded_${i}`, v]));
        const fold = await Session.fromGraph(g, { ...emit, outputs, dimNames: undefined }, { ...own, shareFolder: '', prepack: false });
        try {
          const got = await fold.run({});
          frontier.forEach((v, i) => constants.set(v, got[`folded_${i}`]!));
        } finally {
          await fold.release();
        }
      }
      return emitOnnx(g, { onnxRuntimeOps: true, ...emit, weightRegion: undefined, externalAbove: 0, constants });
    });
    return Session.fromModel(path, { ...own, prepack: false });
  }

  static async fromModel(model: EmittedModel | Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const ort = await getOrt();
    const noPrepack = (opts.prepack ?? defaults.prepack) === false ? { session: { disable_prepacking: '1' } } : undefined;
    const options: InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads ?? (await defaultThreads()),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: opts.optimization ?? 'all',
      enableMemPattern: opts.memPattern ?? false,
      // Errors only: ONNX Runtime warns about every GPU session that leaves its shape ops on the CPU, as it should.
      logSeverityLevel: 3,
      executionProviders: (opts.executionProviders ?? ['cpu']).map(withDefaults) as InferenceSession.ExecutionProviderConfig[],
      ...(noPrepack ? { extra: noPrepack } : {}),
    };
    let session: InferenceSession;
    if (typeof model === 'string' || model instanceof Uint8Array) {
      session = await ort.InferenceSession.create(model as Uint8Array, options);
    } else if (model.weightFiles) {
      const folder = weightFolder(model.weightFiles);
      if (!isNode || folder === undefined || model.externalData) throw new Error('weights referenced in files must share one folder, in Node');
      // ONNX Runtime reads (maps) the weights from their files itself.
      const extra = { session: { model_external_initializers_file_folder_path: folder, ...noPrepack?.session } };
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
   * onnxruntime-node also returns a copy of each caller-owned output, which nothing reads; `freeCopies`
   * frees those at once instead of at a later garbage collection. That lowers the peak by their size, but
   * the allocator then gives the next run's copies fresh pages: worth it for runs of many steps, not for a
   * step a run (docs/perf-log.md).
   */
  async runInto(feeds: Record<string, Tensor>, outputs: Record<string, Tensor | null>, opts: { freeCopies?: boolean } = {}): Promise<Record<string, Tensor>> {
    const fetches: Record<string, OrtTensor | null> = {};
    for (const [k, v] of Object.entries(outputs)) fetches[k] = v ? this.toOrt(v) : null;
    const result = await this.session.run(this.feeds(feeds), fetches);
    const out: Record<string, Tensor> = {};
    const copies = new Set<ArrayBuffer>();
    for (const [k, v] of Object.entries(outputs)) {
      out[k] = v ?? fromOrt(result[k]!);
      const copy = (result[k]?.data as TypedArray | undefined)?.buffer;
      if (v && copy instanceof ArrayBuffer && copy !== v.data.buffer && copy.byteLength) copies.add(copy);
    }
    if (opts.freeCopies) platform().release?.([...copies]);
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
