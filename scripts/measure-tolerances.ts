// Prints the errors that the numeric tests bound, measured as each test computes them, with ONNX Runtime at
// 1 and 2 threads: the evidence for the tolerances written in test/*.test.ts (each sits at 2–3× the largest
// figure printed here, or at a stated floor where the error is zero or at float32 rounding).
// Usage: node --import tsx --import ./src/platform/node.ts scripts/measure-tolerances.ts [section ...]
// Sections: forward emd gradients load quantize export (default: all).
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../src/cli/commands/export.ts';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { camel, loadModel } from '../src/models/auto.ts';
import { floatToBf16, floatToHalf, type Tensor, tensor, toFloat32, toFloat64 } from '../src/tensor.ts';
import { loadGradientModel, type TrainBatch } from '../src/train/step.ts';
import { relError } from '../test/helpers/compare.ts';
import { fixtureInputs } from '../test/helpers/fixture-models.ts';
import { transformersJsLogits } from '../test/helpers/transformersjs.ts';

const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'models');
const EMD = join(import.meta.dirname, '..', 'test', 'fixtures', 'emd');
const THREADS = [1, 2];
const wanted = process.argv.slice(2);
const on = (s: string) => wanted.length === 0 || wanted.includes(s);
const expected = (dir: string) => readSafetensors(join(dir, 'expected.safetensors')).tensors;
const e = (x: number) => x.toExponential(2);
const line = (what: string, xs: number[]) => console.log(`${what.padEnd(64)} ${xs.map(e).join('  ')}   max ${e(Math.max(...xs))}`);
const norm = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));
const diffNorm = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));

console.log(`columns: ${THREADS.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(', ')}`);

if (on('forward')) {
  // test/model-forward.test.ts: relError of every f64.* output, worst over outputs, per fixture.
  let worstAll = [0, 0], worstLogits = [0, 0];
  for (const name of readdirSync(FIXTURES).sort()) {
    const ref = expected(join(FIXTURES, name));
    const errs: number[] = [], logitsOnly: number[] = [];
    for (const threads of THREADS) {
      const model = await loadModel(join(FIXTURES, name), 'auto', { hiddenStates: true, attentions: true, threads });
      const out = await model(fixtureInputs(ref));
      let worst = 0;
      for (const [k, r] of ref) {
        if (!k.startsWith('f64.') || k === 'f64.train_loss') continue;
        worst = Math.max(worst, relError(out[camel(k.slice(4))]!.data, toFloat64(r)));
      }
      errs.push(worst);
      await model.dispose();
      if (/seqcls|-mc$/.test(name)) {
        const m = await loadModel(join(FIXTURES, name), 'auto', { threads });
        logitsOnly.push(relError((await m(fixtureInputs(ref))).logits!.data, toFloat64(ref.get('f64.logits')!)));
        await m.dispose();
      }
    }
    line(`forward ${name}`, errs);
    worstAll = worstAll.map((w, i) => Math.max(w, errs[i]!));
    if (logitsOnly.length) {
      line(`forward ${name} (logits only)`, logitsOnly);
      worstLogits = worstLogits.map((w, i) => Math.max(w, logitsOnly[i]!));
    }
  }
  line('forward: worst over all fixtures and outputs', worstAll);
  line('forward: worst logits-only', worstLogits);
}

if (on('emd')) {
  // test/emd.test.ts: relError at the masked positions, with and without the decoder.
  for (const name of ['emd-v1', 'emd-v3']) {
    const ref = expected(join(EMD, name));
    const pos = ref.get('masked_positions')!.data as BigInt64Array;
    const at = (data: Float32Array) => {
      const out = new Float32Array(pos.length * 128);
      pos.forEach((p, i) => out.set(data.subarray(Number(p) * 128, (Number(p) + 1) * 128), i * 128));
      return out;
    };
    const ids = ref.get('input.input_ids')!;
    const inputs = { inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: ref.get('input.attention_mask')!.data as BigInt64Array, dims: ids.dims } };
    const withEmd: number[] = [], farFromPlain: number[] = [], plain: number[] = [];
    for (const threads of THREADS) {
      const m = await loadModel(join(EMD, name), 'auto', { threads });
      const masked = at((await m(inputs)).logits!.data);
      withEmd.push(relError(masked, toFloat64(ref.get('f64.emd_logits')!)));
      farFromPlain.push(relError(masked, toFloat64(ref.get('f64.no_emd_logits')!)));
      await m.dispose();
      const p = await loadModel(join(EMD, name), 'auto', { emd: false, threads });
      plain.push(relError(at((await p(inputs)).logits!.data), toFloat64(ref.get('f64.no_emd_logits')!)));
      await p.dispose();
    }
    line(`emd ${name}: EMD logits vs authors' (relError)`, withEmd);
    line(`emd ${name}: EMD logits vs no-EMD reference (must stay large)`, farFromPlain);
    line(`emd ${name}: emd:false logits vs no-EMD reference`, plain);
  }
}

function batchOf(t: Map<string, Tensor>): TrainBatch {
  return {
    inputIds: t.get('input.input_ids')!, attentionMask: t.get('input.attention_mask')!, tokenTypeIds: t.get('input.token_type_ids'),
    labels: t.get('label.labels'), startPositions: t.get('label.start_positions'), endPositions: t.get('label.end_positions'),
  };
}

/** Worst relative L2 gradient error, leaving out the exact zeros and the zero-by-symmetry ones (below floor × total). */
function gradError(grads: Map<string, Tensor>, ref: Map<string, Tensor>, floor: number): number {
  const refGrads = [...ref].filter(([k]) => k.startsWith('grad.')).map(([k, v]) => [k.slice(5), toFloat64(v)] as const);
  const total = norm(refGrads.flatMap(([, v]) => Array.from(v)));
  let worst = 0;
  for (const [k, r] of refGrads) {
    const o = toFloat64(grads.get(k)!), rn = norm(r);
    if (rn === 0 || (rn <= floor * total && norm(o) <= floor * total)) continue;
    worst = Math.max(worst, diffNorm(o, r) / rn);
  }
  return worst;
}

if (on('gradients')) {
  // test/gradients.test.ts: float64 loss and gradients per fixture; float32 for `deberta grad` on v3-buckets-mlm.
  const withGrads = readdirSync(FIXTURES).sort().filter((n) => [...expected(join(FIXTURES, n)).keys()].some((k) => k.startsWith('grad.')));
  let worstLoss = [0, 0], worstGrad = [0, 0];
  for (const name of withGrads) {
    const ref = expected(join(FIXTURES, name));
    const refLoss = Number(ref.get('f64.train_loss')!.data[0]);
    const loss: number[] = [], grad: number[] = [];
    for (const threads of THREADS) {
      const m = await loadGradientModel(join(FIXTURES, name), 'auto', { dtype: 'float64', threads });
      const r = await m.computeGradients(batchOf(ref));
      loss.push(Math.abs(r.loss - refLoss) / Math.abs(refLoss));
      grad.push(gradError(r.grads, ref, 1e-12));
      await m.dispose();
    }
    line(`gradients ${name} (float64): loss`, loss);
    line(`gradients ${name} (float64): worst gradient`, grad);
    worstLoss = worstLoss.map((w, i) => Math.max(w, loss[i]!));
    worstGrad = worstGrad.map((w, i) => Math.max(w, grad[i]!));
  }
  line('gradients float64: worst loss over fixtures', worstLoss);
  line('gradients float64: worst gradient over fixtures', worstGrad);
  {
    const ref = expected(join(FIXTURES, 'v3-buckets-qa'));
    const errs: number[] = [];
    for (const threads of THREADS) {
      const m = await loadGradientModel(join(FIXTURES, 'v3-buckets-qa'), 'auto', { dtype: 'float64', threads });
      const out = await m.forward(batchOf(ref));
      errs.push(Math.max(...['start_logits', 'end_logits'].map((k) => diffNorm(toFloat64(out[k]!), toFloat64(ref.get(`f64.${k}`)!)) / norm(toFloat64(ref.get(`f64.${k}`)!)))));
      await m.dispose();
    }
    line('gradients: eval-mode forward (float64) v3-buckets-qa', errs);
  }
  const ref = expected(join(FIXTURES, 'v3-buckets-mlm'));
  const refLoss = Number(ref.get('f64.train_loss')!.data[0]);
  const loss: number[] = [], grad: number[] = [];
  for (const threads of THREADS) {
    const m = await loadGradientModel(join(FIXTURES, 'v3-buckets-mlm'), 'auto', { dtype: 'float32', threads });
    const r = await m.computeGradients(batchOf(ref));
    loss.push(Math.abs(r.loss - refLoss) / refLoss);
    grad.push(gradError(r.grads, ref, 1e-6));
    await m.dispose();
  }
  line('gradients v3-buckets-mlm (float32, deberta grad): loss', loss);
  line('gradients v3-buckets-mlm (float32, deberta grad): worst gradient', grad);
}

if (on('load')) {
  // test/model-load.test.ts: F16, BF16 and int8 logits of v3-buckets-seqcls against float64; the bare encoder.
  const fixture = join(FIXTURES, 'v3-buckets-seqcls');
  const ref = expected(fixture);
  const variant = (to: 'float16' | 'bfloat16') => {
    const dir = mkdtempSync(join(tmpdir(), 'measure-load-'));
    cpSync(fixture, dir, { recursive: true });
    const w = readSafetensors(join(fixture, 'model.safetensors')).tensors;
    for (const [k, t] of w) w.set(k, tensor(to, t.dims, Uint16Array.from(toFloat32(t), to === 'float16' ? floatToHalf : floatToBf16)));
    writeSafetensors(join(dir, 'model.safetensors'), w);
    return dir;
  };
  const logitsErr = async (dir: string, threads: number, quantize?: 'int8') => {
    const m = await loadModel(dir, 'auto', { threads, quantize });
    const out = await m(fixtureInputs(ref));
    await m.dispose();
    return relError(out.logits!.data, toFloat64(ref.get('f64.logits')!));
  };
  for (const to of ['float16', 'bfloat16'] as const) {
    const dir = variant(to);
    const errs: number[] = [];
    for (const threads of THREADS) errs.push(await logitsErr(dir, threads));
    line(`load ${to} weights: logits vs float64`, errs);
    rmSync(dir, { recursive: true, force: true });
  }
  const int8: number[] = [];
  for (const threads of THREADS) int8.push(await logitsErr(fixture, threads, 'int8'));
  line("load quantize: 'int8': logits vs float64", int8);
  const bare: number[] = [];
  for (const threads of THREADS) {
    const m = await loadModel(fixture, 'base', { threads });
    bare.push(relError((await m(fixtureInputs(ref))).lastHiddenState!.data, toFloat64(ref.get('f64.hidden_states.2')!)));
    await m.dispose();
  }
  line('load: bare encoder of the classifier vs hidden_states.2', bare);
}

if (on('quantize')) {
  // test/quantize.test.ts: the same graph and seeds as the test.
  const { Graph } = await import('../src/graph/graph.ts');
  const F = await import('../src/graph/functional.ts');
  const { quantizeGraphForInference, quantizeWeight } = await import('../src/runtime/quantize.ts');
  const { Session } = await import('../src/runtime/session.ts');
  const { Rng } = await import('../src/util/random.ts');
  const randn = (rng: InstanceType<typeof Rng>, n: number, std = 1) => Float32Array.from({ length: n }, () => rng.normal() * std);
  {
    const rng = new Rng(1);
    const [k, n] = [37, 11];
    const w = randn(rng, k * n);
    w[5 * n + 3] = 40;
    const { q, scale } = quantizeWeight(w, k, n);
    let worst = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(q[i * n + j]! * scale[j]! - w[i * n + j]!) - scale[j]! / 2);
    console.log(`quantizeWeight: max(|q·s − w| − s/2) ${e(worst)}; |scale[3] − 40/127| ${e(Math.abs(scale[3]! - 40 / 127))}; scale[4] ${e(scale[4]!)}`);
  }
  const rng = new Rng(2);
  const g = new Graph();
  const x = g.input('x', 'float32', ['batch', 16]);
  const w1 = g.param('w1', tensor('float32', [24, 16], randn(rng, 24 * 16, 0.2)));
  const b1 = g.param('b1', tensor('float32', [24], randn(rng, 24, 0.1)));
  const w2 = g.param('w2', tensor('float32', [24, 5], randn(rng, 24 * 5, 0.2)));
  const h = F.tanh(F.linear(x, w1, b1));
  const outputs = { y: h.matmul(w2), z: h.matmul(F.transpose(h, [1, 0])) };
  const feeds = { x: tensor('float32', [3, 16], randn(rng, 48)) };
  const a = quantizeGraphForInference(g, outputs);
  const b = quantizeGraphForInference(g, outputs, { op: 'DynamicQuantizeMatMul' });
  const same: number[] = [], y: number[] = [], z: number[] = [];
  for (const threads of THREADS) {
    const run = async (graph: typeof g, outs: Record<string, unknown>) => {
      const s = await Session.fromGraph(graph, { outputs: outs as typeof outputs }, { threads });
      const r = await s.run(feeds);
      await s.release();
      return { y: r.y!.data as Float32Array, z: r.z!.data as Float32Array };
    };
    const f32 = await run(g, outputs), qa = await run(a.graph, a.outputs), qb = await run(b.graph, b.outputs);
    same.push(relError(qa.y, qb.y));
    y.push(relError(qa.y, f32.y));
    z.push(relError(qa.z, f32.z));
  }
  line('quantize: MatMulInteger vs DynamicQuantizeMatMul (y)', same);
  line('quantize: int8 vs float32 (y)', y);
  line('quantize: int8 vs float32 (z)', z);
}

if (on('export')) {
  // test/export.test.ts: the exported file in onnxruntime-node against the library and float64; int8 vs float32;
  // transformers.js against the same.
  const INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'];
  const runOrt = async (file: string, feeds: Record<string, Tensor>, threads: number) => {
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads });
    const input: Record<string, ort.Tensor> = {};
    for (const n of session.inputNames) input[n] = new ort.Tensor('int64', feeds[n]!.data as BigInt64Array, feeds[n]!.dims);
    const out = await session.run(input);
    await session.release();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  };
  const tmp = mkdtempSync(join(tmpdir(), 'measure-export-'));
  try {
    const cases: [string, string[]][] = [['v3-buckets-seqcls', ['logits']], ['v3-buckets-mlm', ['logits']], ['v3-buckets-qa', ['start_logits', 'end_logits']],
      ['v1-clamp-abs-base', ['last_hidden_state']], ['v3-buckets-mc', ['logits']]];
    let worstLib = [0, 0], worstRef = [0, 0];
    for (const [name, outs] of cases) {
      const file = join(tmp, `${name}.onnx`);
      await exportModel({ model: join(FIXTURES, name), out: file });
      const ref = expected(join(FIXTURES, name));
      const feeds: Record<string, Tensor> = {};
      for (const k of INPUTS) { const t = ref.get(`input.${k}`); if (t) feeds[k] = t; }
      const lib: number[] = [], f64: number[] = [];
      for (const threads of THREADS) {
        const got = await runOrt(file, feeds, threads);
        const m = await loadModel(join(FIXTURES, name), 'auto', { threads });
        const l = await m(fixtureInputs(ref));
        await m.dispose();
        lib.push(Math.max(...outs.map((o) => relError(got[o]!, l[camel(o)]!.data))));
        f64.push(Math.max(...outs.map((o) => relError(got[o]!, toFloat64(ref.get(`f64.${o}`)!)))));
      }
      line(`export ${name}: onnxruntime-node vs library`, lib);
      line(`export ${name}: onnxruntime-node vs float64`, f64);
      worstLib = worstLib.map((w, i) => Math.max(w, lib[i]!));
      worstRef = worstRef.map((w, i) => Math.max(w, f64[i]!));
    }
    line('export: worst vs library', worstLib);
    line('export: worst vs float64', worstRef);

    const name = 'v3-buckets-seqcls';
    const dir = join(tmp, 'tjs', name);
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    writeFileSync(join(dir, 'config.json'), readFileSync(join(FIXTURES, name, 'config.json')));
    await exportModel({ model: join(FIXTURES, name), out: join(dir, 'onnx/model.onnx') });
    await exportModel({ model: join(FIXTURES, name), out: join(dir, 'onnx/model_int8.onnx'), quantize: 'int8' });
    const ref = expected(join(FIXTURES, name));
    const feeds: Record<string, Tensor> = { input_ids: ref.get('input.input_ids')!, attention_mask: ref.get('input.attention_mask')! };
    const tjs = await transformersJsLogits(join(tmp, 'tjs'), name, feeds);
    const rows: Record<string, number[]> = { 'tjs vs library': [], 'tjs vs ort fp32': [], 'tjs vs float64': [], 'tjs int8 vs ort int8': [], 'ort int8 vs ort fp32': [] };
    for (const threads of THREADS) {
      const fp32 = (await runOrt(join(dir, 'onnx/model.onnx'), feeds, threads)).logits!;
      const int8 = (await runOrt(join(dir, 'onnx/model_int8.onnx'), feeds, threads)).logits!;
      const m = await loadModel(join(FIXTURES, name), 'auto', { threads });
      const lib = (await m(fixtureInputs(ref))).logits!.data;
      await m.dispose();
      rows['tjs vs library']!.push(relError(tjs.fp32!, lib));
      rows['tjs vs ort fp32']!.push(relError(tjs.fp32!, fp32));
      rows['tjs vs float64']!.push(relError(tjs.fp32!, toFloat64(ref.get('f64.logits')!)));
      rows['tjs int8 vs ort int8']!.push(relError(tjs.int8!, int8));
      rows['ort int8 vs ort fp32']!.push(relError(int8, fp32));
    }
    for (const [k, v] of Object.entries(rows)) line(`export ${name}: ${k}`, v);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
