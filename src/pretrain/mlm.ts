// The masked-LM pretraining graph: the encoder, optionally the Enhanced Mask Decoder (Microsoft's
// masked-LM layout: `lm_predictions.lm_head.*`, with `deberta.embeddings.position_embeddings.weight` kept for
// the decoder while position_biased_input is false), and the LM head read at the masked rows only, as the
// authors' code does (the vocabulary projection is the costliest matrix product; it runs on ~15 % of rows).
import * as F from '../graph/functional.ts';
import type { Graph } from '../graph/graph.ts';
import { argMax } from '../graph/ops/stop-gradient.ts';
import type { Value } from '../graph/value.ts';
import type { DebertaConfig } from '../models/deberta/config.ts';
import { dims, encodeDeberta, maskedLmHead, type DropoutHook, type ParamSource } from '../models/deberta/modeling.ts';
import { crossEntropy } from '../train/losses.ts';

/** Options every pretraining graph takes. */
export interface GraphOptions {
  dtype: 'float32' | 'float64';
  /** Training-mode dropout (src/train/dropout.ts); absent in evaluation graphs. */
  dropout?: DropoutHook;
}

/** The graph inputs of a masked batch (src/pretrain/data.ts PretrainBatch). */
export interface MaskedInputs {
  ids: Value;
  mask: Value;
  types?: Value;
  /** Masked positions as indices into the flattened [batch * sequence] ids, and the original ids there. */
  maskedIndex: Value;
  maskedLabels: Value;
}

export function maskedInputs(g: Graph, c: DebertaConfig): MaskedInputs {
  const seq = ['batch', 'sequence'];
  return {
    ids: g.input('input_ids', 'int64', seq),
    mask: g.input('attention_mask', 'int64', seq),
    types: c.type_vocab_size > 0 ? g.input('token_type_ids', 'int64', seq) : undefined,
    maskedIndex: g.input('masked_index', 'int64', ['masked']),
    maskedLabels: g.input('masked_labels', 'int64', ['masked']),
  };
}

/** Checks that a config can be pretrained with (or without) the Enhanced Mask Decoder. */
export function checkMlmConfig(c: DebertaConfig, emd: boolean, where: string): void {
  if (!emd) return;
  if (c.position_biased_input) {
    throw new Error(`${where}: the Enhanced Mask Decoder adds absolute positions that position_biased_input: true already puts in the input; set it to false or train without the EMD`);
  }
  if (dims(c).embeddingSize !== c.hidden_size) throw new Error(`${where}: the Enhanced Mask Decoder needs embedding_size equal to hidden_size`);
}

/** Masked-LM logits at the masked rows, [masked, vocab]; `p` hands out checkpoint names (`deberta.*`, `lm_predictions.*`). */
export function maskedLmLogits(g: Graph, c: DebertaConfig, p: ParamSource, x: MaskedInputs, emd: boolean, o: GraphOptions): Value {
  const enc = encodeDeberta(g, c, p, 'deberta.', x.ids, x.mask, x.types, { dtype: o.dtype, dropout: o.dropout });
  const h = emd ? enc.emd() : enc.last;
  const rows = F.gather(h.reshape([-1, c.hidden_size]), x.maskedIndex);
  const words = p('deberta.embeddings.word_embeddings.weight', [c.vocab_size, dims(c).embeddingSize]);
  return maskedLmHead(c, rows, p, words, 'lm_head');
}

export interface PretrainGraph {
  loss: Value;
  /** Graph outputs besides the gradients: `loss`, `mlm_loss`, `mlm_predictions`, and RTD's. */
  outputs: Record<string, Value>;
}

/** MLM: mean cross-entropy over the masked tokens. */
export function buildMlmGraph(g: Graph, c: DebertaConfig, p: ParamSource, emd: boolean, o: GraphOptions): PretrainGraph {
  const x = maskedInputs(g, c);
  const logits = maskedLmLogits(g, c, p, x, emd, o);
  const loss = crossEntropy(logits, x.maskedLabels);
  return { loss, outputs: { loss, mlm_loss: loss, mlm_predictions: argMax(logits, 1) } };
}
