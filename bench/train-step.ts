// Training step time at batch 8 x 128 for the DeBERTa-v3-xsmall shape, medians over timed steps:
//   fused  GradientModel.trainStep: loss, gradients, clipping and AdamW in one ONNX Runtime run, parameters and
//          moments updated in place (what the target is measured on);
//   split  computeGradients (forward + backward and the gradients' norm in ONNX Runtime), then applyUpdate
//          (clipping folded into one AdamW pass in TypeScript), as the trainers take a step;
//   repeated  GradientModel.trainSteps: the fused step for --per-run batches (default 8) in one run (an ONNX
//          Loop), so that parameters and moments come back to JavaScript once per run; a step is a run's
//          time divided by its steps (STEPS then counts runs).
// `both` alternates fused and split in one process (a ratio that the machine's load moves less; its peak RSS
// holds both sessions). Peak RSS is this process's; bench/training.ts runs each mode in a child process.
//
//   npm run bench:train-step -- [CONFIG] [STEPS] [--mode fused|split|repeated|both (default fused)] [--per-run 8] [--threads 2] [--batch 8x128] [--json]
import '../src/platform/node.ts';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDebertaConfig } from '../src/models/deberta/config.ts';
import { initWeights } from '../src/models/deberta/init.ts';
import { tensor } from '../src/tensor.ts';
import { AdamW, applyUpdate } from '../src/train/optim.ts';
import { Rng } from '../src/util/random.ts';
import { gradientModelFromTensors } from '../src/train/step.ts';
import { trainingFlops } from './training.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    mode: { type: 'string', default: 'fused' },
    threads: { type: 'string', default: '2' },
    batch: { type: 'string', default: '8x128' },
    'per-run': { type: 'string', default: '8' },
    steps: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const mode = args.mode!;
if (!['fused', 'split', 'repeated', 'both'].includes(mode)) throw new Error(`--mode: expected fused, split, repeated or both, got '${mode}'`);
const perRun = Number(args['per-run']);
if (!Number.isInteger(perRun) || perRun < 1) throw new Error(`--per-run: expected a positive integer, got '${args['per-run']}'`);
const file = positionals[0] ?? new URL('./peers/v3-xsmall-shape/config.json', import.meta.url).pathname;
const steps = Number(args.steps ?? positionals[1] ?? 10);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps: expected a positive integer, got '${args.steps ?? positionals[1]}'`);
const [B, N] = args.batch!.split('x').map(Number) as [number, number];
if (!(B! >= 1 && N! >= 2)) throw new Error(`--batch: '${args.batch}' is not BxN (e.g. 8x128)`);
const threads = Number(args.threads);

const config = parseDebertaConfig(JSON.parse(readFileSync(file, 'utf8')), file);
const w = initWeights(config, 'sequence-classification', 0);
let n = 0; for (const t of w.values()) n += t.data.length;
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const gm = await gradientModelFromTensors(config, w, 'sequence-classification', { threads, dropout: true });
const createMs = performance.now() - t0;
const opt = new AdamW(gm.params, { lr: 2e-5, weightDecay: 0.01, decay: 'no-bias-norm' });
const rng = new Rng(1);
const batch = () => ({
  inputIds: tensor('int64', [B, N], BigInt64Array.from({ length: B * N }, (_, i) => BigInt(i % N === 0 ? 1 : 5 + rng.int(config.vocab_size - 64)))),
  attentionMask: tensor('int64', [B, N], new BigInt64Array(B * N).fill(1n)),
  labels: tensor('int64', [B], BigInt64Array.from({ length: B }, (_, i) => BigInt(i % 2))),
});

type Mode = 'fused' | 'split' | 'repeated';
interface Times { step: number[]; gradients: number[]; update: number[]; cpu: number[] }
const times: Record<Mode, Times> = {
  fused: { step: [], gradients: [], update: [], cpu: [] }, split: { step: [], gradients: [], update: [], cpu: [] }, repeated: { step: [], gradients: [], update: [], cpu: [] },
};
const order: Mode[] = mode === 'both' ? ['fused', 'split'] : [mode as Mode];
const warmup = 2;
for (let s = 0; s < steps + warmup; s++) {
  for (const m of order) {
    if (m === 'repeated') {
      // One run of perRun steps; each of its steps counts as a run's time divided by perRun.
      const bs = Array.from({ length: perRun }, batch);
      const c0 = process.cpuUsage();
      const a = performance.now();
      const rs = await gm.trainSteps(bs, opt, 2e-5, 1);
      const e = performance.now();
      const c = process.cpuUsage(c0);
      if (s >= warmup) {
        const t = times.repeated;
        t.step.push((e - a) / perRun); t.gradients.push((e - a) / perRun); t.update.push(0); t.cpu.push((c.user + c.system) / 1000 / perRun);
      }
      process.stderr.write(`run ${s} repeated: ${perRun} steps, losses ${rs.map((r) => r.loss.toFixed(4)).join(' ')}, ${((e - a) / perRun).toFixed(0)} ms a step\n`);
      continue;
    }
    const b = batch();
    const c0 = process.cpuUsage();
    const a = performance.now();
    let loss: number, mid: number;
    if (m === 'fused') {
      loss = (await gm.trainStep(b, opt, 2e-5, 1)).loss;
      mid = performance.now();
    } else {
      const r = await gm.computeGradients(b);
      mid = performance.now();
      applyUpdate(opt, r.grads, 2e-5, 1, r.gradNorm); // as the trainers call it for one micro-batch
      loss = r.loss;
    }
    const e = performance.now();
    const c = process.cpuUsage(c0);
    if (s >= warmup) {
      const t = times[m];
      t.step.push(e - a); t.gradients.push(mid - a); t.update.push(e - mid); t.cpu.push((c.user + c.system) / 1000);
    }
    process.stderr.write(`step ${s} ${m}: loss ${loss.toFixed(4)}, ${(e - a).toFixed(0)} ms${m === 'split' ? ` (gradients ${(mid - a).toFixed(0)}, update ${(e - mid).toFixed(0)})` : ''}\n`);
  }
}
await gm.dispose();

const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const gflop = trainingFlops(config, B, N) / 1e9;
const summary = (m: Mode) => {
  const t = times[m];
  if (!t.step.length) return undefined;
  const stepMs = med(t.step);
  return {
    medianStepMs: Math.round(stepMs), minStepMs: Math.round(Math.min(...t.step)),
    ...(m === 'split' ? { medianGradientsMs: Math.round(med(t.gradients)), medianUpdateMs: Math.round(med(t.update)) } : {}),
    medianCpuMsPerStep: Math.round(med(t.cpu)), gflops: Math.round(gflop / (stepMs / 1e3)),
  };
};
const result = {
  shape: `v3-xsmall shape (${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocab ${config.vocab_size}), ${(n / 1e6).toFixed(1)}M parameters`,
  batch: `${B} x ${N}`, threads, steps, gflopPerStep: Number(gflop.toFixed(1)), createMs: Math.round(createMs),
  fused: summary('fused'), split: summary('split'), repeated: summary('repeated'), ...(mode === 'repeated' ? { stepsPerRun: perRun } : {}),
  ...(mode === 'both' ? { fusedOverSplit: Number((med(times.fused.step) / med(times.split.step)).toFixed(3)) } : {}),
  peakRssMiB: Math.round(peakRssBytes() / 2 ** 20), rssBeforeModelMiB: Math.round(rssBefore / 2 ** 20), load: loadavg().map((x) => Number(x.toFixed(2))),
};
console.log(args.json ? JSON.stringify(result) : JSON.stringify(result, null, 1));

/** The process's peak resident set (VmHWM on Linux; Node's own maximum elsewhere). */
function peakRssBytes(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS * 1024;
}
