// Runs compiled graphs on ONNX Runtime. One session serves every batch size and sequence length.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { DType, Tensor, TypedArray } from '../tensor.ts';
import type { Graph } from '../graph/graph.ts';
import { emitOnnx, type EmitOptions } from './onnx-emit.ts';

export interface SessionOptions {
  /** Intra-op threads; default all cores. */
  threads?: number;
  /** ONNX Runtime graph optimisation level; default 'all'. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  executionProviders?: string[];
}

export function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new Error('ONNX Runtime (JS) has no bfloat16 tensors; convert to float32 first');
  return new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.dims);
}

export function fromOrt(t: ort.Tensor): Tensor {
  return { dtype: t.type as DType, dims: [...t.dims], data: t.data as TypedArray };
}

export class Session {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async fromGraph(g: Graph, emit: EmitOptions, opts: SessionOptions = {}): Promise<Session> {
    const { model } = emitOnnx(g, emit);
    return Session.fromModel(model, opts);
  }

  static async fromModel(model: Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const options: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: opts.threads ?? availableParallelism(),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: opts.optimization ?? 'all',
      executionProviders: opts.executionProviders ?? ['cpu'],
    };
    const session = typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
    return new Session(session, session.inputNames, session.outputNames);
  }

  /** Runs with the given feeds; fetches all outputs, or only those named. */
  async run(feeds: Record<string, Tensor>, fetch?: readonly string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`missing input '${name}' (the model takes ${this.inputNames.join(', ')})`);
      ortFeeds[name] = toOrt(t);
    }
    const result = fetch ? await this.session.run(ortFeeds, [...fetch]) : await this.session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(result)) out[k] = fromOrt(v);
    return out;
  }

  /** Runs writing outputs into caller-owned tensors (used to update training state in place). */
  async runInto(feeds: Record<string, Tensor>, outputs: Record<string, Tensor>): Promise<void> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`missing input '${name}'`);
      ortFeeds[name] = toOrt(t);
    }
    const fetches: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(outputs)) fetches[k] = toOrt(v);
    await this.session.run(ortFeeds, fetches);
  }

  async release(): Promise<void> { await this.session.release(); }
}
