// What a GPU's WebGPU provider can do for this model, apart from the model: whether float16 runs on it
// (ONNX Runtime compiles float16 kernels only where the adapter has `shader-f16`), and the rate of its
// matrix products on the feed-forward shapes of v3-base at 32 × 512 (12 × [16384, 768] → 3072 → 768,
// chained in one graph so that only the first input and the last output cross the bus).
// bench/torch-cuda.py times the same chain with PyTorch; bench/gpu-device.sh runs both.
//
//   node --import tsx bench/gpu-probe.ts [--ep webgpu] [--tokens 16384] [--layers 12] [--runs 5] [--save FILE]
import '../src/platform/node.ts';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Graph } from '../src/graph/graph.ts';
import { emitOnnx } from '../src/runtime/onnx-emit.ts';
import { floatToHalf, halfToFloat, tensor, type DType } from '../src/tensor.ts';
import { median } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    ep: { type: 'string', default: 'webgpu' },
    tokens: { type: 'string', default: '16384' },
    layers: { type: 'string', default: '12' },
    runs: { type: 'string', default: '5' },
    save: { type: 'string' },
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
const asDtype = (x: Float32Array, dtype: DType) => (dtype === 'float16' ? tensor('float16', [x.length], Uint16Array.from(x, floatToHalf)) : tensor('float32', [x.length], x));
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
