// Pooling heads skip padding on the CPU (BuildOptions.skipPadding): the per-token work runs on the tokens
// the first token depends on only. The logits must be those of the padded computation, for any padding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { readSafetensors } from '../src/io/safetensors.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { loadModel, type ModelInputs } from '../src/models/auto.ts';
import { buildModelGraph } from '../src/models/create.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { toFloat64 } from '../src/tensor.ts';
import { assertClose, F32_FLOOR, relError } from './helpers/compare.ts';
import { FIXTURE_MODELS, fixtureInputs } from './helpers/fixture-models.ts';

/** The fixture's rows with their padding moved to the front on odd rows, and the last row all padding. */
function repadded(inputs: ModelInputs): ModelInputs {
  const ids = inputs.inputIds as { data: BigInt64Array; dims: number[] };
  const mask = inputs.attentionMask as { data: BigInt64Array; dims: number[] };
  const n = ids.dims[ids.dims.length - 1]!;
  const rows = ids.data.length / n;
  const newIds = ids.data.slice(), newMask = mask.data.slice();
  for (let r = 1; r < rows; r += 2) {
    const len = mask.data.subarray(r * n, r * n + n).reduce((a, b) => a + Number(b), 0);
    for (let i = 0; i < n; i++) {
      const from = i - (n - len);
      newMask[r * n + i] = from >= 0 ? 1n : 0n;
      newIds[r * n + i] = from >= 0 ? ids.data[r * n + from]! : 0n;
    }
  }
  newMask.fill(0n, (rows - 1) * n);
  return { ...inputs, inputIds: { data: newIds, dims: ids.dims }, attentionMask: { data: newMask, dims: mask.dims } };
}

for (const name of ['v1-base-seqcls', 'v2-conv-seqcls', 'v3-buckets-seqcls', 'v3-buckets-mc']) {
  test(`${name}: skipping padding gives the padded computation's logits, for right, left and full padding`, async (t) => {
    const dir = join(FIXTURE_MODELS, name);
    const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
    const skipping = await loadModel(dir, 'auto', { threads: 1 });
    const padded = await loadModel(dir, 'auto', { threads: 1, skipPadding: false });
    const right = fixtureInputs(tensors);
    // The fixture's own inputs (right padding) against transformers' float64 logits.
    const ref = toFloat64(tensors.get('f64.logits')!);
    // 6e-6: the forward tests' bound (test/model-forward.test.ts).
    assertClose((await skipping(right)).logits!.data, ref, 6e-6, `${name} against transformers`);
    for (const [what, inputs] of [['right padding', right], ['left and full padding', repadded(right)]] as const) {
      const a = (await skipping(inputs)).logits!, b = (await padded(inputs)).logits!;
      assert.deepEqual(a.dims, b.dims);
      assertClose(a.data, b.data, F32_FLOOR, `${name}, ${what}`);
      t.diagnostic(`${what}: ${relError(a.data, b.data).toExponential(2)} from the padded computation`);
    }
    await skipping.dispose();
    await padded.dispose();
  });
}

// Any attention mask, holes in the middle of a row included: rows of random lengths, batch sizes and
// choices, each position real or padding at random (with all-real and all-padding rows among them).
for (const name of ['v2-conv-seqcls', 'v3-buckets-seqcls', 'v3-buckets-mc']) {
  test(`${name}: skipping padding equals the padded computation for random masks (property)`, async (t) => {
    const dir = join(FIXTURE_MODELS, name);
    const config = readDebertaConfig(dir);
    const choices = name.endsWith('-mc');
    const skipping = await loadModel(dir, 'auto', { threads: 1 });
    const padded = await loadModel(dir, 'auto', { threads: 1, skipPadding: false });
    const row = (n: number) => fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.boolean(), { minLength: n, maxLength: n }) },
      { weight: 1, arbitrary: fc.constantFrom(Array<boolean>(n).fill(true), Array<boolean>(n).fill(false)) },
    );
    const batch = fc.record({ rows: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 20 }) })
      .chain(({ rows, n }) => fc.record({
        n: fc.constant(n),
        mask: fc.array(row(n), { minLength: rows, maxLength: rows }),
        ids: fc.array(fc.integer({ min: 0, max: config.vocab_size - 1 }), { minLength: rows * n, maxLength: rows * n }),
      }));
    let worst = 0, holes = 0;
    await fc.assert(fc.asyncProperty(batch, async ({ n, mask, ids }) => {
      const rows = mask.length;
      // Multiple choice reads [batch, choices, n]: the rows as choices of one example.
      const dims = choices ? [1, rows, n] : [rows, n];
      const flat = mask.flat();
      if (mask.some((r) => r.some((real, i) => !real && r.slice(i + 1).some(Boolean)))) holes++;
      const inputs: ModelInputs = {
        inputIds: { data: BigInt64Array.from(ids, BigInt), dims },
        attentionMask: { data: BigInt64Array.from(flat, (real) => (real ? 1n : 0n)), dims },
      };
      const a = (await skipping(inputs)).logits!, b = (await padded(inputs)).logits!;
      assert.deepEqual(a.dims, b.dims);
      const err = relError(a.data, b.data);
      worst = Math.max(worst, err);
      assert.ok(err <= F32_FLOOR, `n ${n}, mask ${JSON.stringify(mask.map((r) => r.map(Number).join('')))}: ${err.toExponential(3)} from the padded computation`);
    }), { numRuns: 60, seed: 20261203 });
    assert.ok(holes > 10, `only ${holes} batches with padding between real tokens`);
    t.diagnostic(`60 random batches (${holes} with holes): at most ${worst.toExponential(2)} from the padded computation`);
    await skipping.dispose();
    await padded.dispose();
  });
}

test('only pooling heads pack their tokens, and only when asked', async () => {
  const opTypes = async (name: string, head: 'sequence-classification' | 'token-classification', skipPadding: boolean) => {
    const dir = join(FIXTURE_MODELS, name);
    const { graph } = buildModelGraph(readDebertaConfig(dir), (await loadCheckpointTensors(dir)).tensors, head, { skipPadding });
    return new Set(graph.nodes.map((n) => n.type));
  };
  assert.ok((await opTypes('v3-buckets-seqcls', 'sequence-classification', true)).has('NonZero'));
  assert.ok(!(await opTypes('v3-buckets-seqcls', 'sequence-classification', false)).has('NonZero'));
  // Every token's output is read: nothing to skip.
  assert.ok(!(await opTypes('v3-buckets-tokcls', 'token-classification', true)).has('NonZero'));
});
