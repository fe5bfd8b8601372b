// Forward-pass timing: this project against the peer graph through onnxruntime-node, same weights,
// same inputs, interleaved in one process; plus the output-equality check for every case timed.
import * as ort from 'onnxruntime-node';
import { createModel, type DebertaModel } from '../src/models/auto.ts';
import type { Tensor } from '../src/tensor.ts';
import { forwardFlops, oursPlan, peerPlan } from './flops.ts';
import { peerWeights, relMaxDiff, type Peer } from './peer-weights.ts';
import { makeInputs } from './inputs.ts';
import { peerSession } from './peer-session.ts';
import { interleaved, pairedRatio, timeMs, type Timing, type TimingOptions } from './stats.ts';

export interface Sides {
  ours: DebertaModel;
  peer: ort.InferenceSession;
  /** The peer's weights by Hugging Face name, which ours was built from. */
  weights: Map<string, Tensor>;
  oursCreateMs: number;
  peerCreateMs: number;
}

export async function openSides(peer: Peer, threads: number): Promise<Sides> {
  const weights = await peerWeights(peer);
  let ours!: DebertaModel;
  const oursCreateMs = await timeMs(async () => { ours = await createModel(peer.config, weights, 'sequence-classification', { threads }); });
  let session!: ort.InferenceSession;
  const peerCreateMs = await timeMs(async () => { session = await peerSession(peer.onnxPath, threads); });
  return { ours, peer: session, weights, oursCreateMs, peerCreateMs };
}

export type Head = 'sequence-classification' | 'token-classification';

/** What one case compares: the head, float32 or int8 (each side its own int8 model), and the shape. */
export interface CaseSpec { head: Head; precision: 'float32' | 'int8'; batch: number; seq: number }

export interface CaseResult {
  /** Absent in runs saved before token classification and the peer's int8 model were measured. */
  head?: Head;
  precision?: 'float32' | 'int8';
  batch: number;
  seq: number;
  ours: Timing;
  peer: Timing;
  /** ours / peer, medians. */
  ratio: number;
  /** Median of ours / peer within each round. */
  pairedRatio?: number;
  /** max |ours − peer| / max(1, max |peer|) over the logits (int8: ours int8 against the peer's float32). */
  maxDiff: number;
  /** int8: the peer's int8 model against its float32 one, same measure. */
  peerQuantDiff?: number;
  /** The peer's FLOPs (every layer in full, c2p/p2c over all 2·span table rows). */
  gflop: number;
  /** Ours: the FLOPs our graph computes (rows in use; pooling heads' last layer on the first token, their per-token products on real tokens only). */
  oursGflop?: number;
  oursGflops: number;
  peerGflops: number;
}

/**
 * Times one case. `peerFloat` (int8 cases): the peer's float32 session, the reference for the quantisation
 * error. The equality check's runs double as the first warm-up round.
 */
export async function runCase(peer: Peer, ours: DebertaModel, peerRun: ort.InferenceSession, spec: CaseSpec, opts: TimingOptions,
  peerFloat?: ort.InferenceSession): Promise<CaseResult> {
  const { batch, seq: n } = spec;
  const { ids, mask, dims } = makeInputs(peer.config.vocab_size, batch, n);
  const feeds = () => ({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) });
  const runOurs = () => ours({ inputIds: { data: ids, dims }, attentionMask: { data: mask, dims } });
  const runPeer = () => peerRun.run(feeds());

  let a!: Float32Array;
  let b!: Float32Array;
  const roundMsHint = await timeMs(async () => { a = (await runOurs()).logits!.data; })
    + await timeMs(async () => { b = (await runPeer()).logits!.data as Float32Array; });
  let maxDiff = relMaxDiff(a, b);
  let peerQuantDiff: number | undefined;
  if (peerFloat) {
    const ref = (await peerFloat.run(feeds())).logits!.data as Float32Array;
    maxDiff = relMaxDiff(a, ref);
    peerQuantDiff = relMaxDiff(b, ref);
  }

  // Long cases keep the run short: a round over 5 s takes the check run as its only warm-up, one over 8 s
  // gets 3 timed runs (ask for more with --runs).
  const t = await interleaved({ ours: runOurs, peer: runPeer }, {
    ...opts, roundMsHint, warmup: roundMsHint > 5_000 ? 0 : opts.warmup, minRuns: roundMsHint > 8_000 ? 3 : opts.minRuns,
  });
  const peerFlops = forwardFlops(peer.config, batch, n, peerPlan(peer.config, n, spec.head));
  const realTokens = mask.reduce((sum, m) => sum + Number(m), 0);
  const oursFlops = forwardFlops(peer.config, batch, n, oursPlan(peer.config, n, spec.head, realTokens));
  return {
    head: spec.head, precision: spec.precision, batch, seq: n, ours: t.ours!, peer: t.peer!,
    ratio: t.ours!.medianMs / t.peer!.medianMs, pairedRatio: pairedRatio(t.ours!, t.peer!), maxDiff, peerQuantDiff,
    gflop: peerFlops / 1e9, oursGflop: oursFlops / 1e9,
    oursGflops: oursFlops / (t.ours!.medianMs * 1e6), peerGflops: peerFlops / (t.peer!.medianMs * 1e6),
  };
}

/** The peer against the logits its manifest recorded (it loaded the right bytes). */
export async function checkProbe(peer: Peer, session: ort.InferenceSession): Promise<number> {
  const rows = peer.probe.inputIds;
  const dims = [rows.length, rows[0]!.length];
  const ids = BigInt64Array.from(rows.flat(), (x) => BigInt(x));
  const mask = new BigInt64Array(ids.length).fill(1n);
  const out = await session.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) });
  return relMaxDiff(out.logits!.data as Float32Array, peer.probe.logits.flat());
}
