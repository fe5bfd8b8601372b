// End to end (text in, logits out) at batch × seq: transformers.js (its tokenizer + its model wrapper over the
// peer graph) against this project (its tokenizer + its model), with the peer graph alone as the floor.
import * as ort from 'onnxruntime-node';
import type { DebertaModel } from '../src/models/auto.ts';
import { relMaxDiff } from './peer-weights.ts';
import { interleaved, timeMs, type Timing, type TimingOptions } from './stats.ts';
import type { Encode } from './tokenization.ts';
import { tjsEndToEnd, tjsModel, type TjsTokenizer } from './transformersjs.ts';

export interface EndToEndResult {
  batch: number;
  seq: number;
  /** transformers.js from_pretrained (model only), in this process, first load. */
  tjsLoadMs: number;
  tjs: Timing;
  ours: Timing;
  peerOnly: Timing;
  ratio: number;
  /** Logits of our model on transformers.js' ids against transformers.js' logits. */
  maxDiff: number;
  /**
   * Whether our tokenizer gave transformers.js' ids. Not when truncating: transformers.js 4.3 cuts the final
   * [SEP] off a truncated sequence, Python transformers (and this project) keep it.
   */
  sameIds: boolean;
}

function truncate(ids: number[], seq: number): number[] {
  return ids.length <= seq ? ids : [...ids.slice(0, seq - 1), ids[ids.length - 1]!];
}

export async function measureEndToEnd(tjsDir: string, tokenizer: TjsTokenizer, ours: DebertaModel, peer: ort.InferenceSession,
  oursEncode: Encode, texts: string[], opts: TimingOptions & { threads: number; seq: number }): Promise<EndToEndResult> {
  let model!: Awaited<ReturnType<typeof tjsModel>>;
  const tjsLoadMs = await timeMs(async () => { model = await tjsModel(tjsDir, opts.threads); });
  const enc = tokenizer(texts, { padding: true, truncation: true, max_length: opts.seq });
  const dims = enc.input_ids.dims as number[];
  const ids = enc.input_ids.data as BigInt64Array;
  const mask = enc.attention_mask.data as BigInt64Array;

  // Our tokenizer, truncated as Python transformers does (the final [SEP] kept) and padded with id 0.
  const oursIds = () => {
    const rows = texts.map((t) => truncate(oursEncode(t), opts.seq));
    const n = Math.max(...rows.map((r) => r.length));
    const padded = (r: number[], fill: (x: number) => number) => [...r.map(fill), ...Array<number>(n - r.length).fill(0)];
    return { inputIds: rows.map((r) => padded(r, (x) => x)), attentionMask: rows.map((r) => padded(r, () => 1)) };
  };
  const oursRun = () => ours(oursIds());
  const sameIds = oursIds().inputIds.flat().join() === Array.from(ids, Number).join();
  // The models compared on the same ids (transformers.js' own).
  const tjsLogits = await tjsEndToEnd(tokenizer, model, texts, opts.seq);
  const maxDiff = relMaxDiff((await ours({ inputIds: { data: ids, dims }, attentionMask: { data: mask, dims } })).logits!.data, tjsLogits);

  const t = await interleaved({
    tjs: () => tjsEndToEnd(tokenizer, model, texts, opts.seq),
    ours: oursRun,
    peer: () => peer.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) }),
  }, { ...opts, warmup: Math.max(opts.warmup, 1) });
  await model.dispose();
  return {
    batch: texts.length, seq: opts.seq, tjsLoadMs, tjs: t.tjs!, ours: t.ours!, peerOnly: t.peer!,
    ratio: t.ours!.medianMs / t.tjs!.medianMs, maxDiff, sameIds,
  };
}
