// Binds checkpoint tensors to graph parameters by name, with errors that name the file and the key.
import type { Graph } from '../../graph/graph.ts';
import type { Value } from '../../graph/value.ts';
import { BYTES_PER_ELEMENT, tensor, toFloat16, toFloat32, type DType, type Tensor, type TypedArray } from '../../tensor.ts';
import { BYTE_CHUNKS, bytesOf, tensorChunks } from '../../io/chunks.ts';
import type { ParamSource } from './modeling.ts';

/** Keys transformers keeps beside the weights (buffers), never parameters. */
const BUFFERS = /(^|\.)position_ids$/;
/** Weights of other heads: a checkpoint may carry them and still load into another head or the bare model. */
const HEAD_KEYS = /^(cls\.|lm_predictions\.|pooler\.|classifier\.|qa_outputs\.|discriminator_predictions\.|mask_predictions\.)/;

export interface WeightBinding {
  source: ParamSource;
  /** Names the graph asked for, in order. */
  used(): string[];
  /** Checkpoint keys that nothing asked for and that are not expected to be left over. */
  unexpected(): string[];
}

export interface BindOptions {
  /** Where the tensors came from, for error messages. */
  file: string;
  /** Initialise weights the checkpoint lacks instead of failing (fine-tuning a new head). */
  initMissing?: (name: string, dims: number[]) => Tensor | undefined;
  /** The parameters' float type (default float32): float64 for gradient checks, float16 for half-precision inference. */
  dtype?: 'float32' | 'float64' | 'float16';
}

export function bindWeights(g: Graph, tensors: Map<string, Tensor>, opts: BindOptions): WeightBinding {
  const bound = new Map<string, Value>();
  const source: ParamSource = (name, dims) => {
    const hit = bound.get(name);
    if (hit) return hit;
    let t = tensors.get(name);
    if (!t) t = opts.initMissing?.(name, dims);
    if (!t) throw new Error(`${opts.file}: missing weight '${name}' (expected shape [${dims.join(', ')}])`);
    if (t.dims.length !== dims.length || t.dims.some((d, i) => d !== dims[i])) {
      throw new Error(`${opts.file}: weight '${name}' has shape [${t.dims.join(', ')}], the config implies [${dims.join(', ')}]`);
    }
    if (!['float32', 'float16', 'bfloat16', 'float64'].includes(t.dtype)) {
      throw new Error(`${opts.file}: weight '${name}' has dtype ${t.dtype}; expected a floating-point tensor`);
    }
    const want = opts.dtype ?? 'float32';
    const value = t.dtype === want ? t
      : want === 'float64' ? tensor('float64', t.dims, Float64Array.from(toFloat32(t)))
      : want === 'float16' ? tensor('float16', t.dims, toFloat16(t))
      : new Float32Of(t);
    const v = g.param(name, value);
    bound.set(name, v);
    return v;
  };
  return {
    source,
    used: () => [...bound.keys()],
    unexpected: () => [...tensors.keys()].filter((k) => !bound.has(k) && !BUFFERS.test(k) && !HEAD_KEYS.test(k)
      && !(k.endsWith('embeddings.position_embeddings.weight'))),
  };
}

/**
 * A float16, bfloat16 or float64 weight as float32, converted when first used. Until then the source is
 * all it holds, and a writer (ONNX Runtime's external data) gets the float32 bytes piece by piece, so a
 * half-precision checkpoint never has a whole float32 copy in memory beside the one ONNX Runtime loads.
 */
export class Float32Of implements Tensor {
  readonly dtype = 'float32';
  readonly dims: number[];
  #data?: Float32Array;
  #source?: Tensor;

  constructor(source: Tensor) {
    this.dims = source.dims;
    this.#source = source;
  }

  get data(): Float32Array {
    if (!this.#data) {
      const src = this.#source!;
      this.#data = src.dtype === 'float64' ? Float32Array.from(src.data as Float64Array) : toFloat32(src);
      this.#source = undefined;
    }
    return this.#data;
  }

  set data(v: TypedArray) { this.#data = v as Float32Array; this.#source = undefined; }

  *[BYTE_CHUNKS](maxBytes: number): Iterable<Uint8Array> {
    if (this.#data) { yield bytesOf(this.#data); return; }
    const src = this.#source!;
    const size = BYTES_PER_ELEMENT[src.dtype];
    // Source pieces of at most this many elements become float32 pieces of at most maxBytes.
    const elements = Math.max(1, Math.floor(maxBytes / 4));
    for (const piece of tensorChunks(src, elements * size)) {
      const aligned = piece.byteOffset % size === 0 ? piece : piece.slice();
      const n = aligned.length / size;
      for (let at = 0; at < n; at += elements) {
        const m = Math.min(elements, n - at);
        yield bytesOf(convert(src.dtype, aligned.buffer as ArrayBuffer, aligned.byteOffset + at * size, m));
      }
    }
  }
}

function convert(dtype: DType, buffer: ArrayBuffer, byteOffset: number, n: number): Float32Array {
  if (dtype === 'float64') return Float32Array.from(new Float64Array(buffer, byteOffset, n));
  return toFloat32({ dtype, dims: [n], data: new Uint16Array(buffer, byteOffset, n) });
}
