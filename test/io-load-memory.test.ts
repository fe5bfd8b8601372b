// Peak memory of building a model from a pytorch_model.bin of a few hundred MB, measured in a child
// process (test/helpers/load-peak.ts): the process's peak RSS must stay within the float32 weights plus
// 256 MiB, for float32 storages (left in the file for ONNX Runtime to read) and for float16 ones
// (converted piece by piece into the side file ONNX Runtime loads).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseDebertaConfig } from '../src/models/deberta/config-file.ts';
import { paramShapes } from '../src/models/deberta/init.ts';
import { floatToHalf, numel, type Tensor } from '../src/tensor.ts';
import { Rng } from '../src/util/random.ts';
import { writeTorchBinFile } from './helpers/torch-bin-file.ts';

const MiB = 2 ** 20;
const CONFIG = {
  model_type: 'deberta-v2', architectures: ['DebertaV2Model'], hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8,
  intermediate_size: 2048, vocab_size: 100000, max_position_embeddings: 512, relative_attention: true, position_buckets: 256,
  norm_rel_ebd: 'layer_norm', share_att_key: true, pos_att_type: ['p2c', 'c2p'], position_biased_input: false, type_vocab_size: 0,
  layer_norm_eps: 1e-7,
};

let root: string;
let weightBytes = 0;

/** Random weights, uniform in ±0.02 (LayerNorm gains 1, biases 0): cheap to make, finite outputs. */
function randomWeights(seed: number): (name: string, dims: number[]) => Tensor {
  const rng = new Rng(seed);
  return (name, dims) => {
    const data = new Float32Array(numel(dims));
    if (/LayerNorm\.weight$/.test(name)) data.fill(1);
    else if (!/bias$/.test(name)) for (let i = 0; i < data.length; i++) data[i] = (rng.u32() / 2 ** 32 - 0.5) * 0.04;
    return { dtype: 'float32', dims, data };
  };
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'deberta-load-memory-'));
  const shapes = paramShapes(parseDebertaConfig(CONFIG, 'config.json'), 'base');
  for (const [name, make, dtype] of [['f32', randomWeights(7), 'float32'], ['f16', randomWeights(7), 'float16']] as const) {
    const dir = join(root, name);
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(CONFIG));
    const bytes = writeTorchBinFile(join(dir, 'pytorch_model.bin'), shapes, dtype, (n, dims) => {
      const t = make(n, dims);
      if (dtype === 'float32') return t;
      const h = new Uint16Array(t.data.length);
      for (let i = 0; i < h.length; i++) h[i] = floatToHalf((t.data as Float32Array)[i]!);
      return { dtype: 'float16', dims, data: h };
    });
    if (dtype === 'float32') weightBytes = bytes;
  }
});

after(() => rmSync(root, { recursive: true, force: true }));

interface ChildResult { ok: boolean; error?: string; logits?: number[]; peakBytes: number; addedBytes: number }

function childLoad(dir: string): ChildResult {
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--import', './src/platform/node.ts', 'test/helpers/load-peak.ts', dir, 'model'],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, maxBuffer: 16 * MiB, timeout: 180_000 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

let f32Hidden: number[] | undefined;

test('a float32 pytorch_model.bin of ~300 MB loads within its weights + 256 MiB of peak RSS', (t) => {
  assert.ok(weightBytes > 290 * MiB && weightBytes < 320 * MiB, `weights: ${weightBytes} bytes`);
  const r = childLoad(join(root, 'f32'));
  assert.equal(r.ok, true, r.error);
  assert.equal(r.logits!.length, 4 * CONFIG.hidden_size);
  assert.ok(r.logits!.every(Number.isFinite));
  f32Hidden = r.logits;
  const limit = weightBytes + 256 * MiB;
  t.diagnostic(`weights ${(weightBytes / MiB).toFixed(0)} MiB, peak RSS ${(r.peakBytes / MiB).toFixed(0)} MiB`);
  assert.ok(r.peakBytes <= limit, `peak RSS ${(r.peakBytes / MiB).toFixed(0)} MiB > weights ${(weightBytes / MiB).toFixed(0)} MiB + 256 MiB`);
});

test('the same weights stored as float16 load within the float32 weights + 256 MiB, with the same outputs to float16 precision', (t) => {
  const r = childLoad(join(root, 'f16'));
  assert.equal(r.ok, true, r.error);
  const limit = weightBytes + 256 * MiB;
  t.diagnostic(`weights ${(weightBytes / MiB).toFixed(0)} MiB, peak RSS ${(r.peakBytes / MiB).toFixed(0)} MiB`);
  assert.ok(r.peakBytes <= limit, `peak RSS ${(r.peakBytes / MiB).toFixed(0)} MiB > weights ${(weightBytes / MiB).toFixed(0)} MiB + 256 MiB`);
  assert.ok(f32Hidden, 'the float32 test ran first');
  let worst = 0;
  for (let i = 0; i < f32Hidden.length; i++) worst = Math.max(worst, Math.abs(r.logits![i]! - f32Hidden[i]!));
  t.diagnostic(`largest difference from float32: ${worst.toExponential(2)}`);
  // Weights rounded to float16 (11-bit significands) move these unit-scale LayerNorm outputs by ~1e-3.
  assert.ok(worst > 0 && worst < 2e-2, `largest difference from float32: ${worst}`);
});
