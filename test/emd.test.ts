// The Enhanced Mask Decoder against Microsoft's own DeBERTa code (test/fixtures/emd, float64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { buildProgram } from '../src/cli/main.ts';
import { loadModel } from '../src/models/auto.ts';
import { toFloat64 } from '../src/tensor.ts';
import { relError } from './helpers/compare.ts';

const root = join(import.meta.dirname, 'fixtures', 'emd');

/** Rows of [B*n, V] logits at the flattened masked positions. */
function atMasked(data: Float32Array, vocab: number, positions: BigInt64Array): Float32Array {
  const out = new Float32Array(positions.length * vocab);
  positions.forEach((p, i) => out.set(data.subarray(Number(p) * vocab, (Number(p) + 1) * vocab), i * vocab));
  return out;
}

for (const name of ['emd-v1', 'emd-v3']) {
  test(`${name}: deberta forward decodes through the EMD and matches the authors' logits`, async (t) => {
    const dir = join(root, name);
    const ref = readSafetensors(join(dir, 'expected.safetensors')).tensors;
    const out = join(mkdtempSync(join(tmpdir(), 'emd-')), 'out.safetensors');
    await buildProgram().parseAsync(['node', 'deberta', 'forward', '--model', dir, '--inputs', join(dir, 'expected.safetensors'), '--out', out, '--threads', '1']);
    const logits = readSafetensors(out).tensors.get('logits')!;
    assert.deepEqual(logits.dims, [3, 40, 128]);
    const masked = atMasked(logits.data as Float32Array, 128, ref.get('masked_positions')!.data as BigInt64Array);
    const err = relError(masked, toFloat64(ref.get('f64.emd_logits')!));
    // Measured 1.50e-6 (emd-v1) and 9.97e-7 (emd-v3), the same at 1 and 2 threads.
    assert.ok(err <= 4e-6, `emd logits error ${err}`);
    // Without the decoder the head lands far away: the decoder is what makes the match. Measured 0.79 (emd-v1)
    // and 0.62 (emd-v3) from the plain head's reference; a third of the smaller.
    const plainGap = relError(masked, toFloat64(ref.get('f64.no_emd_logits')!));
    assert.ok(plainGap > 0.2, `EMD logits only ${plainGap} from the plain head's`);
    t.diagnostic(`EMD logits error ${err.toExponential(2)}; ${plainGap.toFixed(2)} from the plain head's reference`);
  });

  test(`${name}: emd: false gives the plain head's logits`, async () => {
    const dir = join(root, name);
    const ref = readSafetensors(join(dir, 'expected.safetensors')).tensors;
    const ids = ref.get('input.input_ids')!;
    const model = await loadModel(dir, 'auto', { emd: false, threads: 1 });
    const res = await model({ inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: ref.get('input.attention_mask')!.data as BigInt64Array, dims: ids.dims } });
    const masked = atMasked(res.logits!.data, 128, ref.get('masked_positions')!.data as BigInt64Array);
    // Measured 1.65e-6 (emd-v1) and 8.81e-7 (emd-v3), the same at 1 and 2 threads.
    const err = relError(masked, toFloat64(ref.get('f64.no_emd_logits')!));
    assert.ok(err <= 4e-6, `plain head logits error ${err}`);
    await model.dispose();
  });
}
