// Random initialisation as transformers' DeBERTa `_init_weights` does it: normal(0, initializer_range)
// for linear and embedding weights (the padding row of the word embeddings zeroed), zero biases, unit
// LayerNorm gains and zero LayerNorm biases; the v2 convolution keeps torch's Conv1d default
// (uniform ±1/sqrt(fan_in)), which `_init_weights` does not touch.
// The parameter list comes from building the model graph itself, so there is no second list of names.
import { Graph } from '../../graph/graph.ts';
import { Rng } from '../../util/random.ts';
import { tensor, type Tensor } from '../../tensor.ts';
import type { DebertaConfig } from './config.ts';
import { buildDeberta, type HeadKind } from './modeling.ts';

/** The prefix of encoder weights in a checkpoint saved by transformers for this head. */
export function encoderPrefix(head: HeadKind): string {
  return head === 'base' ? '' : 'deberta.';
}

const CLASS_SUFFIX: Record<HeadKind, string> = {
  base: 'Model',
  'masked-lm': 'ForMaskedLM',
  'sequence-classification': 'ForSequenceClassification',
  'token-classification': 'ForTokenClassification',
  'question-answering': 'ForQuestionAnswering',
  'multiple-choice': 'ForMultipleChoice',
};

/** The transformers class name for `architectures` (e.g. DebertaV2ForSequenceClassification). */
export function architectureFor(config: DebertaConfig, head: HeadKind): string {
  // transformers has no multiple-choice head for DeBERTa v1.
  if (config.model_type === 'deberta' && head === 'multiple-choice') {
    throw new Error('transformers has no DebertaForMultipleChoice: multiple choice needs a deberta-v2 config');
  }
  return `${config.model_type === 'deberta' ? 'Deberta' : 'DebertaV2'}${CLASS_SUFFIX[head]}`;
}

/** Every parameter the model with this head uses, by checkpoint name, with its dims, in graph order. */
export function paramShapes(config: DebertaConfig, head: HeadKind): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const g = new Graph();
  // The graph only needs each parameter's dtype and dims; no values are allocated.
  buildDeberta(g, config, (name, dims) => {
    const seen = g.params.get(name); // shared weights (e.g. share_att_key) are asked for more than once
    if (seen) return seen;
    shapes.set(name, [...dims]);
    return g.param(name, { dtype: 'float32', dims: [...dims], data: new Float32Array(0) });
  }, head, encoderPrefix(head));
  return shapes;
}

/** One freshly initialised parameter, by its checkpoint name. */
export function initParam(config: DebertaConfig, name: string, dims: number[], rng: Rng): Tensor {
  const t = tensor('float32', dims);
  const data = t.data as Float32Array;
  if (/LayerNorm\.weight$/.test(name)) {
    data.fill(1);
    return t;
  }
  if (/conv\.conv\.(weight|bias)$/.test(name)) {
    const fanIn = (config.hidden_size / config.conv_groups) * config.conv_kernel_size;
    const bound = 1 / Math.sqrt(fanIn);
    for (let i = 0; i < data.length; i++) data[i] = (2 * rng.uniform() - 1) * bound;
    return t;
  }
  if (/(^|[._])bias$/.test(name)) return t; // linear biases, q_bias/v_bias, LM-head bias, LayerNorm bias
  const std = config.initializer_range;
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  const pad = config.pad_token_id;
  if (/word_embeddings\.weight$/.test(name) && pad !== null && pad >= 0 && pad < dims[0]!) {
    data.fill(0, pad * dims[1]!, (pad + 1) * dims[1]!);
  }
  return t;
}

/** A randomly initialised checkpoint (float32) for `head`, repeatable for a given seed. */
export function initWeights(config: DebertaConfig, head: HeadKind, seed: number): Map<string, Tensor> {
  const rng = new Rng(seed);
  const out = new Map<string, Tensor>();
  for (const [name, dims] of paramShapes(config, head)) out.set(name, initParam(config, name, dims, rng));
  return out;
}
