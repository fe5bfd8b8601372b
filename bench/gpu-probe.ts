// What a GPU's WebGPU provider can do for this model, apart from the model: whether float16 runs on it
// (ONNX Runtime compiles float16 kernels only where the adapter has `shader-f16`), and the rate of its
// matrix products on the feed-forward shapes of v3-base at 32 × 512 (12 × [16384, 768] → 3072 → 768,
// chained in one graph so that only the first input and the last output cross the bus).
// bench/torch-cuda.py times the same chain with PyTorch; bench/gpu-device.sh runs both.
// --profile: instead, where a v3-base forward pass at 32 × 512 spends its time, by op (ONNX Runtime's
// profiler; its WebGPU provider times kernels with timestamp queries), for each layout named.
//
//   node --import tsx bench/gpu-probe.ts [--ep webgpu] [--tokens 16384] [--layers 12] [--runs 5] [--save FILE]
//   node --import tsx bench/gpu-probe.ts --profile [--layouts index,shift] [--dtype fp32|fp16] [--case 32x512] [--save FILE]
import '../src/platform/node.ts';
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Graph } from '../src/graph/graph.ts';
import { emitOnnx } from '../src/runtime/onnx-emit.ts';
import { halfToFloat, tensor, toFloat16, type DType } from '../src/tensor.ts';
import { buildModelGraph } from '../src/models/create.ts';
import { makeInputs } from './inputs.ts';
import { loadPeer, peerWeights } from './peer-weights.ts';
import { median } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    ep: { type: 'string', default: 'webgpu' },
    tokens: { type: 'string', default: '16384' },
    layers: { type: 'string', default: '12' },
    runs: { type: 'string', default: '5' },
    save: { type: 'string' },
    profile: { type: 'boolean', default: false },
    layouts: { type: 'string', default: 'index,shift' },
    dtype: { type: 'string', default: 'fp32' },
    case: { type: 'string', default: '32x512' },
  },
});
const ep = args.ep!;
const [tokens, layers, runs] = [Number(args.tokens), Number(args.layers), Number(args.runs)];
const [hidden, inner] = [768, 3072];
const provider = (ep === 'webgpu' ? { name: 'webgpu', storageBufferCacheMode: 'simple' } : ep) as never;
// No quiet fallback: a node the provider cannot run fails the session instead of going to the CPU.
const strict = { executionProviders: [provider], logSeverityLevel: 3, ...(ep === 'cpu' ? {} : { extra: { session: { disable_cpu_ep_fallback: '1' } } }) } as const;

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((((Math.imul(i, 2654435761) + seed * 97) >>> 0) / 4294967296) - 0.5) * 2 * scale;
  return out;
}
const asDtype = (x: Float32Array, dtype: DType) => {
  const t = tensor('float32', [x.length], x);
  return dtype === 'float16' ? tensor('float16', [x.length], toFloat16(t)) : t;
};
const ortTensor = (x: Float32Array, dtype: 'float32' | 'float16', dims: number[]) => new ort.Tensor(dtype, asDtype(x, dtype).data as Float32Array | Uint16Array, dims);

/** x [tokens, hidden] through `layers` × (w1 [hidden, inner], w2 [inner, hidden]). */
function chainModel(dtype: DType, m: number, depth: number): Uint8Array {
  const g = new Graph();
  const x = g.input('x', dtype, [m, hidden]);
  // Uniform values with the variance that keeps activations at scale through the chain.
  const w = (name: string, k: number, n: number, seed: number) => {
    const t = asDtype(values(k * n, seed, Math.sqrt(3 / k)), dtype);
    return g.param(name, { ...t, dims: [k, n] });
  };
  const w1 = w('w1', hidden, inner, 1), w2 = w('w2', inner, hidden, 2);
  let y = x;
  for (let i = 0; i < depth; i++) y = y.matmul(w1).matmul(w2);
  return emitOnnx(g, { outputs: { y } }).model;
}

const result: Record<string, unknown> = { date: new Date().toISOString(), ep, onnxruntime: ort.env.versions.common, tokens, layers };
const log = (msg: string) => process.stderr.write(`${msg}\n`);
if (args.profile) {
  result.profiles = await profileModel();
  if (args.save) writeFileSync(args.save, `${JSON.stringify(result, null, 1)}\n`);
  process.exit(0);
}

// 1. Float16 on the provider: a small product, checked against float32 arithmetic.
try {
  const session = await ort.InferenceSession.create(chainModel('float16', 64, 1), strict);
  const x = values(64 * hidden, 3, 1);
  const y = (await session.run({ x: ortTensor(x, 'float16', [64, hidden]) })).y!;
  const ref = (await (await ort.InferenceSession.create(chainModel('float32', 64, 1), { executionProviders: ['cpu'] })).run({ x: new ort.Tensor('float32', x, [64, hidden]) })).y!.data as Float32Array;
  const got = Float32Array.from(y.data as Uint16Array, halfToFloat);
  let err = 0;
  for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(got[i]! - ref[i]!));
  result.float16 = { runs: true, maxAbsError: err };
  log(`float16 on ${ep}: runs, max |error| ${err.toExponential(2)} against float32 on the CPU`);
  await session.release();
} catch (e) {
  result.float16 = { runs: false, error: (e as Error).message.slice(0, 400) };
  log(`float16 on ${ep}: does not run: ${(e as Error).message.slice(0, 400)}`);
}

// 2. The product rate, float32 and (where it runs) float16.
const flop = layers * 2 * 2 * tokens * hidden * inner;
for (const dtype of ['float32', 'float16'] as const) {
  if (dtype === 'float16' && !(result.float16 as { runs: boolean }).runs) continue;
  try {
    const session = await ort.InferenceSession.create(chainModel(dtype, tokens, layers), { ...strict, graphOptimizationLevel: 'all' });
    const x = ortTensor(values(tokens * hidden, 4, 1), dtype, [tokens, hidden]);
    for (let i = 0; i < 2; i++) await session.run({ x });
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await session.run({ x });
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    result[`chain_${dtype}`] = { ms, tflops: flop / (ms / 1e3) / 1e12, times };
    log(`${dtype} chain on ${ep}: ${ms.toFixed(1)} ms, ${(flop / (ms / 1e3) / 1e12).toFixed(2)} TFLOP/s (transfers of x and y included)`);
    await session.release();
  } catch (e) {
    result[`chain_${dtype}`] = { error: (e as Error).message.slice(0, 400) };
    log(`${dtype} chain on ${ep}: ${(e as Error).message.slice(0, 400)}`);
  }
}
if (args.save) writeFileSync(args.save, `${JSON.stringify(result, null, 1)}\n`);

/** Per op type, milliseconds per forward pass over the timed runs, for each relative-attention layout. */
async function profileModel(): Promise<Record<string, unknown>> {
  const peer = loadPeer('v3-base');
  const weights = await peerWeights(peer);
  const [batch, n] = args.case!.split('x').map(Number) as [number, number];
  const { ids, mask, dims } = makeInputs(peer.config.vocab_size, batch, n);
  const feeds = () => ({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) });
  const out: Record<string, unknown> = {};
  for (const layout of args.layouts!.split(',')) {
    const { graph, outputs } = buildModelGraph(peer.config, weights, 'sequence-classification', {
      relativeShift: layout === 'shift', ...(args.dtype === 'fp16' ? { dtype: 'float16' as const } : {}),
    });
    const model = emitOnnx(graph, { outputs }).model;
    const prefix = join(tmpdir(), `deberta-profile-${layout}`);
    const session = await ort.InferenceSession.create(model, { executionProviders: [provider], graphOptimizationLevel: 'all', logSeverityLevel: 3, enableProfiling: true, profileFilePrefix: prefix });
    const wall: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      const t0 = performance.now();
      await session.run(feeds());
      if (i > 0) wall.push(performance.now() - t0); // the first compiles the shaders
    }
    session.endProfiling();
    await session.release();
    const file = readdirSync(tmpdir()).filter((f) => f.startsWith(`deberta-profile-${layout}`) && f.endsWith('.json')).map((f) => join(tmpdir(), f)).sort().at(-1);
    if (!file) throw new Error(`no profile written under ${prefix}*`);
    const events = JSON.parse(readFileSync(file, 'utf8')) as { cat?: string; name?: string; dur?: number; args?: { op_name?: string } }[];
    unlinkSync(file);
    // Every event but the session's own, summed by category and op over all runs, then per timed run.
    const sums = new Map<string, { ms: number; count: number }>();
    for (const e of events) {
      if (!e.dur || e.cat === 'Session') continue;
      const key = `${e.cat}:${e.args?.op_name ?? e.name}`;
      const s = sums.get(key) ?? { ms: 0, count: 0 };
      s.ms += e.dur / 1e3 / (runs + 1);
      s.count += 1 / (runs + 1);
      sums.set(key, s);
    }
    const byOp = [...sums].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40).map(([k, v]) => ({ op: k, ms: Number(v.ms.toFixed(2)), perRun: Math.round(v.count) }));
    out[layout] = { wallMs: median(wall), byOp };
    log(`${args.dtype} ${layout} ${batch} × ${n}: ${median(wall).toFixed(1)} ms a run (median of ${wall.length}); per run, averaged over all ${runs + 1} including the first:`);
    for (const r of byOp.slice(0, 20)) log(`  ${r.op.padEnd(48)} ${r.ms.toFixed(1).padStart(8)} ms  (${r.perRun} per run)`);
  }
  return out;
}
