// Options as transformers.js users write them: snake_case names work as the camelCase ones do, an unknown
// name is a TypeError that names it and lists the accepted ones, and `from_pretrained` exists beside
// `fromPretrained`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { AutoModelForSequenceClassification } from '../src/models/auto.ts';
import { pipeline, type ClassificationResult, type FillMaskResult } from '../src/pipelines/index.ts';
import { readOptions } from '../src/pipelines/options.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

const NLI = (c: Record<string, unknown>) => {
  c.id2label = { 0: 'contradiction', 1: 'neutral', 2: 'entailment' };
  c.label2id = { contradiction: 0, neutral: 1, entailment: 2 };
};

test('readOptions: either spelling, one canonical name; unknown names and doubled options are TypeErrors', () => {
  const accepted = ['topK', 'functionToApply', 'progress_callback'] as const;
  assert.deepEqual(readOptions('t', { top_k: 3, functionToApply: 'none', progressCallback: 'f' }, accepted),
    { topK: 3, functionToApply: 'none', progress_callback: 'f' });
  assert.deepEqual(readOptions('t', undefined, accepted), {});
  assert.deepEqual(readOptions('t', { topK: undefined }, accepted), {});
  assert.throws(() => readOptions('fill-mask', { topk: 3 }, accepted),
    (err: Error) => err instanceof TypeError && err.message === "fill-mask: unknown option 'topk' (accepted: topK (top_k), functionToApply (function_to_apply), progress_callback (progressCallback))");
  assert.throws(() => readOptions('t', { top_k: 1, topK: 2 }, accepted), /t: 'top_k' and 'topK' are one option; give it once/);
  assert.throws(() => readOptions('t', [1], accepted), /t: options must be an object, got an array/);
});

test('fill-mask and text-classification take top_k and function_to_apply as transformers.js writes them', async () => {
  const fill = await pipeline('fill-mask', withTinyTokenizer('v3-buckets-mlm'), { threads: 1 });
  try {
    const text = 'the cat sat on the [MASK] .';
    const three = (await fill(text, { top_k: 3 })) as FillMaskResult[];
    assert.equal(three.length, 3);
    assert.deepEqual(three, await fill(text, { topK: 3 }));
    assert.equal(((await fill(text)) as FillMaskResult[]).length, 5);
    await assert.rejects(fill(text, { top_k: 3, dtype: 'fp32' } as never),
      (err: Error) => err instanceof TypeError && /^fill-mask: unknown option 'dtype' \(accepted: batchSize \(batch_size\), onProgress \(on_progress\), topK \(top_k\), targets\)$/.test(err.message));
  } finally {
    await fill.dispose();
  }
  const classify = await pipeline('text-classification', withTinyTokenizer('v3-buckets-seqcls'), { threads: 1 });
  try {
    const all = await classify('the cat sat', { top_k: null });
    assert.equal(all.length, 3);
    assert.deepEqual(all, await classify('the cat sat', { topK: null }));
    const raw = await classify('the cat sat', { top_k: null, function_to_apply: 'none' });
    assert.ok(raw.some((r) => r.score < 0 || r.score > 1), `raw logits expected, got ${JSON.stringify(raw)}`);
    await assert.rejects(classify('x', { return_all_scores: true } as never), /text-classification: unknown option 'return_all_scores'/);
  } finally {
    await classify.dispose();
  }
});

test('zero-shot, token classification, QA and feature extraction take the snake_case names', async () => {
  const zs = await pipeline('zero-shot-classification', withTinyTokenizer('v3-buckets-seqcls', NLI), { threads: 1 });
  try {
    const a = await zs('the cat sat', ['animals', 'sport'], { hypothesis_template: 'It is {}.', multi_label: true } as never);
    assert.deepEqual(a, await zs('the cat sat', ['animals', 'sport'], { hypothesisTemplate: 'It is {}.', multiLabel: true }));
    assert.notDeepEqual(a.scores, (await zs('the cat sat', ['animals', 'sport'])).scores);
  } finally {
    await zs.dispose();
  }
  const ner = await pipeline('ner', withTinyTokenizer('v3-buckets-tokcls'), { threads: 1 });
  try {
    const grouped = await ner('the cat sat on the mat', { aggregation_strategy: 'simple', ignore_labels: [] });
    assert.deepEqual(grouped, await ner('the cat sat on the mat', { aggregationStrategy: 'simple', ignoreLabels: [] }));
    assert.ok(grouped.every((g) => 'entity_group' in g));
  } finally {
    await ner.dispose();
  }
  const qa = await pipeline('question-answering', withTinyTokenizer('v3-buckets-qa'), { threads: 1 });
  try {
    const two = await qa('who sat', 'the cat sat on the mat', { top_k: 2, max_answer_len: 3 });
    assert.deepEqual(two, await qa('who sat', 'the cat sat on the mat', { topK: 2, maxAnswerLen: 3 }));
    assert.equal((two as unknown[]).length, 2);
    await assert.rejects(qa('who', 'the cat', { topk: 2 } as never), /question-answering: unknown option 'topk' \(accepted: .*topK \(top_k\)/);
  } finally {
    await qa.dispose();
  }
  const embed = await pipeline('feature-extraction', withTinyTokenizer('v3-buckets-base'), { threads: 1 });
  try {
    await assert.rejects(embed('x', { pooling: 'mean', quantize: true } as never), /feature-extraction: unknown option 'quantize'/);
  } finally {
    await embed.dispose();
  }
});

test('pipeline() options: either spelling, dtype q8 quantizes, unknown names and dtypes are named', async () => {
  const dir = withTinyTokenizer('v3-buckets-seqcls');
  await assert.rejects(pipeline('text-classification', dir, { thread: 1 } as never),
    (err: Error) => err instanceof TypeError && /^pipeline\('text-classification'\): unknown option 'thread' \(accepted: threads, device, batchSize \(batch_size\)/.test(err.message));
  await assert.rejects(pipeline('text-classification', dir, { dtype: 'q4' } as never), /text-classification: unsupported dtype 'q4' \(use 'fp32', 'fp16', 'q8', 'int8'\)/);
  const fp32 = await pipeline('text-classification', dir, { threads: 1, batch_size: 2 } as never);
  const q8 = await pipeline('text-classification', dir, { threads: 1, dtype: 'q8' });
  try {
    assert.equal(fp32.batchSize, 2);
    const a = await fp32('the cat sat on the mat', { topK: null }) as ClassificationResult[];
    const b = await q8('the cat sat on the mat', { topK: null }) as ClassificationResult[];
    const score = (xs: ClassificationResult[], l: string) => xs.find((x) => x.label === l)!.score;
    const diff = Math.max(...a.map((x) => Math.abs(x.score - score(b, x.label))));
    // int8 moves the probabilities, but not far: measured 2.9e-3; bounds 2.5× above and a third below.
    assert.ok(diff > 1e-3 && diff < 7.5e-3, `fp32 vs q8 probabilities differ by ${diff}`);
  } finally {
    await fp32.dispose();
    await q8.dispose();
  }
});

test('from_pretrained beside fromPretrained', async () => {
  const dir = withTinyTokenizer('v3-buckets-seqcls');
  const tok = await AutoTokenizer.from_pretrained(dir);
  const model = await AutoModelForSequenceClassification.from_pretrained(dir, { threads: 1 });
  try {
    const { logits } = await model(tok(['the cat sat'], { padding: true }));
    assert.deepEqual(logits!.dims, [1, 3]);
  } finally {
    await model.dispose();
  }
});
