// Work per forward pass, and this machine's float32 matrix-multiply rate through onnxruntime-node.
import { Graph } from '../src/graph/graph.ts';
import type { DebertaConfig } from '../src/models/deberta/config.ts';
import { Session } from '../src/runtime/session.ts';
import { tensor } from '../src/tensor.ts';

/** Which rows each matrix product of a forward pass covers, per side. */
export interface FlopsPlan {
  head: 'sequence-classification' | 'token-classification';
  /** Rows of the projected relative table that c2p and p2c multiply by. */
  relativeRows: number;
  /** Query rows the last layer computes (n, or 1 when a pooling head needs only the first token). */
  lastLayerQueries: number;
  /**
   * Token rows the per-token products (projections, FFN) cover over the whole batch: every position, B·n,
   * unless said (ours skips padding for pooling heads on the CPU: the real tokens).
   */
  tokens?: number;
}

function span(c: DebertaConfig): number {
  return c.position_buckets > 0 ? c.position_buckets
    : c.max_relative_positions >= 1 ? c.max_relative_positions : c.max_position_embeddings;
}

/**
 * This project's graph: c2p and p2c over the min(2n, 2·span) table rows a length-n sequence uses; a pooling
 * head computes the last layer for the first token only (its query, attention row, output projection and
 * FFN; keys, values and the p2c product still over every token). `realTokens`: a pooling head's per-token
 * products run on these only (the CPU's models skip padding; GPU ones and training graphs do not).
 */
export function oursPlan(c: DebertaConfig, n: number, head: FlopsPlan['head'] = 'sequence-classification', realTokens?: number): FlopsPlan {
  const pooling = head === 'sequence-classification';
  return { head, relativeRows: Math.min(2 * n, 2 * span(c)), lastLayerQueries: pooling ? 1 : n, tokens: pooling ? realTokens : undefined };
}

/** The peer's graph (transformers' export): c2p and p2c over all 2·span table rows, every layer in full. */
export function peerPlan(c: DebertaConfig, n: number, head: FlopsPlan['head'] = 'sequence-classification'): FlopsPlan {
  return { head, relativeRows: 2 * span(c), lastLayerQueries: n };
}

/** Every layer in full over the min(2n, 2·span) table rows in use (what a training step's forward computes). */
export function fullPlan(c: DebertaConfig, n: number): FlopsPlan {
  return { head: 'sequence-classification', relativeRows: Math.min(2 * n, 2 * span(c)), lastLayerQueries: n };
}

/**
 * Floating-point operations (a multiply-add counts 2) of one forward pass of a DeBERTa-v2/v3 classifier at
 * batch B, length n, as the given plan computes it: the matrix products only.
 *
 *   a layer with q query rows (q = n, or plan.lastLayerQueries in the last one), R = plan.relativeRows,
 *   T = plan.tokens (B·n unless padding is skipped), Tq = T (B·q in the last layer when q < n):
 *       2·Tq·(2·H² + 2·H·I)    Q and output projections (H×H), FFN up and down (H×I), on the query rows
 *     + 2·T·2·H²               K and V projections, on every token
 *     + 4·B·q·n·H              Q·Kᵀ and softmax·V over all heads (heads·headSize = H)
 *     + 2·B·q·R·H              c2p: the q queries against R relative keys
 *     + 2·B·R·n·H              p2c: R relative queries against the n keys
 *   head: sequence classification 2·B·H·(H + labels) (pooler, classifier); token classification 2·B·n·H·labels
 *
 * Not counted: the projections of the relative-embedding table (input-independent; ONNX Runtime folds
 * them into constants on both sides), LayerNorm, softmax, GELU, gathers and other element-wise work.
 */
export function forwardFlops(c: DebertaConfig, batch: number, n: number, plan: FlopsPlan = fullPlan(c, n)): number {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const R = plan.relativeRows;
  const c2p = c.relative_attention && c.pos_att_type.includes('c2p');
  const p2c = c.relative_attention && c.pos_att_type.includes('p2c');
  const T = plan.tokens ?? batch * n;
  const layer = (q: number) => 2 * (q < n ? batch * q : T) * (2 * H * H + 2 * H * I) + 2 * T * 2 * H * H + 4 * batch * q * n * H
    + (c2p ? 2 * batch * q * R * H : 0) + (p2c ? 2 * batch * R * n * H : 0);
  const L = c.num_hidden_layers;
  const head = plan.head === 'sequence-classification' ? 2 * batch * H * (H + c.num_labels) : 2 * batch * n * H * c.num_labels;
  return (L - 1) * layer(n) + layer(plan.lastLayerQueries) + head;
}

export interface MatmulRate { m: number; k: number; n: number; threads: number; bestMs: number; gflops: number }

/** Times an [m, k] × [k, n] float32 MatMul (right operand an initializer, as model weights are); best of `reps`. */
export async function matmulRate(m: number, k: number, n: number, threads = 2, reps = 5): Promise<MatmulRate> {
  const g = new Graph();
  const a = g.input('a', 'float32', [m, k]);
  const b = g.param('b', tensor('float32', [k, n], fill(k * n, 1)));
  const session = await Session.fromGraph(g, { outputs: { y: a.matmul(b) } }, { threads });
  const feeds = { a: tensor('float32', [m, k], fill(m * k, 2)) };
  await session.run(feeds);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    best = Math.min(best, performance.now() - t0);
  }
  await session.release();
  return { m, k, n, threads, bestMs: best, gflops: (2 * m * k * n) / (best * 1e6) };
}

/**
 * The machine's float32 matmul rate: the best of a square 2048³ product and the shapes of v3-base's
 * linear layers at 8 × 128 tokens (which stay in cache better and often run faster).
 */
export async function machineMatmulRates(threads: number): Promise<MatmulRate[]> {
  const shapes: [number, number, number][] = [[2048, 2048, 2048], [1024, 768, 3072], [1024, 3072, 768]];
  const out: MatmulRate[] = [];
  for (const [m, k, n] of shapes) out.push(await matmulRate(m, k, n, threads));
  return out;
}

function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 32 - 0.5;
  }
  return out;
}
