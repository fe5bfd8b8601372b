// Fine-tuning with several updates in one ONNX Runtime run (--steps-per-run): the trained weights do not
// depend on how updates are grouped, for every task's inputs and labels, and they follow the
// one-update-a-run trainer (AdamW in JavaScript) to float32 rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { Rng } from '../src/util/random.ts';
import { train, type TrainOptions } from '../src/train/trainer.ts';
import { labelledSentences, tinyTrainCheckpoint, WORDS, writeJsonl } from './helpers/train-fixtures.ts';

test('--steps-per-run: the same weights however updates are grouped, and within float32 rounding of one update a run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-steps-per-run-'));
  try {
    const model = tinyTrainCheckpoint(dir, { head: 'sequence-classification', layers: 2, seed: 3 });
    // Texts of 7 to 12 words cut at 10 tokens: micro-batches of 6 that share their dims but for the last of an
    // epoch (4 rows), 7 updates an epoch, grouped 4 + 2 + 1 or 3 + 3 + 1. Dropout on, weight decay, warm-up.
    const base: TrainOptions = {
      model, task: 'sequence-classification', train: writeJsonl(join(dir, 'train.jsonl'), labelledSentences(40, 1)), eval: writeJsonl(join(dir, 'eval.jsonl'), labelledSentences(16, 2)), out: '',
      batchSize: 6, epochs: 2, lr: 3e-3, weightDecay: 0.01, warmupSteps: 2, maxLength: 10, seed: 5, threads: 1, progress: false, log: () => {},
    };
    const run = async (stepsPerRun: number) => {
      const r = await train({ ...base, stepsPerRun, out: join(dir, `s${stepsPerRun}`) });
      const state = JSON.parse(readFileSync(join(r.lastDir, 'trainer_state.json'), 'utf8')) as { logHistory: { loss?: number }[] };
      return {
        steps: r.globalStep, weights: readSafetensors(join(r.lastDir, 'model.safetensors')).tensors,
        losses: state.logHistory.map((e) => e.loss).filter((x) => x !== undefined),
      };
    };
    const four = await run(4), three = await run(3), one = await run(1);
    assert.deepEqual([four.steps, three.steps, one.steps], [14, 14, 14]);
    assert.equal(four.losses.length, 2); // updates 1 and 10
    assert.deepEqual(three.losses, four.losses);
    let largest = 0, moved = 0;
    for (const [k, t] of four.weights) {
      assert.deepEqual(three.weights.get(k)!.data, t.data, k);
      const a = t.data as Float32Array, b = one.weights.get(k)!.data as Float32Array;
      for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
    }
    const init = readSafetensors(join(model, 'model.safetensors')).tensors;
    for (const [k, t] of four.weights) {
      const a = t.data as Float32Array, b = init.get(k)?.data as Float32Array | undefined;
      if (b) for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i]! - b[i]!));
    }
    // 14 updates moved weights by up to 2.0e-2; the AdamW in the graph and the one in JavaScript differ by
    // rounding (measured 6.0e-8), and not at all would mean the runs never took the grouped path.
    assert.ok(moved > 1e-2, `weights moved by ${moved}`);
    assert.ok(largest > 0 && largest < 1e-6, `grouped against one update a run: ${largest}`);
    for (let i = 0; i < one.losses.length; i++) assert.ok(Math.abs(one.losses[i]! - four.losses[i]!) < 1e-5, `loss ${one.losses[i]} vs ${four.losses[i]}`);

    // Stopped during the second group (at update 5 of updates 5 and 6), the run ends that group, saves after
    // update 6, and resumed from there ends on the uninterrupted run's weights.
    const stop = new AbortController();
    const part = await train({ ...base, stepsPerRun: 4, out: join(dir, 'part'), signal: stop.signal, onStep: ({ step }) => { if (step === 5) stop.abort(); } });
    assert.deepEqual([part.interrupted, part.globalStep], [true, 6]);
    const resumed = await train({ ...base, stepsPerRun: 4, out: join(dir, 'part'), resume: part.lastDir });
    assert.equal(resumed.globalStep, 14);
    const after = readSafetensors(join(resumed.lastDir, 'model.safetensors')).tensors;
    for (const [k, t] of four.weights) assert.deepEqual(after.get(k)!.data, t.data, k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--steps-per-run: labels per token and inputs per choice stack too; the weights do not depend on the grouping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-steps-per-run-'));
  try {
    const model = tinyTrainCheckpoint(dir, { head: 'base', layers: 1, seed: 1, dropout: 0 });
    const rng = new Rng(7);
    const colors = ['red', 'blue', 'green', 'black'];
    // Multiple choice: [4, 3, n] inputs, one label per example; token classification: a tag per word.
    const choice = Array.from({ length: 40 }, () => {
      const c = rng.int(4), label = rng.int(3);
      return { context: `The paint is ${colors[c]}.`, endings: [0, 1, 2].map((k) => `it is ${colors[k === label ? c : (c + 1 + k) % 4]}`), label };
    });
    const tags = Array.from({ length: 40 }, () => {
      const tokens = Array.from({ length: 6 }, () => (rng.uniform() < 0.3 ? 'Alice' : WORDS[rng.int(WORDS.length)]!));
      return { tokens, ner_tags: tokens.map((t) => (t === 'Alice' ? 'B-PER' : 'O')) };
    });
    const tasks = [
      { task: 'multiple-choice', train: writeJsonl(join(dir, 'choice.jsonl'), choice), columns: { choices: 'endings' } },
      { task: 'token-classification', train: writeJsonl(join(dir, 'tags.jsonl'), tags) },
    ] as const;
    for (const t of tasks) {
      const weights = async (stepsPerRun: number) => {
        const r = await train({ ...t, model, out: join(dir, `${t.task}-${stepsPerRun}`), batchSize: 4, epochs: 2, lr: 5e-3, maxLength: 16, seed: 2, threads: 1, progress: false, log: () => {}, stepsPerRun });
        assert.equal(r.globalStep, 20);
        return readSafetensors(join(r.lastDir, 'model.safetensors')).tensors;
      };
      const four = await weights(4), three = await weights(3);
      const init = readSafetensors(join(model, 'model.safetensors')).tensors;
      const before = (init.get('deberta.encoder.layer.0.output.dense.weight') ?? init.get('encoder.layer.0.output.dense.weight'))!.data as Float32Array;
      const after = four.get('deberta.encoder.layer.0.output.dense.weight')!.data as Float32Array;
      assert.ok(after.some((x, i) => Math.abs(x - before[i]!) > 1e-3), `${t.task}: the encoder did not train`);
      for (const [k, w] of four) assert.deepEqual(three.get(k)!.data, w.data, `${t.task}: ${k}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
