// Checkpoint folders (written under a temporary name and renamed; float32 weights; label maps and
// architecture in config.json; tokenizer files; optimizer and trainer state) and the progress line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { loadModel } from '../src/models/auto.ts';
import { parseDebertaConfig, readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { readResumeState, saveCheckpoint, type TrainerState } from '../src/train/checkpoint.ts';
import { AdamW } from '../src/train/optim.ts';
import { formatDuration, ProgressBar } from '../src/train/progress.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'training', 'v3-buckets-seqcls-adamw');
const tokenizerDir = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');

test('saveCheckpoint: a Hugging Face folder, replaced whole, float64 weights saved as float32', async () => {
  const root = mkdtempSync(join(tmpdir(), 'deberta-ckpt-'));
  try {
    const weights = readSafetensors(join(fixture, 'model.safetensors')).tensors; // float64
    const config = readDebertaConfig(fixture);
    config.id2label = { 0: 'neg', 1: 'neu', 2: 'pos' };
    config.label2id = { neg: 0, neu: 1, pos: 2 };
    const dir = join(root, 'best');
    const opt = new AdamW(weights, { lr: 1e-3 });
    const state: TrainerState = {
      globalStep: 3, epoch: 1, batchInEpoch: 2, dropoutStep: 6, totalSteps: 10, seed: 4, bestMetric: 0.5, bestStep: 3,
      metricName: 'accuracy', logHistory: [], args: { task: 'sequence-classification' },
    };
    saveCheckpoint(dir, { config, weights, tokenizerDir, optimizer: { tensors: opt.stateTensors(), step: 3 }, trainerState: state, extraJson: { 'eval_results.json': { accuracy: 0.5 } } });
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'eval_results.json', 'model.safetensors', 'optimizer.safetensors', 'spm.model', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json']);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg.id2label, { 0: 'neg', 1: 'neu', 2: 'pos' });
    assert.deepEqual(cfg.label2id, { neg: 0, neu: 1, pos: 2 });
    assert.equal(cfg.dtype, 'float32', 'the fixture config said float64; the weights are now float32');
    const saved = readSafetensors(join(dir, 'model.safetensors'));
    assert.equal(saved.metadata.format, 'pt');
    const w = saved.tensors.get('classifier.weight')!;
    assert.equal(w.dtype, 'float32');
    assert.deepEqual(Array.from(w.data as Float32Array), Array.from(weights.get('classifier.weight')!.data as Float64Array, Math.fround));
    const model = await loadModel(dir, 'auto', { threads: 1 });
    assert.equal(model.head, 'sequence-classification');
    await model.dispose();

    const resume = readResumeState(dir);
    assert.equal(resume.optimizer.step, 3);
    assert.deepEqual(resume.trainerState, state);
    assert.equal(resume.optimizer.tensors.get('exp_avg.classifier.weight')!.dtype, 'float64');

    // Saving again replaces the folder as a whole: files of the old one do not linger, no temporaries remain.
    saveCheckpoint(dir, { config: parseDebertaConfig(JSON.parse(readFileSync(join(fixture, 'config.json'), 'utf8')), 'c'), weights });
    assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
    assert.deepEqual(readdirSync(root), ['best']);
    assert.throws(() => readResumeState(dir), /best: not a resumable checkpoint \(no trainer_state\.json\)/);
    writeFileSync(join(dir, 'trainer_state.json'), '{oops');
    writeFileSync(join(dir, 'optimizer.safetensors'), '');
    assert.throws(() => readResumeState(dir), /trainer_state\.json: not valid JSON/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a failed save leaves the previous checkpoint in place', () => {
  const root = mkdtempSync(join(tmpdir(), 'deberta-ckpt-'));
  try {
    const weights = readSafetensors(join(fixture, 'model.safetensors')).tensors;
    const config = readDebertaConfig(fixture);
    const dir = join(root, 'last');
    saveCheckpoint(dir, { config, weights });
    const bad = new Map([['x', { dtype: 'float32' as const, dims: [3], data: new Float32Array(2) }]]);
    assert.throws(() => saveCheckpoint(dir, { config, weights: bad }), /2 values do not fill dims \[3\]/);
    assert.ok(existsSync(join(dir, 'model.safetensors')));
    assert.deepEqual(readdirSync(root), ['last']);
    assert.ok(readSafetensors(join(dir, 'model.safetensors')).tensors.has('classifier.weight'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('progress line: step, loss, learning rate, tokens/s and ETA', () => {
  const bar = new ProgressBar(process.stderr, 5000, false);
  bar.begin(10);
  bar.update({ step: 20, total: 110, epoch: 1, epochs: 2, loss: 0.5, lr: 2e-5, tokens: 0 });
  const start = (bar as unknown as { start: number }).start;
  (bar as unknown as { tokens: number }).tokens = 5000;
  // 10 updates in 10 s: 1 s an update, 90 to go.
  assert.equal(bar.line({ step: 20, total: 110, epoch: 1, epochs: 2, loss: 0.5, lr: 2e-5, tokens: 0 }, start + 10_000),
    'epoch 1/2 [####----------------] step 20/110  loss 0.5000  lr 2.00e-5  500 tok/s  ETA 1m30s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(7), '7s');
});
