// End to end (text in, logits out) at batch × seq: transformers.js (its tokenizer + its model wrapper over the
// peer graph) against this project (our tokenizer when it exists, else the model alone on transformers.js' ids,
// marked so), with the peer graph alone as the floor.
import * as ort from 'onnxruntime-node';
import type { DebertaModel } from '../src/models/auto.ts';
import { relMaxDiff } from './peer-weights.ts';
import { interleaved, timeMs, type Timing } from './stats.ts';
import type { Encode } from './tokenization.ts';
import { tjsEndToEnd, tjsModel, type TjsTokenizer } from './transformersjs.ts';

export interface EndToEndResult {
  batch: number;
  seq: number;
  /** transformers.js from_pretrained (model only), in this process, first load. */
  tjsLoadMs: number;
  tjs: Timing;
  ours: Timing;
  /** 'tokenise+run' with our tokenizer, or 'run only' on pre-tokenised ids. */
  oursMode: string;
  peerOnly: Timing;
  ratio: number;
  /** ours on transformers.js' ids against transformers.js' logits. */
  maxDiff: number;
}

function truncate(ids: number[], seq: number): number[] {
  return ids.length <= seq ? ids : [...ids.slice(0, seq - 1), ids[ids.length - 1]!];
}

export async function measureEndToEnd(tjsDir: string, tokenizer: TjsTokenizer, ours: DebertaModel, peer: ort.InferenceSession,
  oursEncode: Encode | string, texts: string[], opts: { threads: number; seq: number; warmup: number; runs?: number; targetMs: number }): Promise<EndToEndResult> {
  let model!: Awaited<ReturnType<typeof tjsModel>>;
  const tjsLoadMs = await timeMs(async () => { model = await tjsModel(tjsDir, opts.threads); });
  const enc = tokenizer(texts, { padding: true, truncation: true, max_length: opts.seq });
  const dims = enc.input_ids.dims as number[];
  const ids = enc.input_ids.data as BigInt64Array;
  const mask = enc.attention_mask.data as BigInt64Array;

  const tjsLogits = await tjsEndToEnd(tokenizer, model, texts, opts.seq);
  const oursLogits = (await ours({ inputIds: { data: ids, dims }, attentionMask: { data: mask, dims } })).logits!.data;
  const maxDiff = relMaxDiff(oursLogits, tjsLogits);

  const oursRun = typeof oursEncode === 'string'
    ? () => ours({ inputIds: { data: ids, dims }, attentionMask: { data: mask, dims } })
    : () => {
      const rows = texts.map((t) => truncate(oursEncode(t), opts.seq));
      const n = Math.max(...rows.map((r) => r.length));
      return ours({ inputIds: rows.map((r) => [...r, ...Array(n - r.length).fill(0)]), attentionMask: rows.map((r) => r.map(() => 1).concat(Array(n - r.length).fill(0))) });
    };
  const t = await interleaved({
    tjs: () => tjsEndToEnd(tokenizer, model, texts, opts.seq),
    ours: oursRun,
    peer: () => peer.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) }),
  }, { warmup: opts.warmup, runs: opts.runs, targetMs: opts.targetMs, minRuns: 3 });
  await model.dispose();
  return {
    batch: texts.length, seq: opts.seq, tjsLoadMs, tjs: t.tjs!, ours: t.ours!, peerOnly: t.peer!,
    oursMode: typeof oursEncode === 'string' ? 'run only (our tokenizer not available)' : 'tokenise+run',
    ratio: t.ours!.medianMs / t.tjs!.medianMs, maxDiff,
  };
}
