// Checkpoints as transformers.js repositories ship them: config.json, the tokenizer and onnx/model.onnx (its
// weights in external data beside it, or inside it), with no PyTorch weights. The benchmarks' peer graph is
// such an export (transformers' torch exporter); its manifest holds the logits ONNX Runtime gave for a probe
// input when it was made, which the model loaded from the export must reproduce.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { loadModel, pipeline } from '../src/index.ts';
import { readOnnxWeights } from '../src/io/onnx-weights.ts';
import { folderFiles } from '../src/io/node-files.ts';
import { memoryFiles } from '../src/io/files.ts';
import { downloadModel } from '../src/hub/download.ts';
import { cleanup, tempDir } from './helpers/pipeline-models.ts';
import { folderContents, HubStandIn, oneCommitRepo } from './helpers/hub-server.ts';

const { onnx } = onnxProto;
const PEER = join(import.meta.dirname, '..', 'bench', 'peers', 'v3-xsmall-shape');
const TOKENIZER = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');
const manifest = JSON.parse(readFileSync(join(PEER, 'manifest.json'), 'utf8')) as { probe_input_ids: number[][]; probe_logits: number[][] };

let external: string; // onnx/model.onnx + onnx/model.onnx_data
let inline: string; // model.onnx with the weights inside it

before(() => {
  external = tempDir('tjs-repo-');
  mkdirSync(join(external, 'onnx'));
  for (const f of ['model.onnx', 'manifest.json']) copyFileSync(join(PEER, f), join(external, 'onnx', f));
  const r = spawnSync(process.execPath, [join(PEER, '..', 'regen_weights.mjs'), join(external, 'onnx')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  rmSync(join(external, 'onnx', 'manifest.json'));
  copyFileSync(join(PEER, 'config.json'), join(external, 'config.json'));
  cpSync(TOKENIZER, external, { recursive: true, filter: (src) => !src.endsWith('expected.json') });

  // The same export with every weight inside the model file, at the folder's top.
  inline = tempDir('tjs-inline-');
  const model = onnx.ModelProto.decode(readFileSync(join(external, 'onnx', 'model.onnx')));
  const data = readFileSync(join(external, 'onnx', 'model.onnx_data'));
  for (const t of model.graph!.initializer!) {
    if (t.dataLocation !== onnx.TensorProto.DataLocation.EXTERNAL) continue;
    const kv = Object.fromEntries(t.externalData!.map((e) => [e.key!, e.value!]));
    t.rawData = data.subarray(Number(kv.offset), Number(kv.offset) + Number(kv.length));
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    t.externalData = [];
  }
  writeFileSync(join(inline, 'model.onnx'), onnx.ModelProto.encode(model).finish());
  for (const f of readdirSync(external)) if (f !== 'onnx') copyFileSync(join(external, f), join(inline, f));
});
after(cleanup);

async function probeLogits(dir: string): Promise<Float32Array> {
  const model = await loadModel(dir, 'auto', { threads: 1 });
  try {
    return (await model({ inputIds: manifest.probe_input_ids })).logits!.data;
  } finally {
    await model.dispose();
  }
}

test('onnx/model.onnx with external data: the weights under their Hugging Face names give ONNX Runtime\'s logits', async () => {
  const weights = await readOnnxWeights(folderFiles(external), 'onnx/model.onnx');
  assert.deepEqual(weights.get('deberta.embeddings.word_embeddings.weight')!.dims, [8064, 384]);
  // A linear weight, anonymous in the export and stored [in, out], comes back as transformers keeps it: [out, in].
  assert.deepEqual(weights.get('deberta.encoder.layer.0.intermediate.dense.weight')!.dims, [1536, 384]);
  assert.deepEqual(weights.get('classifier.weight')!.dims, [2, 384]);
  // A source that cannot read part of a file (here: files in memory, as in a browser) reads the data file once.
  const inMemory = memoryFiles({ 'onnx/model.onnx': readFileSync(join(external, 'onnx', 'model.onnx')), 'onnx/model.onnx_data': readFileSync(join(external, 'onnx', 'model.onnx_data')) });
  const again = await readOnnxWeights(inMemory, 'onnx/model.onnx');
  assert.deepEqual([...again.keys()].sort(), [...weights.keys()].sort());
  for (const [k, t] of weights) assert.deepEqual(again.get(k)!.data, t.data, k);
  const got = await probeLogits(external);
  const want = manifest.probe_logits[0]!;
  // Measured 1.5e-7 and 6.0e-8: float32 rounding between two graphs of the same model.
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-5, `logit ${i}: ${x} against ${want[i]}`));
});

test('model.onnx with the weights inside it loads to the same logits; the pipeline reads the folder as it is', async () => {
  assert.deepEqual(await probeLogits(inline), await probeLogits(external));
  const classify = await pipeline('text-classification', inline, { threads: 1 });
  try {
    const [top] = await classify('a short text');
    assert.ok(top!.label === 'LABEL_0' || top!.label === 'LABEL_1');
    assert.ok(top!.score > 0.5 && top!.score < 1);
  } finally {
    await classify.dispose();
  }
});

test('a broken export is an error naming the file and the initializer', async () => {
  const broken = tempDir('tjs-broken-');
  cpSync(external, broken, { recursive: true });
  const data = join(broken, 'onnx', 'model.onnx_data');
  writeFileSync(data, readFileSync(data).subarray(0, 1_000_000));
  await assert.rejects(loadModel(broken), /onnx\/model\.onnx: initializer 'deberta\.embeddings\.word_embeddings\.weight': .*onnx\/model\.onnx_data: 1000000 bytes, too short for 12386304 bytes at offset 0$/);
  rmSync(data);
  await assert.rejects(loadModel(broken), /model\.onnx_data/);
  const model = onnx.ModelProto.decode(readFileSync(join(external, 'onnx', 'model.onnx')));
  model.graph!.initializer!.find((t) => t.externalData?.length)!.externalData!.find((e) => e.key === 'location')!.value = '../../secret';
  writeFileSync(join(broken, 'onnx', 'model.onnx'), onnx.ModelProto.encode(model).finish());
  await assert.rejects(loadModel(broken), /onnx\/model\.onnx: initializer '[^']+' points outside the checkpoint folder \(\.\.\/\.\.\/secret\)/);
  writeFileSync(join(broken, 'onnx', 'model.onnx'), new Uint8Array([0xff, 0xff, 0xff]));
  await assert.rejects(loadModel(broken), /onnx\/model\.onnx: not a readable ONNX model/);
  // Only a quantized export: said so, with what to do instead.
  rmSync(join(broken, 'onnx', 'model.onnx'));
  writeFileSync(join(broken, 'onnx', 'model_quantized.onnx'), new Uint8Array([8, 7]));
  await assert.rejects(loadModel(broken), {
    message: `${broken}: no model weights found (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json, onnx/model.onnx, model.onnx); `
      + "onnx/model_quantized.onnx holds weights at reduced precision, which cannot be read back as the model's: load a repository with the float32 weights "
      + "(its onnx/model.onnx or the original checkpoint) and ask for int8 with { dtype: 'q8' }",
  });
});

test('by Hub id: the export and its external data are downloaded, then load from the cache alone', { timeout: 120_000 }, async () => {
  const hub = await HubStandIn.start({ 'org/exported': oneCommitRepo(folderContents(external), 'exported') });
  try {
    const cacheDir = tempDir('hub-cache-');
    const snapshot = await downloadModel('org/exported', { endpoint: hub.url, cacheDir });
    assert.ok(existsSync(join(snapshot, 'onnx', 'model.onnx')) && existsSync(join(snapshot, 'onnx', 'model.onnx_data')));
    const got = hub.requests.filter((r) => r.method === 'GET').map((r) => r.path.split('/resolve/main/')[1]).sort();
    assert.deepEqual(got.filter((f) => f?.startsWith('onnx/')), ['onnx/model.onnx', 'onnx/model.onnx_data']);
    await hub.stop();
    const model = await loadModel('org/exported', 'auto', { threads: 1, cacheDir, localFilesOnly: true });
    try {
      assert.deepEqual((await model({ inputIds: manifest.probe_input_ids })).logits!.data, await probeLogits(external));
    } finally {
      await model.dispose();
    }
  } finally {
    await hub.stop();
  }
});
