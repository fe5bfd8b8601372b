// Long inputs (1 × 2048, 1 × 4096): time in this process (interleaved, as the other cases) and peak memory
// in fresh child processes (load + one run at that length, each side its own process), plus the size of
// the [batch, heads, n, n] tensors the disentangled attention works on, computed from the shape.
import type * as ort from 'onnxruntime-node';
import type { DebertaModel } from '../src/models/auto.ts';
import { runCase, type CaseResult } from './inference.ts';
import { measureLoad } from './load-memory.ts';
import type { Peer } from './peer-weights.ts';
import type { TimingOptions } from './stats.ts';

export interface LongResult {
  batch: number;
  seq: number;
  time?: CaseResult;
  /** Peak RSS (MiB) of a fresh process that loads the model and runs it once at this length. */
  peakMiB?: { ours: number; peer: number };
  /** One float32 [batch, heads, n, n] tensor, MiB (scores, their c2p / p2c terms, the softmax each have this size). */
  scoreTensorMiB: number;
  error?: string;
}

export function scoreTensorMiB(peer: Peer, batch: number, n: number): number {
  return (batch * peer.config.num_attention_heads * n * n * 4) / 2 ** 20;
}

export async function measureLong(peer: Peer, ours: DebertaModel, peerRun: ort.InferenceSession, staged: { oursDir: string; peerOnnx: string; checkpointBytes: number },
  n: number, opts: TimingOptions & { threads: number; memory: boolean }): Promise<LongResult> {
  const res: LongResult = { batch: 1, seq: n, scoreTensorMiB: scoreTensorMiB(peer, 1, n) };
  try {
    res.time = await runCase(peer, ours, peerRun, { head: 'sequence-classification', precision: 'float32', batch: 1, seq: n }, { ...opts, warmup: 0, minRuns: 3 });
    if (opts.memory) {
      const load = await measureLoad(staged, { threads: opts.threads, reps: 1, batch: 1, seq: n });
      res.peakMiB = { ours: load.ours.peakRssMiB, peer: load.peer.peakRssMiB };
    }
  } catch (e) {
    res.error = (e as Error).message.split('\n')[0];
  }
  return res;
}
