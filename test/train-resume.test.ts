// Stopping and resuming: a run stopped mid-epoch (as Ctrl-C does) saves a checkpoint with optimizer
// state, and resuming it ends with exactly the parameters of the run that never stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { readResumeState } from '../src/train/checkpoint.ts';
import { train, type TrainOptions } from '../src/train/trainer.ts';
import { labelledSentences, tinyTrainCheckpoint, writeJsonl } from './helpers/train-fixtures.ts';

test('a run stopped at an update and resumed ends exactly where the uninterrupted run does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-resume-'));
  try {
    const model = tinyTrainCheckpoint(dir, { head: 'sequence-classification', layers: 1, seed: 3 });
    // 40 examples, micro-batches of 6 (the last one 4), 2 per update: 4 updates an epoch, 3 epochs.
    const base: TrainOptions = {
      model, task: 'sequence-classification', train: writeJsonl(join(dir, 'train.jsonl'), labelledSentences(40, 1)), eval: writeJsonl(join(dir, 'eval.jsonl'), labelledSentences(16, 2)), out: '',
      batchSize: 6, gradAccum: 2, epochs: 3, lr: 3e-3, weightDecay: 0.01, warmupSteps: 2, schedule: 'cosine', maxLength: 24,
      seed: 5, threads: 1, progress: false, log: () => {},
    };
    const full = await train({ ...base, out: join(dir, 'full') });
    assert.equal(full.globalStep, 12);

    const stop = new AbortController();
    const part = await train({ ...base, out: join(dir, 'part'), signal: stop.signal, onStep: ({ step }) => { if (step === 6) stop.abort(); } });
    assert.equal(part.interrupted, true);
    assert.equal(part.globalStep, 6);
    const saved = readResumeState(part.lastDir);
    assert.deepEqual([saved.trainerState.globalStep, saved.trainerState.epoch, saved.trainerState.batchInEpoch], [6, 1, 4]);
    assert.equal(saved.optimizer.step, 6);
    assert.ok(existsSync(join(part.lastDir, 'tokenizer.json')));

    const resumed = await train({ ...base, out: join(dir, 'part'), resume: part.lastDir });
    assert.equal(resumed.globalStep, 12);
    const a = readSafetensors(join(full.lastDir, 'model.safetensors')).tensors;
    const b = readSafetensors(join(resumed.lastDir, 'model.safetensors')).tensors;
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, t] of a) assert.deepEqual(b.get(k)!.data, t.data, k);
    assert.equal(resumed.bestMetric, full.bestMetric);

    await assert.rejects(train({ ...base, batchSize: 8, out: join(dir, 'part'), resume: part.lastDir }),
      /was trained with batchSize 6, this run asks for 8/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
