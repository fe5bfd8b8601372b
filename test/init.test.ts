// `deberta init` and initWeights: the parameter names and shapes of every fixture checkpoint saved by
// transformers, transformers' initialisation statistics, repeatability, and a checkpoint that loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { headFromConfig, loadModel } from '../src/models/auto.ts';
import { parseDebertaConfig, readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { architectureFor, initWeights, paramShapes } from '../src/models/deberta/init.ts';
import { floatToHalf } from '../src/tensor.ts';

const models = join(import.meta.dirname, 'fixtures', 'models');
const seqclsConfig = join(import.meta.dirname, 'fixtures', 'training', 'v3-buckets-seqcls-adamw', 'config.json');

test('paramShapes gives exactly the tensors transformers saved, for every fixture checkpoint', async () => {
  let checked = 0;
  for (const name of readdirSync(models).sort()) {
    const dir = join(models, name);
    const { tensors, files } = await loadCheckpointTensors(dir);
    if (!files[0]!.endsWith('.safetensors')) continue; // torch .bin files also carry the tied decoder
    const config = readDebertaConfig(dir);
    const shapes = paramShapes(config, headFromConfig(config));
    assert.deepEqual([...shapes.keys()].sort(), [...tensors.keys()].sort(), name);
    for (const [k, dims] of shapes) assert.deepEqual(dims, tensors.get(k)!.dims, `${name} ${k}`);
    checked++;
  }
  assert.ok(checked >= 25, `checked ${checked}`);
});

test('initWeights: normal(0, initializer_range), zero biases, unit LayerNorm, zero padding row, repeatable', () => {
  const config = parseDebertaConfig({ ...JSON.parse(readFileSync(seqclsConfig, 'utf8')), vocab_size: 2000, initializer_range: 0.05 }, 'cfg');
  const w = initWeights(config, 'sequence-classification', 7);
  const emb = w.get('deberta.embeddings.word_embeddings.weight')!.data as Float32Array;
  assert.ok(emb.slice(0, 32).every((x) => x === 0), 'pad_token_id 0 row is zero');
  let s = 0, s2 = 0;
  for (let i = 32; i < emb.length; i++) { s += emb[i]!; s2 += emb[i]! * emb[i]!; }
  const n = emb.length - 32, mean = s / n, std = Math.sqrt(s2 / n - mean * mean);
  // Over seeds 1-10, 63,968 draws each: |mean| at most 2.6e-4 and |std - 0.05| at most 3.6e-4 (seed 7: 1.4e-4, 1.3e-4).
  assert.ok(Math.abs(mean) < 7e-4, `mean ${mean}`);
  assert.ok(Math.abs(std - 0.05) < 0.001, `std ${std}`);
  assert.ok((w.get('deberta.encoder.layer.1.output.LayerNorm.weight')!.data as Float32Array).every((x) => x === 1));
  assert.ok((w.get('deberta.encoder.layer.1.output.LayerNorm.bias')!.data as Float32Array).every((x) => x === 0));
  assert.ok((w.get('classifier.bias')!.data as Float32Array).every((x) => x === 0));
  assert.ok((w.get('pooler.dense.weight')!.data as Float32Array).some((x) => x !== 0));
  const again = initWeights(config, 'sequence-classification', 7);
  const other = initWeights(config, 'sequence-classification', 8);
  assert.deepEqual(again.get('classifier.weight')!.data, w.get('classifier.weight')!.data);
  assert.notDeepEqual(other.get('classifier.weight')!.data, w.get('classifier.weight')!.data);
  assert.equal(architectureFor(config, 'token-classification'), 'DebertaV2ForTokenClassification');
  assert.throws(() => architectureFor(parseDebertaConfig({ model_type: 'deberta' }, 'c'), 'multiple-choice'), /no DebertaForMultipleChoice/);
});

test('deberta init writes a checkpoint that loads with the chosen head', async () => {
  const out = mkdtempSync(join(tmpdir(), 'deberta-init-'));
  try {
    const dir = join(out, 'model');
    const r = initCheckpoint({ config: seqclsConfig, out: dir, seed: 1, head: 'token-classification' });
    assert.equal(r.head, 'token-classification');
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg.architectures, ['DebertaV2ForTokenClassification']);
    assert.equal(cfg.dtype, 'float32');
    const st = readSafetensors(join(dir, 'model.safetensors'));
    assert.equal(st.metadata.format, 'pt');
    assert.equal(st.tensors.get('classifier.weight')!.dtype, 'float32');
    const model = await loadModel(dir, 'auto', { threads: 1 });
    const out1 = await model({ inputIds: [[1, 5, 9, 2]] });
    assert.deepEqual(out1.logits!.dims, [1, 4, 3]);
    assert.ok(out1.logits!.data.every(Number.isFinite));
    await model.dispose();
    assert.throws(() => initCheckpoint({ config: seqclsConfig, out: dir }), /already holds model.safetensors/);
    assert.throws(() => initCheckpoint({ config: join(out, 'nope.json'), out: dir }), /nope.json: cannot read the config/);
    assert.equal(r.parameters, [...paramShapes(r.config, 'token-classification').values()].reduce((a, d) => a + d.reduce((x, y) => x * y, 1), 0));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('deberta init --dtype float16 writes the float32 initialisation rounded to float16, and it loads', async () => {
  const out = mkdtempSync(join(tmpdir(), 'deberta-init-f16-'));
  try {
    const f32 = join(out, 'f32');
    const f16 = join(out, 'f16');
    initCheckpoint({ config: seqclsConfig, out: f32, seed: 3 });
    const r = initCheckpoint({ config: seqclsConfig, out: f16, seed: 3, dtype: 'float16' });
    const cfg = JSON.parse(readFileSync(join(f16, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.dtype, 'float16');
    const a = readSafetensors(join(f32, 'model.safetensors')).tensors;
    const b = readSafetensors(join(f16, 'model.safetensors')).tensors;
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    const name = 'deberta.encoder.layer.0.attention.self.query_proj.weight';
    assert.equal(b.get(name)!.dtype, 'float16');
    const want = a.get(name)!.data as Float32Array;
    const got = b.get(name)!.data as Uint16Array;
    for (const i of [0, 1, 77, want.length - 1]) assert.equal(got[i], floatToHalf(want[i]!), `element ${i}`);
    assert.equal(r.parameters, [...a.values()].reduce((s, t) => s + t.data.length, 0));
    const model = await loadModel(f16, 'auto', { threads: 1 });
    const out1 = await model({ inputIds: [[1, 5, 9, 2]] });
    assert.deepEqual(out1.logits!.dims, [1, 3]);
    assert.ok(out1.logits!.data.every(Number.isFinite));
    await model.dispose();
    assert.throws(() => initCheckpoint({ config: seqclsConfig, out: join(out, 'x'), dtype: 'int8' as 'float16' }), /--dtype: 'int8' is not one of float32, float16, bfloat16/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
