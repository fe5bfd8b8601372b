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

/**
 * Texts of mixed length for the corpus row: consecutive Brown sentences, 1 to 6 per text, the count
 * changing every 8 texts (so batches of 8 differ in padded length: about 25 to 128 tokens after truncation).
 */
export function mixedTexts(sentences: string[], count: number): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; out.length < count && at < sentences.length; i++) {
    const k = 1 + (Math.floor(i / 8) * 5) % 6;
    out.push(sentences.slice(at, at + k).join(' '));
    at += k;
  }
  return out;
}

export interface CorpusResult {
  texts: number;
  batchSize: number;
  maxLength: number;
  /** Tokens fed to the model (padding included), ours and transformers.js'. */
  tokens: { ours: number; tjs: number };
  tjs: Timing;
  ours: Timing;
  ratio: number;
  /** Texts whose predicted label is the same on both sides. */
  sameLabel: number;
}

/** Row-wise softmax and argmax: the postprocessing a text classifier's user runs. */
function labels(logits: ArrayLike<number>, rows: number): { label: number; score: number }[] {
  const classes = logits.length / rows;
  const out: { label: number; score: number }[] = [];
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c]!);
    let sum = 0;
    let best = 0;
    for (let c = 0; c < classes; c++) {
      sum += Math.exp(logits[r * classes + c]! - max);
      if (logits[r * classes + c]! > logits[r * classes + best]!) best = c;
    }
    out.push({ label: best, score: Math.exp(logits[r * classes + best]! - max) / sum });
  }
  return out;
}

/**
 * Text → label over a corpus, as a user classifies a list: batches of `batchSize` texts in order, each
 * tokenised (padded to its longest row, truncated at `maxLength`), run, and turned into labels and scores.
 * transformers.js: its AutoTokenizer and AutoModelForSequenceClassification; ours: AutoTokenizer and the model.
 */
export async function measureCorpusEndToEnd(tjsDir: string, tokenizer: TjsTokenizer, ours: DebertaModel,
  oursTokenizer: (texts: string[], opts: { padding: true; truncation: true; maxLength: number }) => { inputIds: number[][]; attentionMask: number[][] },
  texts: string[], opts: TimingOptions & { threads: number; batchSize: number; maxLength: number }): Promise<CorpusResult> {
  const model = await tjsModel(tjsDir, opts.threads);
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += opts.batchSize) batches.push(texts.slice(i, i + opts.batchSize));
  const tokens = { ours: 0, tjs: 0 };
  const runTjs = async () => {
    const res: { label: number; score: number }[] = [];
    let count = 0;
    for (const b of batches) {
      const inputs = tokenizer(b, { padding: true, truncation: true, max_length: opts.maxLength });
      count += inputs.input_ids.data.length;
      const out = await model(inputs);
      res.push(...labels(out.logits.data as Float32Array, b.length));
    }
    tokens.tjs = count;
    return res;
  };
  const runOurs = async () => {
    const res: { label: number; score: number }[] = [];
    let count = 0;
    for (const b of batches) {
      const enc = oursTokenizer(b, { padding: true, truncation: true, maxLength: opts.maxLength });
      count += enc.inputIds.length * (enc.inputIds[0]?.length ?? 0);
      const out = await ours({ inputIds: enc.inputIds, attentionMask: enc.attentionMask });
      res.push(...labels(out.logits!.data, b.length));
    }
    tokens.ours = count;
    return res;
  };
  const [a, b] = [await runOurs(), await runTjs()];
  const sameLabel = a.filter((x, i) => x.label === b[i]!.label).length;
  const t = await interleaved({ tjs: runTjs, ours: runOurs }, { ...opts, warmup: 0 });
  await model.dispose();
  return {
    texts: texts.length, batchSize: opts.batchSize, maxLength: opts.maxLength, tokens, tjs: t.tjs!, ours: t.ours!,
    ratio: t.ours!.medianMs / t.tjs!.medianMs, sameLabel,
  };
}
