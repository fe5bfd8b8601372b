// The embedded default models (models/, built by the model-training scripts): each task without a model
// folder loads its default; skipped while a model is not built yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODELS, pipeline, type Task } from '../src/pipelines/index.ts';
import { MODELS_DIR } from '../src/platform/node.ts';
import type { EntityGroup, TokenEntity } from '../src/pipelines/token-classification.ts';
import type { FillMaskResult } from '../src/pipelines/fill-mask.ts';

const missing = (task: Task) => (existsSync(join(MODELS_DIR, DEFAULT_MODELS[task]!, 'config.json')) ? false : `${DEFAULT_MODELS[task]} not built yet`);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test('embedded fill-mask model: five candidates, best first, each filling the sentence', { skip: missing('fill-mask') }, async () => {
  const pipe = await pipeline('fill-mask', null, { threads: 1 });
  try {
    const mask = pipe.tokenizer.maskToken;
    const got = await pipe(`He walked into the ${mask} and sat down.`) as FillMaskResult[];
    assert.equal(got.length, 5);
    for (let k = 1; k < 5; k++) assert.ok(got[k - 1]!.score >= got[k]!.score);
    assert.ok(sum(got.map((r) => r.score)) <= 1 + 1e-15); // a float64 floor (~4.5 ulp)
    for (const r of got) {
      assert.ok(r.sequence.startsWith('He walked into the') && r.sequence.endsWith('and sat down.'), r.sequence);
      assert.ok(r.sequence.includes(r.token_str.trim()), `${r.token_str} in ${r.sequence}`);
    }
  } finally {
    await pipe.dispose();
  }
});

test('embedded spam classifier: its labels, probabilities summing to one', { skip: missing('text-classification') }, async () => {
  const pipe = await pipeline('text-classification', null, { threads: 1 });
  try {
    const labels = Object.values(pipe.model.config.id2label);
    const out = await pipe.run(['WIN a FREE prize now!!! Click here to claim your cash', 'Are we still meeting for lunch tomorrow?'], { topK: null });
    for (const r of out) {
      assert.deepEqual(r.map((c) => c.label).sort(), [...labels].sort());
      assert.ok(Math.abs(sum(r.map((c) => c.score)) - 1) < 1e-15); // measured 1.1e-16: a float64 floor (~4.5 ulp)
    }
  } finally {
    await pipe.dispose();
  }
});

test('embedded POS tagger: a tag for every word, spans that map back to the text', { skip: missing('token-classification') }, async () => {
  const pipe = await pipeline('token-classification', null, { threads: 1 });
  try {
    const text = 'The old man walked slowly to the river.';
    const tokens = await pipe(text, { ignoreLabels: [] }) as TokenEntity[];
    const labels = new Set(Object.values(pipe.model.config.id2label));
    for (const t of tokens) {
      assert.ok(labels.has(t.entity));
      assert.equal(text.slice(t.start, t.end), t.word.replace(/^▁/, ''));
    }
    const words = await pipe(text, { aggregationStrategy: 'first', ignoreLabels: [] }) as EntityGroup[];
    for (const w of words) assert.equal(text.slice(w.start, w.end), w.word);
    assert.equal(words.map((w) => w.word).join(' ').replace(' .', '.'), text);
  } finally {
    await pipe.dispose();
  }
});

test('embedded encoder: unit-length sentence embeddings', { skip: missing('feature-extraction') }, async () => {
  const pipe = await pipeline('feature-extraction', null, { threads: 1 });
  try {
    const [a, b] = await pipe.run(['The cat sat on the mat.', 'A cat was sitting on a mat.'], { normalize: true });
    assert.equal(a!.length, pipe.model.config.hidden_size);
    assert.ok(Math.abs(Math.hypot(...a!) - 1) < 2e-15 && Math.abs(Math.hypot(...b!) - 1) < 2e-15); // measured 0: a float64 floor
  } finally {
    await pipe.dispose();
  }
});
