// Work per forward pass, and this machine's float32 matrix-multiply rate through onnxruntime-node.
import { Graph } from '../src/graph/graph.ts';
import type { DebertaConfig } from '../src/models/deberta/config.ts';
import { Session } from '../src/runtime/session.ts';
import { tensor } from '../src/tensor.ts';

/**
 * Floating-point operations (a multiply-add counts 2) of one forward pass of a DeBERTa-v2/v3
 * sequence classifier at batch B, length n: the matrix products a direct implementation needs.
 *
 *   per layer:  2·B·n·(4·H² + 2·H·I)   Q, K, V and output projections (H×H each), FFN up and down (H×I)
 *             + 4·B·n²·H               Q·Kᵀ and softmax·V over all heads (heads·headSize = H)
 *             + 4·B·n·R·H              c2p (Q against relative keys) and p2c (K against relative queries),
 *                                      over the R = min(2·span, 2n − 1) relative positions that occur
 *   once:       2·B·H·(H + labels)     pooler and classifier
 *   total:      L·(per layer) + once
 *
 * Not counted: the projections of the relative-embedding table (they do not depend on the input and ONNX
 * Runtime folds them into constants), LayerNorm, softmax, GELU, gathers and other element-wise work.
 * span = position_buckets when > 0, else max_relative_positions (or max_position_embeddings).
 */
export function forwardFlops(c: DebertaConfig, batch: number, n: number): number {
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const span = c.position_buckets > 0 ? c.position_buckets
    : c.max_relative_positions >= 1 ? c.max_relative_positions : c.max_position_embeddings;
  const terms = c.relative_attention ? c.pos_att_type.filter((t) => t === 'c2p' || t === 'p2c').length : 0;
  const R = Math.min(2 * span, 2 * n - 1);
  const perLayer = 2 * batch * n * (4 * H * H + 2 * H * I) + 4 * batch * n * n * H + terms * 2 * batch * n * R * H;
  return c.num_hidden_layers * perLayer + 2 * batch * H * (H + c.num_labels);
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
