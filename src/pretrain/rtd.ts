// Replaced token detection (DeBERTa-v3), generator and discriminator in one graph so that one session
// run gives both losses and every gradient:
//   generator: a masked LM (same width, half the depth) on the masked ids -> MLM loss;
//   sampling: at each masked row a token drawn from softmax(logits / temperature) by the Gumbel-max trick,
//     argmax(logits / T + G), G Gumbel noise made from uniform noise fed from TypeScript (seeded), the logits
//     read through a StopGradient;
//   discriminator: the ids with the samples in place; label 1 where a sample differs from the original
//     (a sample equal to the original counts as original); BCE over the real tokens -> RTD loss;
//   loss = MLM + lambda * RTD.
// Embedding sharing: 'gdes' (gradient-disentangled, v3): the discriminator's embedding is
// StopGradient(generator's) + its own delta (initialised to zero), so the RTD loss never reaches the
// generator's embeddings; 'es': the very same matrix; 'none': separate embeddings.
// The head is Microsoft's ReplacedTokenDetectionModel head, under its names (`classifer` is their spelling):
//   logits = mask_predictions.classifer(act(mask_predictions.dense(mask_predictions.LayerNorm(h + h[:, 0]))))
import * as F from '../graph/functional.ts';
import type { Graph } from '../graph/graph.ts';
import { argMax, stopGradient } from '../graph/ops/stop-gradient.ts';
import type { Value } from '../graph/value.ts';
import type { DebertaConfig } from '../models/deberta/config.ts';
import { encodeDeberta, type ParamSource } from '../models/deberta/modeling.ts';
import { crossEntropy } from '../train/losses.ts';
import { maskedInputs, maskedLmLogits, type GraphOptions, type PretrainGraph } from './mlm.ts';

export type EmbeddingSharing = 'gdes' | 'es' | 'none';
export const EMBEDDING_SHARING: EmbeddingSharing[] = ['gdes', 'es', 'none'];

export interface RtdOptions {
  /** Weight of the RTD loss (the v3 paper: 50). */
  lambda: number;
  /** Sampling temperature of the generator (default 1). */
  temperature: number;
  sharing: EmbeddingSharing;
  /** Decode the generator through the Enhanced Mask Decoder. */
  emd: boolean;
}

/** Parameter-name prefixes of the two models inside the one graph. */
export const GENERATOR = 'generator.';
export const DISCRIMINATOR = 'discriminator.';
/** The GDES delta of a shared embedding, by the embedding's checkpoint name. */
export const deltaName = (name: string) => `${DISCRIMINATOR}${name.replace(/\.weight$/, '.delta')}`;

/** The embeddings the two models share (positions too when they enter the input). */
export function sharedEmbeddings(disc: DebertaConfig): string[] {
  const names = ['deberta.embeddings.word_embeddings.weight'];
  if (disc.position_biased_input) names.push('deberta.embeddings.position_embeddings.weight');
  return names;
}

/** Microsoft's RTD head: one logit per token, [batch, sequence]. */
export function rtdHead(c: DebertaConfig, h: Value, p: ParamSource): Value {
  const H = c.hidden_size;
  const w = (name: string, d: number[]) => p(`mask_predictions.${name}`, d);
  // The [CLS] row, [batch, 1, H]; the reshape makes the 1 known to the shape rules (a slice of a
  // symbolic dim is symbolic), so the gradient of the broadcast add is summed back over the sequence.
  const first = F.slice(h, [0], [1], [1]).reshape([0, 1, H]);
  let x = F.layerNorm(h.add(first), w('LayerNorm.weight', [H]), w('LayerNorm.bias', [H]), c.layer_norm_eps);
  x = F.activation(c.hidden_act, F.linear(x, w('dense.weight', [H, H]), w('dense.bias', [H])));
  return F.squeeze(F.linear(x, w('classifer.weight', [1, H]), w('classifer.bias', [1])), [2]);
}

/** Mean binary cross-entropy with logits over the positions where `weight` is 1 (torch's overflow-safe form). */
export function maskedBce(logits: Value, targets: Value, weight: Value): Value {
  const g = logits.graph;
  const tail = F.log(F.exp(g.op1('Abs', [logits]).neg()).add(1));
  const per = F.relu(logits).sub(logits.mul(targets)).add(tail);
  return F.reduceSum(per.mul(weight), [0], false).div(F.reduceSum(weight, [0], false));
}

/**
 * The combined graph. `param` hands out graph parameters by graph name: the generator's are
 * `generator.<checkpoint name>`, the discriminator's `discriminator.<checkpoint name>` and, with GDES,
 * `discriminator.<embedding name minus .weight>.delta`.
 */
export function buildRtdGraph(g: Graph, gen: DebertaConfig, disc: DebertaConfig, param: ParamSource, r: RtdOptions, o: GraphOptions): PretrainGraph {
  const x = maskedInputs(g, gen);
  // Uniform noise U in (0, 1) from TypeScript (seeded); Gumbel noise is -log(-log(U)).
  const uniform = g.input('sampling_noise', o.dtype, ['masked', gen.vocab_size]);
  const gumbel = F.log(F.log(uniform).neg()).neg();
  const genP: ParamSource = (name, d) => param(GENERATOR + name, d);
  const logits = maskedLmLogits(g, gen, genP, x, r.emd, o);
  const mlmLoss = crossEntropy(logits, x.maskedLabels);

  // Sampling at the masked rows, and the discriminator's input and labels.
  let scores = stopGradient(logits);
  if (r.temperature !== 1) scores = scores.div(r.temperature);
  const sampled = argMax(scores.add(gumbel), 1);
  const rows = F.unsqueeze(x.maskedIndex, [1]);
  const flatIds = x.ids.reshape([-1]);
  const discIds = g.op1('Reshape', [g.op1('ScatterND', [flatIds, rows, sampled]), F.shapeOf(x.ids)]);
  const replaced = F.not(F.equal(sampled, x.maskedLabels)).cast(o.dtype);
  const zero = { dtype: o.dtype, dims: [1], data: o.dtype === 'float64' ? new Float64Array(1) : new Float32Array(1) };
  const zeros = g.op1('ConstantOfShape', [F.shapeOf(flatIds)], { value: zero });
  const targets = g.op1('ScatterND', [zeros, rows, replaced]);

  const shared = new Set(r.sharing === 'none' ? [] : sharedEmbeddings(disc));
  const composite = new Map<string, Value>();
  const discP: ParamSource = (name, d) => {
    if (!shared.has(name)) return param(DISCRIMINATOR + name, d);
    if (r.sharing === 'es') return genP(name, d);
    let v = composite.get(name);
    if (!v) {
      v = stopGradient(genP(name, d)).add(param(deltaName(name), d));
      composite.set(name, v);
    }
    return v;
  };
  const enc = encodeDeberta(g, disc, discP, 'deberta.', discIds, x.mask, x.types, { dtype: o.dtype, dropout: o.dropout });
  const rtdLogits = rtdHead(disc, enc.last, discP);
  const rtdLoss = maskedBce(rtdLogits.reshape([-1]), targets, x.mask.reshape([-1]).cast(o.dtype));
  const loss = mlmLoss.add(rtdLoss.mul(r.lambda));
  return {
    loss,
    outputs: { loss, mlm_loss: mlmLoss, rtd_loss: rtdLoss, mlm_predictions: argMax(logits, 1), sampled_ids: sampled, rtd_logits: rtdLogits },
  };
}
