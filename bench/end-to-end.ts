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
  /** Logits, text to text: ours (our tokenizer) against transformers.js'. */
  maxDiff: number;
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

  // Our tokenizer, truncated and padded (pad id 0) the way transformers.js' call does.
  const oursRun = () => {
    const rows = texts.map((t) => truncate(oursEncode(t), opts.seq));
    const n = Math.max(...rows.map((r) => r.length));
    const padded = (r: number[], fill: (x: number) => number) => [...r.map(fill), ...Array<number>(n - r.length).fill(0)];
    return ours({ inputIds: rows.map((r) => padded(r, (x) => x)), attentionMask: rows.map((r) => padded(r, () => 1)) });
  };
  const tjsLogits = await tjsEndToEnd(tokenizer, model, texts, opts.seq);
  const maxDiff = relMaxDiff((await oursRun()).logits!.data, tjsLogits);

  const t = await interleaved({
    tjs: () => tjsEndToEnd(tokenizer, model, texts, opts.seq),
    ours: oursRun,
    peer: () => peer.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) }),
  }, { ...opts, warmup: Math.max(opts.warmup, 1) });
  await model.dispose();
  return {
    batch: texts.length, seq: opts.seq, tjsLoadMs, tjs: t.tjs!, ours: t.ours!, peerOnly: t.peer!,
    ratio: t.ours!.medianMs / t.tjs!.medianMs, maxDiff,
  };
}
