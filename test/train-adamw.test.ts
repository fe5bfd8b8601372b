// The recorded torch run (test/fixtures/training/v3-buckets-seqcls-adamw): five torch.optim.AdamW updates
// (lr 1e-3, betas 0.9/0.999, eps 1e-6, weight decay 0.01 on every parameter, clipping at 1.0) in float64 on
// the v3-buckets sequence classifier. Our gradients + clipping + AdamW must give the same five losses and
// the same final parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { toFloat64 } from '../src/tensor.ts';
import { AdamW, applyUpdate } from '../src/train/optim.ts';
import { gradientModelFromTensors } from '../src/train/step.ts';

const dir = join(import.meta.dirname, 'fixtures', 'training', 'v3-buckets-seqcls-adamw');

interface Settings { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_grad_norm: number; steps: number }

async function replay(dtype: 'float32' | 'float64') {
  const settings = JSON.parse(readFileSync(join(dir, 'trajectory.json'), 'utf8')) as Settings;
  const traj = readSafetensors(join(dir, 'trajectory.safetensors')).tensors;
  const start = readSafetensors(join(dir, 'model.safetensors')).tensors;
  const gm = await gradientModelFromTensors(readDebertaConfig(dir), start, 'sequence-classification', { dtype, threads: 1 });
  try {
    const opt = new AdamW(gm.params, { lr: settings.lr, betas: settings.betas, eps: settings.eps, weightDecay: settings.weight_decay, decay: 'all' });
    const losses: number[] = [];
    for (let k = 0; k < settings.steps; k++) {
      const at = (n: string) => traj.get(`step${k}.${n}`)!;
      const r = await gm.computeGradients({ inputIds: at('input_ids'), attentionMask: at('attention_mask'), labels: at('labels') });
      losses.push(r.loss);
      applyUpdate(opt, r.grads, settings.lr, settings.clip_grad_norm);
    }
    // Relative L2 error of every final parameter.
    const errors = new Map<string, number>();
    for (const [name, p] of gm.params) {
      const ref = toFloat64(traj.get(`final.${name}`)!);
      const ours = toFloat64(p);
      let d = 0, n = 0;
      for (let i = 0; i < ref.length; i++) { d += (ours[i]! - ref[i]!) ** 2; n += ref[i]! ** 2; }
      errors.set(name, Math.sqrt(d) / Math.sqrt(n));
    }
    const refLosses = Array.from(toFloat64(traj.get('losses')!));
    return { losses, refLosses, errors, count: gm.params.size, finals: [...traj.keys()].filter((k) => k.startsWith('final.')).length };
  } finally {
    await gm.dispose();
  }
}

/**
 * Measured (1 and 2 threads alike): float64 worst loss 1.37e-7 and worst parameter 1.26e-7 (GELU's Erf runs in
 * float32); float32 worst loss 6.14e-7 and worst parameter 8.30e-7. About 2.5× the larger of each pair.
 */
const TOL = { float64: 3.5e-7, float32: 2e-6 };

for (const dtype of ['float64', 'float32'] as const) {
  test(`AdamW trajectory of the torch fixture, in ${dtype}: five losses and every final parameter within ${TOL[dtype]}`, async () => {
    const r = await replay(dtype);
    assert.equal(r.count, r.finals, 'every parameter of the fixture is trained');
    r.losses.forEach((l, k) => {
      const rel = Math.abs(l - r.refLosses[k]!) / Math.abs(r.refLosses[k]!);
      assert.ok(rel <= TOL[dtype], `step ${k}: loss ${l} vs ${r.refLosses[k]} (relative error ${rel.toExponential(2)})`);
    });
    const worst = [...r.errors].sort((a, b) => b[1] - a[1])[0]!;
    process.stderr.write(`${dtype}: worst loss error ${Math.max(...r.losses.map((l, k) => Math.abs(l - r.refLosses[k]!) / Math.abs(r.refLosses[k]!))).toExponential(2)}, ` +
      `worst parameter ${worst[0]} ${worst[1].toExponential(2)}\n`);
    for (const [name, err] of r.errors) assert.ok(err <= TOL[dtype], `${name}: relative L2 error ${err.toExponential(2)}`);
  });
}
