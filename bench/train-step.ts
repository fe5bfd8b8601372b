// Training step time at batch 8 x 128 for the DeBERTa-v3-xsmall shape: gradients (forward + backward
// in ONNX Runtime) and the optimizer update (clipping + AdamW in TypeScript), medians over timed steps.
import '../src/platform/node.ts';
import { readFileSync } from 'node:fs';
import { parseDebertaConfig } from '../src/models/deberta/config.ts';
import { initWeights } from '../src/models/deberta/init.ts';
import { tensor } from '../src/tensor.ts';
import { AdamW, applyUpdate } from '../src/train/optim.ts';
import { Rng } from '../src/util/random.ts';
import { gradientModelFromTensors } from '../src/train/step.ts';
import { peakRss } from '../src/train/trainer.ts';

const file = process.argv[2] ?? new URL('./peers/v3-xsmall-shape/config.json', import.meta.url).pathname;
const steps = Number(process.argv[3] ?? 10);
const config = parseDebertaConfig(JSON.parse(readFileSync(file, 'utf8')), file);
const [B, N] = [8, 128];
const w = initWeights(config, 'sequence-classification', 0);
let n = 0; for (const t of w.values()) n += t.data.length;
const rss0 = peakRss();
const gm = await gradientModelFromTensors(config, w, 'sequence-classification', { threads: 2, dropout: true });
const opt = new AdamW(gm.params, { lr: 2e-5, weightDecay: 0.01, decay: 'no-bias-norm' });
const rng = new Rng(1);
const batch = () => ({
  inputIds: tensor('int64', [B, N], BigInt64Array.from({ length: B * N }, (_, i) => BigInt(i % N === 0 ? 1 : 5 + rng.int(8000)))),
  attentionMask: tensor('int64', [B, N], new BigInt64Array(B * N).fill(1n)),
  labels: tensor('int64', [B], BigInt64Array.from({ length: B }, (_, i) => BigInt(i % 2))),
});
const grad: number[] = [], upd: number[] = [], cpu: number[] = [];
for (let s = 0; s < steps + 2; s++) {
  const b = batch();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await gm.computeGradients(b);
  const t1 = performance.now();
  applyUpdate(opt, r.grads, 2e-5, 1);
  const t2 = performance.now();
  const c = process.cpuUsage(c0);
  if (s >= 2) { grad.push(t1 - t0); upd.push(t2 - t1); cpu.push((c.user + c.system) / 1000); }
  process.stderr.write(`step ${s}: loss ${r.loss.toFixed(4)} gradients ${(t1 - t0).toFixed(0)} ms, update ${(t2 - t1).toFixed(0)} ms\n`);
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(JSON.stringify({
  shape: `v3-xsmall (${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocab ${config.vocab_size}), ${(n / 1e6).toFixed(1)}M parameters`,
  batch: `${B} x ${N}`, steps, medianGradientsMs: Math.round(med(grad)), medianUpdateMs: Math.round(med(upd)),
  medianStepMs: Math.round(med(grad.map((g, i) => g + upd[i]!))), tokensPerSecond: Math.round(B * N / (med(grad.map((g, i) => g + upd[i]!)) / 1000)),
  medianCpuMsPerStep: Math.round(med(cpu)), peakRssMiB: Math.round(peakRss() / 2 ** 20), rssBeforeModelMiB: Math.round(rss0 / 2 ** 20), load: (await import('node:os')).loadavg(),
}));
await gm.dispose();
