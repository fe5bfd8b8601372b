// Pooling heads skip padding on the CPU (BuildOptions.skipPadding): the per-token work runs on the tokens
// the first token depends on only. The logits must be those of the padded computation, for any padding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
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
