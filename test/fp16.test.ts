// Half precision (dtype 'fp16'): float16 weights and activations, float32 outputs. Meant for GPUs whose
// WebGPU adapter has shader-f16; ONNX Runtime's CPU provider runs the same graph, so it is checked here
// against the float64 references on every machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { buildModelGraph, camel, loadModel } from '../src/models/auto.ts';
import { loadDebertaConfig } from '../src/models/deberta/config.ts';
import { toFloat64, type Tensor } from '../src/tensor.ts';
import { relError } from './helpers/compare.ts';
import { FIXTURE_MODELS, fixtureInputs } from './helpers/fixture-models.ts';

/** Values at real tokens only: at padding, float16's mask bias (-32768, where float16 values lie 32 apart) absorbs scores up to 16 only, float32's all of them. */
function realTokens(values: ArrayLike<number>, dims: readonly number[], mask: BigInt64Array | undefined, tokens: number): number[] {
  const per = values.length / (mask?.length ?? 1);
  const perToken = mask !== undefined && dims.length >= 2 && dims[dims.length - (dims.length >= 3 ? 2 : 1)] === tokens && per >= 1;
  return Array.from(values).filter((_, i) => !perToken || mask![Math.floor(i / per)] !== 0n);
}

// One per family and head kind. Measured (max |ours − ref| / max(1, max |ref|) at real tokens): 4.4e-3
// v1-base-seqcls, 7.4e-3 v2-conv-mlm, 2.9e-3 v3-buckets-tokcls, 2.4e-3 v3-buckets-mc, 2.9e-3 v3-buckets-qa;
// float16 keeps 11 bits, so 2⁻¹¹ ≈ 4.9e-4 per rounding. 1.5e-2 is 2× the largest.
const CHECKED = ['v1-base-seqcls', 'v2-conv-mlm', 'v3-buckets-tokcls', 'v3-buckets-mc', 'v3-buckets-qa'];
for (const name of CHECKED) {
  test(`fp16: ${name} matches transformers (float64 reference) to half precision`, async () => {
    const dir = join(FIXTURE_MODELS, name);
    const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
    const inputs = fixtureInputs(tensors);
    const model = await loadModel(dir, 'auto', { threads: 1, dtype: 'fp16' });
    try {
      const out = await model(inputs);
      const mask = tensors.get('input.attention_mask')?.data as BigInt64Array | undefined;
      const tokens = tensors.get('input.input_ids')!.dims.at(-1)!;
      let compared = 0;
      for (const [key, ref] of tensors) {
        if (!key.startsWith('f64.') || key === 'f64.train_loss' || key.startsWith('f64.hidden_states') || key.startsWith('f64.attentions')) continue;
        const ours = out[camel(key.slice(4))];
        assert.ok(ours, `${name}: no output for ${key}`);
        assert.ok(ours.data instanceof Float32Array, `${name} ${key}: outputs come back as float32`);
        assert.deepEqual(ours.dims, ref.dims, `${name}: dims of ${key}`);
        const err = relError(realTokens(ours.data, ref.dims, mask, tokens), realTokens(toFloat64(ref), ref.dims, mask, tokens));
        assert.ok(err <= 1.5e-2, `${name} ${key}: error ${err.toExponential(2)} > 1.5e-2`);
        // Not float32 in disguise: float32 lands within 1e-5 of these references.
        assert.ok(err > 1e-5, `${name} ${key}: error ${err.toExponential(2)} is float32's, not float16's`);
        compared++;
      }
      assert.ok(compared >= 1, `${name}: compared no outputs`);
    } finally {
      await model.dispose();
    }
  });
}

test('fp16: every weight and activation is float16, the outputs float32; int8 and fp16 exclude each other', async () => {
  const dir = join(FIXTURE_MODELS, 'v3-buckets-seqcls');
  const config = await loadDebertaConfig(dir);
  const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
  const { graph, outputs } = buildModelGraph(config, tensors as Map<string, Tensor>, 'auto', { dtype: 'float16' });
  const params = [...graph.params.values()];
  assert.ok(params.length > 20);
  assert.deepEqual([...new Set(params.map((p) => p.dtype))], ['float16']);
  const matmuls = graph.nodes.filter((n) => n.type === 'MatMul');
  assert.ok(matmuls.length > 0);
  for (const n of matmuls) assert.equal(n.outputs[0]!.dtype, 'float16', 'MatMul in float16');
  assert.equal(outputs.logits!.dtype, 'float32');
  await assert.rejects(loadModel(dir, 'auto', { dtype: 'fp16', quantize: 'int8' }), { name: 'TypeError', message: /dtype 'fp16' and quantize 'int8' contradict each other/ });
});
