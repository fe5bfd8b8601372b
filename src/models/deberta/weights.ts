// Binds checkpoint tensors to graph parameters by name, with errors that name the file and the key.
import type { Graph } from '../../graph/graph.ts';
import type { Value } from '../../graph/value.ts';
import { tensor, toFloat32, type Tensor } from '../../tensor.ts';
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
  /** Keep tensors' own float dtype instead of converting to float32 (float64 gradient checks). */
  dtype?: 'float32' | 'float64';
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
    const value = t.dtype === want ? t : want === 'float64'
      ? tensor('float64', t.dims, Float64Array.from(toFloat32(t)))
      : tensor('float32', t.dims, t.dtype === 'float64' ? Float32Array.from(t.data as Float64Array) : toFloat32(t));
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
