// The WebGPU path: ONNX Runtime's WebGPU execution provider, bundled in onnxruntime-node on Linux. Machines
// without a GPU run it on SwiftShader, the software Vulkan driver Debian's Chromium ships (CI installs
// Chromium for the browser test), so the graph the GPU runs is checked against the fixtures everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { loadModel, camel } from '../src/models/auto.ts';
import { cpuOnly } from '../src/runtime/session.ts';
import { pipeline } from '../src/pipelines/index.ts';
import { toFloat64 } from '../src/tensor.ts';
import { assertClose, F32_FLOOR } from './helpers/compare.ts';
import { FIXTURE_MODELS, fixtureInputs } from './helpers/fixture-models.ts';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
// Dawn needs the Vulkan loader (Debian's libvulkan1, which chromium does not pull in) and a driver.
const LOADER = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];
const hasLoader = LOADER.some((f) => existsSync(f));
const hasDriver = Boolean(process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) || existsSync(SWIFTSHADER);
if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER)) {
  // This process only: Dawn reads these when ONNX Runtime first asks for an adapter.
  process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  process.env.XDG_RUNTIME_DIR ??= mkdtempSync(join(tmpdir(), 'deberta-xdg-'));
}
// CI installs both (.ci/run), so there the tests run or fail; elsewhere a missing piece skips them, named.
const skip = process.env.CI || (hasLoader && hasDriver) ? false
  : !hasLoader ? 'no Vulkan loader (apt-get install libvulkan1)' : 'no Vulkan driver (install chromium for SwiftShader, or set VK_ICD_FILENAMES)';

test('contrib ops only for CPU providers', () => {
  assert.equal(cpuOnly(), true);
  assert.equal(cpuOnly(['cpu']), true);
  assert.equal(cpuOnly(['wasm']), true);
  assert.equal(cpuOnly([{ name: 'cpu' }]), true);
  assert.equal(cpuOnly(['webgpu']), false);
  assert.equal(cpuOnly(['webgpu', 'cpu']), false);
  assert.equal(cpuOnly([{ name: 'webgpu', validationMode: 'disabled' }]), false);
});

// One checkpoint per family and head kind (all of them pass; SwiftShader takes ~3 s each, so the test keeps five).
const CHECKED = ['v1-base-mlm', 'v2-conv-seqcls', 'v2-unshared-c2p-base', 'v3-buckets-tokcls', 'v3-buckets-mc'];

test('the WebGPU checkpoints exist', () => {
  const all = readdirSync(FIXTURE_MODELS);
  for (const name of CHECKED) assert.ok(all.includes(name), name);
});

for (const name of CHECKED) {
  test(`webgpu: ${name} matches transformers (float64 reference)`, { skip }, async () => {
    const dir = join(FIXTURE_MODELS, name);
    const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
    const model = await loadModel(dir, 'auto', { hiddenStates: true, executionProviders: ['webgpu'] });
    try {
      const out = await model(fixtureInputs(tensors));
      let compared = 0;
      for (const [key, ref] of tensors) {
        if (!key.startsWith('f64.') || key === 'f64.train_loss') continue;
        const ours = out[camel(key.slice(4))];
        if (!ours && key.startsWith('f64.attentions')) continue;
        assert.ok(ours, `${name}: no output for ${key}`);
        assert.deepEqual(ours.dims, ref.dims, `${name}: dims of ${key}`);
        // Measured up to 1.7e-6 (v2-conv-seqcls hidden_states.2) on SwiftShader; 3×, for other WebGPU devices' sums.
        assertClose(ours.data, toFloat64(ref), 5e-6, `${name} ${key} on webgpu`);
        compared++;
      }
      assert.ok(compared >= 1, `${name}: compared no outputs`);
    } finally {
      await model.dispose();
    }
  });
}

test('pipeline device: webgpu gives the CPU results; an unknown device is named', { skip }, async () => {
  const texts = ['Win a FREE cruise, click now to claim your prize!', 'Minutes of Tuesday\'s meeting are attached.'];
  const cpu = await pipeline('text-classification', null);
  const gpu = await pipeline('text-classification', null, { device: 'webgpu' });
  try {
    const a = await cpu(texts, { topK: null });
    const b = await gpu(texts, { topK: null });
    assert.equal(a.length, 2);
    for (let i = 0; i < a.length; i++) {
      const ra = a[i] as { label: string; score: number }[];
      const rb = b[i] as { label: string; score: number }[];
      assert.deepEqual(rb.map((r) => r.label), ra.map((r) => r.label));
      assertClose(rb.map((r) => r.score), ra.map((r) => r.score), F32_FLOOR, `text ${i}`); // measured 1.4e-9: a float32 floor
    }
  } finally {
    await cpu.dispose();
    await gpu.dispose();
  }
  await assert.rejects(pipeline('text-classification', null, { device: 'cuda' as 'cpu' }), /unknown device 'cuda' \(use 'cpu' or 'webgpu'\)/);
});

test("webgpu dtype 'fp16': matches the reference where the adapter has shader-f16, else an error that says so", { skip }, async () => {
  const dir = join(FIXTURE_MODELS, 'v3-buckets-seqcls');
  const { tensors } = readSafetensors(join(dir, 'expected.safetensors'));
  const model = await loadModel(dir, 'auto', { dtype: 'fp16', device: 'webgpu' });
  try {
    const run = model(fixtureInputs(tensors));
    // SwiftShader (CI) has no shader-f16; a GPU with it runs the graph (2.7e-3 on the CPU provider, test/fp16.test.ts).
    const out = await run.catch((e: Error) => e);
    if (out instanceof Error) {
      assert.match(out.message, /^dtype 'fp16' needs a GPU whose WebGPU adapter has the 'shader-f16' feature, and this one lacks it; load with dtype 'fp32' \(ONNX Runtime: .*requires f16 but the device does not support it/);
    } else {
      assertClose(out.logits!.data, toFloat64(tensors.get('f64.logits')!), 1.5e-2, 'v3-buckets-seqcls fp16 on webgpu');
    }
  } finally {
    await model.dispose();
  }
});
