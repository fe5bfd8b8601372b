// Every fixture checkpoint against transformers' float64 outputs (test/fixtures/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { buildModelGraph, loadModel, camel } from '../src/models/auto.ts';
import { loadDebertaConfig } from '../src/models/deberta/config.ts';
import { toFloat64, type Tensor } from '../src/tensor.ts';
import { assertClose, relError } from './helpers/compare.ts';
import { FIXTURE_MODELS, fixtureInputs } from './helpers/fixture-models.ts';

const root = FIXTURE_MODELS;
/**
 * Every output of every fixture, float32 against transformers' float64: measured 3.8e-7 to 2.5e-6 (worst
 * v2-conv-seqcls, 2.48e-6; the same at 1 and 2 threads; `scripts/measure-tolerances.ts forward`). 2.4× the worst.
 */
const TOL = 6e-6;

for (const name of readdirSync(root).sort()) {
  test(`forward ${name} matches transformers (float64 reference)`, async (t) => {
    const dir = join(root, name);
    const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
    const model = await loadModel(dir, 'auto', { hiddenStates: true, attentions: true, threads: 1 });
    const out = await model(fixtureInputs(tensors));
    let compared = 0, worst = 0;
    for (const [key, ref] of tensors) {
      if (!key.startsWith('f64.') || key === 'f64.train_loss') continue;
      const ours = out[camel(key.slice(4))];
      assert.ok(ours, `${name}: no output for ${key}`);
      assert.deepEqual(ours.dims, ref.dims, `${name}: dims of ${key}`);
      assertClose(ours.data, toFloat64(ref), TOL, `${name} ${key}`);
      worst = Math.max(worst, relError(ours.data, toFloat64(ref)));
      compared++;
    }
    assert.ok(compared > 0);
    t.diagnostic(`${compared} outputs, worst error ${worst.toExponential(2)}`);
    await model.dispose();
  });
}

// Pooling heads without hidden states or attentions asked for compute only the first token in the last
// layer (src/models/deberta/modeling.ts, `firstTokenOnly`): the logits must not change.
for (const name of readdirSync(root).sort().filter((n) => /seqcls|-mc$/.test(n))) {
  test(`forward ${name}, logits only (last layer on the first token) matches transformers`, async (t) => {
    const dir = join(root, name);
    const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
    const model = await loadModel(dir, 'auto', { threads: 1 });
    const out = await model(fixtureInputs(tensors));
    assert.deepEqual(Object.keys(out), ['logits']);
    const ref = tensors.get('f64.logits')!;
    assert.deepEqual(out.logits!.dims, ref.dims);
    // Measured 3.8e-7 to 2.2e-6 (1 and 2 threads).
    assertClose(out.logits!.data, toFloat64(ref), TOL, `${name} logits`);
    t.diagnostic(`logits error ${relError(out.logits!.data, toFloat64(ref)).toExponential(2)}`);
    await model.dispose();
  });
}

// relativeShift: relative attention lined up by shifting rows at every length (no [B, heads, n, n] index,
// no GatherElements), for GPUs. These fixtures' 40 tokens exceed their span (16 buckets): the distances past
// it share clamped rows. Measured 4.8e-7 to 1.6e-6 over every fixture.
for (const name of ['v1-base-mlm', 'v2-conv-seqcls', 'v2-unshared-c2p-base', 'v3-buckets-tokcls', 'v3-buckets-mc', 'v3-buckets-qa']) {
  test(`forward ${name} with relativeShift matches transformers, without GatherElements`, async () => {
    const dir = join(root, name);
    const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
    const config = await loadDebertaConfig(dir);
    const weights = readSafetensors(join(dir, 'model.safetensors')).tensors as Map<string, Tensor>;
    const ops = (relativeShift: boolean) => buildModelGraph(config, weights, 'auto', { relativeShift }).graph.nodes.map((n) => n.type);
    assert.ok(ops(false).includes('GatherElements'), `${name}: the index layout gathers`);
    assert.ok(!ops(true).includes('GatherElements'), `${name}: the shifted layout does not`);
    const model = await loadModel(dir, 'auto', { hiddenStates: true, threads: 1, relativeShift: true });
    try {
      const out = await model(fixtureInputs(tensors));
      let compared = 0;
      for (const [key, ref] of tensors) {
        if (!key.startsWith('f64.') || key === 'f64.train_loss' || key.startsWith('f64.attentions')) continue;
        assertClose(out[camel(key.slice(4))]!.data, toFloat64(ref), TOL, `${name} ${key}`);
        compared++;
      }
      assert.ok(compared >= 1);
    } finally {
      await model.dispose();
    }
  });
}
