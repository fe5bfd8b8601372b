// Loading checkpoints: half-precision weights, and errors that name the file and the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { loadModel, AutoConfig, AutoModel, AutoModelForSequenceClassification, DebertaForSequenceClassification, DebertaModel,
  DebertaV2ForMaskedLM, DebertaV2ForSequenceClassification } from '../src/models/auto.ts';
import { AutoTokenizer, DebertaTokenizer, DebertaV2Tokenizer } from '../src/tokenizers/index.ts';
import { floatToBf16, floatToHalf, tensor, toFloat32, toFloat64, type Tensor } from '../src/tensor.ts';
import { relError } from './helpers/compare.ts';
import { setSessionDefaults } from '../src/runtime/session.ts';
import { getOrt } from '../src/runtime/ort.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'models', 'v3-buckets-seqcls');

/** A copy of the fixture whose weights went through `edit`. */
function variant(edit: (w: Map<string, Tensor>) => void, editConfig?: (c: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-load-'));
  cpSync(fixture, dir, { recursive: true });
  const weights = readSafetensors(join(fixture, 'model.safetensors')).tensors;
  edit(weights);
  writeSafetensors(join(dir, 'model.safetensors'), weights);
  if (editConfig) {
    const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    editConfig(c);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  }
  return dir;
}

async function logitsError(dir: string): Promise<number> {
  const ref = readSafetensors(join(fixture, 'expected.safetensors')).tensors;
  const ids = ref.get('input.input_ids')!, mask = ref.get('input.attention_mask')!;
  const model = await loadModel(dir, 'auto', { threads: 1 });
  const out = await model({ inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: mask.data as BigInt64Array, dims: mask.dims } });
  await model.dispose();
  return relError(out.logits!.data, toFloat64(ref.get('f64.logits')!));
}

const convert = (to: 'float16' | 'bfloat16') => (w: Map<string, Tensor>) => {
  for (const [k, t] of w) {
    const f = toFloat32(t);
    w.set(k, tensor(to, t.dims, Uint16Array.from(f, to === 'float16' ? floatToHalf : floatToBf16)));
  }
};

test('F16 weights load and match the float64 reference to half precision', async () => {
  const err = await logitsError(variant(convert('float16')));
  // Measured 2.53e-3 (1 and 2 threads); float32 weights land 8.2e-7 away, so the lower bound shows the rounding happened.
  assert.ok(err < 5e-3 && err > 8e-4, `f16 logits error ${err}`);
});

test('BF16 weights load and match the float64 reference to bfloat16 precision', async () => {
  const err = await logitsError(variant(convert('bfloat16')));
  // Measured 2.36e-2 (1 and 2 threads): about 2.1× above, a third below.
  assert.ok(err < 5e-2 && err > 8e-3, `bf16 logits error ${err}`);
});

test('a missing weight is named with its file', async () => {
  const dir = variant((w) => w.delete('deberta.encoder.layer.1.attention.self.key_proj.weight'));
  await assert.rejects(loadModel(dir), (e: Error) =>
    e.message.includes(join(dir, 'model.safetensors')) && e.message.includes("missing weight 'deberta.encoder.layer.1.attention.self.key_proj.weight'"));
});

test('an unexpected weight is named with its file', async () => {
  const dir = variant((w) => w.set('deberta.encoder.layer.0.attention.self.extra.weight', tensor('float32', [2], new Float32Array(2))));
  await assert.rejects(loadModel(dir), (e: Error) =>
    e.message.includes('model.safetensors') && e.message.includes("'deberta.encoder.layer.0.attention.self.extra.weight'"));
});

test('a weight of the wrong shape is named with both shapes', async () => {
  const dir = variant((w) => w.set('classifier.weight', tensor('float32', [4, 32], new Float32Array(128))));
  await assert.rejects(loadModel(dir), /model\.safetensors: weight 'classifier\.weight' has shape \[4, 32\], the config implies \[3, 32\]/);
});

test('an integer weight is refused, naming the key and dtype', async () => {
  const dir = variant((w) => w.set('classifier.bias', tensor('int64', [3], new BigInt64Array(3))));
  await assert.rejects(loadModel(dir), /weight 'classifier\.bias' has dtype int64/);
});

test('an unknown model_type names config.json and the value', async () => {
  const dir = variant(() => {}, (c) => { c.model_type = 'bert'; });
  await assert.rejects(loadModel(dir), (e: Error) => e.message.includes('config.json') && e.message.includes('bert'));
});

test('a truncated weights file is reported with its name', async () => {
  const dir = variant(() => {});
  const path = join(dir, 'model.safetensors');
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(loadModel(dir), (e: Error) => e.message.includes(path));
});

test('a folder without weights says which files it looked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-empty-'));
  cpSync(join(fixture, 'config.json'), join(dir, 'config.json'));
  await assert.rejects(loadModel(dir), /no model weights found \(looked for model\.safetensors/);
});

test("AutoConfig reads a checkpoint's config.json as transformers does, and names what is wrong", async () => {
  const c = await AutoConfig.from_pretrained(fixture, { local_files_only: true });
  assert.deepEqual([c.model_type, c.num_hidden_layers, c.hidden_size, c.position_buckets, c.num_labels, c.architectures],
    ['deberta-v2', 2, 32, 16, 3, ['DebertaV2ForSequenceClassification']]);
  assert.deepEqual(c.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  await assert.rejects(AutoConfig.fromPretrained(fixture, { threads: 2 } as never),
    { name: 'TypeError', message: /^AutoConfig\.fromPretrained: unknown option 'threads' \(accepted: revision,/ });
  const empty = mkdtempSync(join(tmpdir(), 'deberta-noconfig-'));
  await assert.rejects(AutoConfig.fromPretrained(empty), (err: Error) => err.message.includes(join(empty, 'config.json')));
  rmSync(empty, { recursive: true });
});

test('AutoModel loads the bare encoder from a classifier checkpoint', async () => {
  const ref = readSafetensors(join(fixture, 'expected.safetensors')).tensors;
  const model = await AutoModel.fromPretrained(fixture, { threads: 1 });
  const ids = ref.get('input.input_ids')!;
  const out = await model({ inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: ref.get('input.attention_mask')!.data as BigInt64Array, dims: ids.dims } });
  assert.deepEqual(out.lastHiddenState!.dims, [3, 40, 32]);
  assert.ok(relError(out.lastHiddenState!.data, toFloat64(ref.get('f64.hidden_states.2')!)) < 3e-6); // measured 1.19e-6 (1 and 2 threads)
  // Also under transformers' name, out of JSON and spreads.
  assert.equal(out.last_hidden_state, out.lastHiddenState);
  assert.deepEqual(Object.keys(out), ['lastHiddenState']);
  // transformers.js' reading side of a tensor: tolist(), size, type.
  const h = out.lastHiddenState!;
  const nested = h.tolist() as number[][][];
  assert.deepEqual([nested.length, nested[2]!.length, nested[2]![39]!.length, h.size, h.type], [3, 40, 32, 3 * 40 * 32, 'float32']);
  assert.equal(nested[2]![39]![31], h.data[h.size - 1]);
  assert.equal(nested[1]![0]![5], h.data[40 * 32 + 5]);
  await model.dispose();
});

test('nested-array inputs: ragged rows are refused with advice', async () => {
  const model = await loadModel(fixture, 'auto', { threads: 1 });
  await assert.rejects(model({ inputIds: [[1, 2, 3], [1, 2]] }), /rows differ in length/);
  const out = await model({ inputIds: [[1, 5, 9, 2]] });
  assert.deepEqual(out.logits!.dims, [1, 3]);
  await model.dispose();
});

test("quantize: 'int8' runs the matrix products in int8, close to float32", async () => {
  const ref = readSafetensors(join(fixture, 'expected.safetensors')).tensors;
  const ids = ref.get('input.input_ids')!, mask = ref.get('input.attention_mask')!;
  const inputs = { inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: mask.data as BigInt64Array, dims: mask.dims } };
  const int8 = await loadModel(fixture, 'auto', { threads: 1, quantize: 'int8' });
  const out = await int8(inputs);
  await int8.dispose();
  const err = relError(out.logits!.data, toFloat64(ref.get('f64.logits')!));
  // The fixture's weights are drawn wide on purpose, so int8 lands far away: measured 0.135 at 1 and 2 threads (the
  // last layer on the first token only: its activations get their own scale). Bounds: 2× above (CPUs without VNNI
  // sum uint8 × int8 products in 16 bits that can saturate), a third below (float32 lands 8.2e-7 away).
  assert.ok(err > 0.045 && err < 0.27, `int8 logits error ${err}`);
});

test("loading options: transformers.js' device and dtype, either spelling of a name, and unknown names refused", async () => {
  const ref = readSafetensors(join(fixture, 'expected.safetensors')).tensors;
  const ids = ref.get('input.input_ids')!, mask = ref.get('input.attention_mask')!;
  const inputs = { inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: mask.data as BigInt64Array, dims: mask.dims } };
  const logits = async (load: () => Promise<Awaited<ReturnType<typeof loadModel>>>) => {
    const m = await load();
    try { return (await m(inputs)).logits!.data; } finally { await m.dispose(); }
  };
  const int8 = await logits(() => loadModel(fixture, 'auto', { threads: 1, quantize: 'int8' }));
  const f32 = await logits(() => loadModel(fixture, 'auto', { threads: 1 }));
  assert.ok(relError(int8, toFloat64(ref.get('f64.logits')!)) > 0.045); // int8 lands far from float32 on this fixture (test above)
  assert.deepEqual(await logits(() => AutoModelForSequenceClassification.from_pretrained(fixture, { threads: 1, dtype: 'q8' })), int8);
  assert.deepEqual(await logits(() => loadModel(fixture, 'auto', { threads: 1, dtype: 'fp32', device: 'cpu' })), f32);
  assert.deepEqual(await logits(() => loadModel(fixture, 'auto', { threads: 1, execution_providers: ['cpu'] } as never)), f32);
  const from = (o: unknown) => AutoModelForSequenceClassification.fromPretrained(fixture, o as never);
  await assert.rejects(from({ quantized: true }), { name: 'TypeError', message: /^AutoModelForSequenceClassification\.fromPretrained: unknown option 'quantized' \(accepted: threads, executionProviders \(execution_providers\), quantize, prepack, device, dtype,/ });
  await assert.rejects(loadModel(fixture, 'auto', { dtype: 'float64' } as never), { message: "loadModel: unsupported dtype 'float64' (use 'fp32', 'fp16', 'q8', 'int8')" });
  await assert.rejects(from({ device: 'cuda' }), { message: "AutoModelForSequenceClassification.fromPretrained: unknown device 'cuda' (use 'cpu' or 'webgpu')" });
  await assert.rejects(from({ device: 'cpu', executionProviders: ['cpu'] }), { name: 'TypeError', message: /give device or executionProviders, not both/ });
  await assert.rejects(from({ dtype: 'fp32', quantize: 'int8' }), { name: 'TypeError', message: /dtype 'fp32' and quantize 'int8' contradict each other/ });
});

test('sessions sharing a folder map one model file with the folded constants, and answer as an ordinary session does', async () => {
  const share = mkdtempSync(join(tmpdir(), 'deberta-share-'));
  const ids = [[1, 5, 9, 100, 17, 2]];
  const plain = await loadModel(fixture, 'auto', { threads: 1 });
  const want = (await plain({ inputIds: ids })).logits!;
  await plain.dispose();
  try {
    setSessionDefaults({ shareFolder: share });
    const first = await loadModel(fixture, 'auto', { threads: 1 });
    const [dir, ...others] = readdirSync(share);
    assert.equal(others.length, 0, `one model folder, got ${readdirSync(share).join(', ')}`);
    assert.deepEqual(readdirSync(join(share, dir!)).sort(), ['model.onnx', 'model.onnx_data']);
    const written = statSync(join(share, dir!, 'model.onnx_data'));
    const second = await loadModel(fixture, 'auto', { threads: 1 });
    assert.equal(statSync(join(share, dir!, 'model.onnx_data')).mtimeMs, written.mtimeMs, 'the second session reuses the file');
    // The side file holds the weights and the relative-position projections folded once (more than the weights alone).
    const weights = statSync(join(fixture, 'model.safetensors')).size;
    assert.ok(written.size > weights * 0.9, `side file ${written.size} bytes, checkpoint ${weights}`);
    for (const m of [first, second]) {
      const got = (await m({ inputIds: ids })).logits!;
      assert.deepEqual(got.dims, want.dims);
      assert.ok(relError(got.data, want.data) < 1e-5, `relative error ${relError(got.data, want.data)}`);
      await m.dispose();
    }
  } finally {
    setSessionDefaults({ shareFolder: undefined });
    rmSync(share, { recursive: true, force: true });
  }
});

test('a pool of two workers (the embedded spam model) shares one model file, removed once both have mapped it', async () => {
  const { loadPooledModel } = await import('../src/server/worker-pool.ts');
  const one = await loadPooledModel({ name: 'a', dir: null, tasks: ['text-classification'] }, { workers: 1, threads: 1 });
  const two = await loadPooledModel({ name: 'b', dir: null, tasks: ['text-classification'] }, { workers: 2, threads: 1 });
  let disposed = false;
  try {
    const folder = (two.pool as unknown as { init: { shareFolder?: string } }).init.shareFolder;
    assert.ok(folder, 'a pool of two has a share folder');
    assert.equal((one.pool as unknown as { init: { shareFolder?: string } }).init.shareFolder, undefined);
    // Mapped by both workers, the file is removed once they have loaded (nothing left behind by a crash).
    assert.equal(existsSync(folder), false, 'removed once both workers loaded');
    const text = ['WIN a FREE cruise now, reply YES', 'see you at lunch tomorrow'];
    const want = await one.runners[0]!.run(text, {});
    const got = await Promise.all([two.runners[0]!.run(text, {}), two.runners[0]!.run(text, {})]);
    for (const g of got) {
      const a = (want as { label: string; score: number }[][]).map((r) => r[0]!);
      const b = (g as { label: string; score: number }[][]).map((r) => r[0]!);
      assert.deepEqual(b.map((r) => r.label), a.map((r) => r.label));
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]!.score - b[i]!.score) < 1e-5);
    }
    await two.pool.dispose();
    disposed = true;
  } finally {
    await one.pool.dispose();
    if (!disposed) await two.pool.dispose();
  }
});

test('prepack: false reaches ONNX Runtime as disable_prepacking, the memory pattern stays off, and the model still matches transformers', async () => {
  const ort = await getOrt();
  const create = ort.InferenceSession.create;
  const seen: unknown[] = [];
  (ort.InferenceSession as unknown as { create: unknown }).create = (model: unknown, options: unknown) => {
    seen.push(options);
    return (create as (m: unknown, o: unknown) => Promise<unknown>).call(ort.InferenceSession, model, options);
  };
  try {
    const ref = readSafetensors(join(fixture, 'expected.safetensors')).tensors;
    const ids = ref.get('input.input_ids')!, mask = ref.get('input.attention_mask')!;
    for (const prepack of [false, undefined]) {
      seen.length = 0;
      const model = await loadModel(fixture, 'auto', { threads: 1, prepack });
      const out = await model({ inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: { data: mask.data as BigInt64Array, dims: mask.dims } });
      await model.dispose();
      const flags = seen.map((o) => (o as { extra?: { session?: Record<string, string> } }).extra?.session?.disable_prepacking);
      assert.deepEqual(flags, [prepack === false ? '1' : undefined]);
      // Off by default (SessionOptions.memPattern): its per-shape block made the second run of a shape slow and raised the peak.
      assert.deepEqual(seen.map((o) => (o as { enableMemPattern?: boolean }).enableMemPattern), [false]);
      // 6e-6: the forward tests' bound (test/model-forward.test.ts).
      assert.ok(relError(out.logits!.data, toFloat64(ref.get('f64.logits')!)) <= 6e-6);
    }
  } finally {
    (ort.InferenceSession as unknown as { create: unknown }).create = create;
  }
});

test("transformers' family class names load their family's checkpoints, and name the right class for the other", async () => {
  const ids = [[1, 5, 9, 2]];
  const auto = await AutoModelForSequenceClassification.fromPretrained(fixture);
  const named = await DebertaV2ForSequenceClassification.from_pretrained(fixture);
  try {
    assert.deepEqual((await named({ input_ids: ids })).logits!.data, (await auto({ input_ids: ids })).logits!.data);
    assert.equal(named.head, 'sequence-classification');
  } finally {
    await Promise.all([auto.dispose(), named.dispose()]);
  }
  const v1 = join(import.meta.dirname, 'fixtures', 'models', 'v1-base-base');
  const bare = await DebertaModel.fromPretrained(v1);
  try {
    assert.equal(bare.config.model_type, 'deberta');
    assert.equal(bare.head, 'base');
  } finally {
    await bare.dispose();
  }
  await assert.rejects(DebertaForSequenceClassification.fromPretrained(fixture), {
    message: `DebertaForSequenceClassification.fromPretrained: ${fixture} is a DeBERTa-v2/v3 checkpoint (model_type "deberta-v2"); load it with DebertaV2ForSequenceClassification or the Auto class of the same head`,
  });
  await assert.rejects(DebertaV2ForMaskedLM.fromPretrained(v1), {
    message: `DebertaV2ForMaskedLM.fromPretrained: ${v1} is a DeBERTa (v1) checkpoint (model_type "deberta"); load it with DebertaForMaskedLM or the Auto class of the same head`,
  });
});

test('DebertaTokenizer and DebertaV2Tokenizer read their family\'s tokenizer as AutoTokenizer does, and refuse the other', async () => {
  const v1 = 'test/fixtures/tokenizers/deberta-v1-gpt2bpe', v3 = 'test/fixtures/tokenizers/deberta-v3-unigram';
  const text = 'DeBERTa runs in Node.';
  assert.deepEqual((await DebertaTokenizer.from_pretrained(v1)).encode(text), (await AutoTokenizer.fromPretrained(v1)).encode(text));
  assert.deepEqual((await DebertaV2Tokenizer.fromPretrained(v3)).encode(text), (await AutoTokenizer.fromPretrained(v3)).encode(text));
  await assert.rejects(DebertaV2Tokenizer.fromPretrained(v1),
    { message: `DebertaV2Tokenizer.fromPretrained: ${v1} holds no DeBERTa-v2/v3 SentencePiece (unigram) tokenizer; load it with DebertaTokenizer or AutoTokenizer` });
  await assert.rejects(DebertaTokenizer.fromPretrained(v3),
    { message: `DebertaTokenizer.fromPretrained: ${v3} holds no DeBERTa (v1) byte-level BPE tokenizer; load it with DebertaV2Tokenizer or AutoTokenizer` });
});
