// Stopping and resuming: a run stopped mid-epoch (as Ctrl-C does) saves a checkpoint with optimizer
// state, and resuming it ends with exactly the parameters of the run that never stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { readResumeState } from '../src/train/checkpoint.ts';
import { Rng } from '../src/util/random.ts';
import { train, type TrainOptions } from '../src/train/trainer.ts';

const tokenizerDir = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');

const WORDS = ['the', 'a', 'film', 'day', 'food', 'was', 'is', 'very', 'quite', 'and', 'service', 'story'];

/** Sentences labelled by whether they contain "great" or "awful". */
function sentences(n: number, seed: number): { text: string; label: string }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const good = rng.uniform() < 0.5;
    const words = Array.from({ length: 6 + rng.int(6) }, () => WORDS[rng.int(WORDS.length)]!);
    words.splice(rng.int(words.length), 0, good ? 'great' : 'awful');
    return { text: words.join(' '), label: good ? 'good' : 'bad' };
  });
}

test('a run stopped at an update and resumed ends exactly where the uninterrupted run does', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-resume-'));
  try {
    writeFileSync(join(dir, 'train.jsonl'), sentences(40, 1).map((r) => JSON.stringify(r)).join('\n'));
    writeFileSync(join(dir, 'eval.jsonl'), sentences(16, 2).map((r) => JSON.stringify(r)).join('\n'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
      intermediate_size: 64, max_position_embeddings: 64, relative_attention: true, position_buckets: 16,
      pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true, position_biased_input: false,
      hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
    }));
    const model = join(dir, 'init');
    initCheckpoint({ config: join(dir, 'config.json'), out: model, seed: 3, head: 'sequence-classification', tokenizer: tokenizerDir });
    // 40 examples, micro-batches of 6 (the last one 4), 2 per update: 4 updates an epoch, 3 epochs.
    const base: TrainOptions = {
      model, task: 'sequence-classification', train: join(dir, 'train.jsonl'), eval: join(dir, 'eval.jsonl'), out: '',
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
