// Runs a saved RTD discriminator (a checkpoint folder written by `deberta pretrain --objective rtd`):
// the encoder and Microsoft's `mask_predictions` head, giving a replaced-token logit per token. Fine-tuning
// and `deberta forward` read the same folder as a plain encoder (the head's weights are left aside).
import { Graph } from '../graph/graph.ts';
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { readDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { encodeDeberta } from '../models/deberta/modeling.ts';
import { bindWeights } from '../models/deberta/weights.ts';
import { Session } from '../runtime/session.ts';
import { tensor, type Tensor } from '../tensor.ts';
import { rtdHead } from './rtd.ts';

export interface RtdDiscriminator {
  /** int64 ids and attention mask [batch, sequence] -> `logits` [batch, sequence] (> 0: replaced) and `last_hidden_state`. */
  (inputIds: Tensor, attentionMask: Tensor): Promise<{ logits: Tensor; lastHiddenState: Tensor }>;
  config: DebertaConfig;
  dispose(): Promise<void>;
}

export async function loadRtdDiscriminator(dir: string, opts: { threads?: number } = {}): Promise<RtdDiscriminator> {
  const config = readDebertaConfig(dir);
  const { tensors, files } = await loadCheckpointTensors(dir);
  const file = files.length === 1 ? files[0]! : dir;
  if (!tensors.has('mask_predictions.classifer.weight')) throw new Error(`${file}: no replaced-token-detection head (mask_predictions.*): not an RTD discriminator`);
  const g = new Graph();
  const seq = ['batch', 'sequence'];
  const ids = g.input('input_ids', 'int64', seq);
  const mask = g.input('attention_mask', 'int64', seq);
  const types = config.type_vocab_size > 0 ? g.input('token_type_ids', 'int64', seq) : undefined;
  const binding = bindWeights(g, tensors, { file });
  const enc = encodeDeberta(g, config, binding.source, 'deberta.', ids, mask, types);
  const logits = rtdHead(config, enc.last, binding.source);
  const session = await Session.fromGraph(g, { outputs: { logits, last_hidden_state: enc.last }, name: 'deberta-rtd' }, { threads: opts.threads });
  const run = async (inputIds: Tensor, attentionMask: Tensor) => {
    const feeds: Record<string, Tensor> = { input_ids: inputIds, attention_mask: attentionMask };
    if (types) feeds.token_type_ids = tensor('int64', inputIds.dims);
    const out = await session.run(feeds);
    return { logits: out.logits!, lastHiddenState: out.last_hidden_state! };
  };
  return Object.assign(run, { config, dispose: () => session.release() });
}
