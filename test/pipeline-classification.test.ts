// text-classification, zero-shot-classification and rerank on transformers-made sequence-classification
// fixtures (3 labels, multi-label, regression): scores checked against softmax / sigmoid of the raw
// logits of each (text, pair) row computed here without padding.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { pipeline, type ClassificationResult } from '../src/pipelines/index.ts';
import type { PipelineBase } from '../src/pipelines/base.ts';
import { tensor } from '../src/tensor.ts';
import { cleanup, softmaxRef, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

// Scores (at most 1): measured 0 to 1.2e-7 (rerank, batched vs single; 1 and 2 threads), float32 rounding: a floor of 4 float32 ulp.
const close = (a: number, b: number, what = '') => assert.ok(Math.abs(a - b) < 4 * 2 ** -23, `${what} ${a} vs ${b}`);
const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

async function rawLogits(pipe: PipelineBase, a: string, b: string | null = null, truncation?: 'only_first'): Promise<number[]> {
  const enc = pipe.tokenizer.encodeBatch([[a, b]], truncation ? { truncation, maxLength: pipe.maxLength } : {});
  const out = await pipe.model({ inputIds: enc.inputIds, tokenTypeIds: enc.tokenTypeIds });
  return Array.from(out.logits!.data);
}

const NAMED = (c: Record<string, unknown>) => {
  c.id2label = { 0: 'negative', 1: 'neutral', 2: 'positive' };
  delete c.label2id;
};

test('text-classification: softmax over id2label, top-k, pairs; batches in input order', async () => {
  const pipe = await pipeline('sentiment-analysis', withTinyTokenizer('v3-buckets-seqcls', NAMED), { threads: 1, batchSize: 2 });
  try {
    const inputs = ['I loved this film.', { text: 'The plot', textPair: 'was thin and slow' }, 'ok', { text: 'a', text_pair: 'b c d e f g' }];
    const all = await pipe(inputs, { topK: null }) as ClassificationResult[][];
    const top = await pipe.run(inputs);
    // transformers.js' nesting: a batch with one label each comes back flat.
    assert.deepEqual(await pipe(inputs), top.map((t) => t[0]));
    for (const [i, x] of inputs.entries()) {
      const [a, b] = typeof x === 'string' ? [x, null] : [x.text, (x as { textPair?: string; text_pair?: string }).textPair ?? (x as { text_pair: string }).text_pair];
      const probs = softmaxRef(await rawLogits(pipe, a, b));
      const want = probs.map((p, k) => ({ label: ['negative', 'neutral', 'positive'][k]!, p })).sort((u, v) => v.p - u.p);
      assert.deepEqual(all[i]!.map((r) => r.label), want.map((w) => w.label));
      all[i]!.forEach((r, k) => close(r.score, want[k]!.p, r.label));
      close(all[i]!.reduce((s, r) => s + r.score, 0), 1, 'sum');
      assert.equal(top[i]!.length, 1);
      assert.deepEqual(top[i]![0], all[i]![0]);
    }
    const one = await pipe('I loved this film.', { topK: 2 });
    assert.deepEqual(one, all[0]!.slice(0, 2));
    // functionToApply overrides the config's choice.
    const raw = await pipe('ok', { topK: null, functionToApply: 'none' });
    const logits = await rawLogits(pipe, 'ok');
    for (const r of raw) close(r.score, logits[['negative', 'neutral', 'positive'].indexOf(r.label)]!);
    await assert.rejects(pipe('ok', { functionToApply: 'tanh' as never }), /text-classification: unknown functionToApply "tanh" \(expected one of softmax, sigmoid, none\)$/);
    await assert.rejects(pipe({ text: 1 } as never), /input 0: text must be a string/);
  } finally {
    await pipe.dispose();
  }
});

test('text-classification: sigmoid for multi-label, raw score for regression', async () => {
  const multi = await pipeline('text-classification', withTinyTokenizer('v3-buckets-seqcls-multilabel'), { threads: 1 });
  try {
    assert.equal(multi.model.config.problem_type, 'multi_label_classification');
    const got = await multi('a short text', { topK: null });
    const logits = await rawLogits(multi, 'a short text');
    assert.equal(got.length, logits.length);
    for (const r of got) close(r.score, sigmoid(logits[Number(r.label.replace('LABEL_', ''))]!), r.label);
    // The four sigmoids sum to 2.15 here (measured); the bound is 0.15 below.
    assert.ok(got.reduce((s, r) => s + r.score, 0) > 2, 'independent sigmoids do not sum to 1');
  } finally {
    await multi.dispose();
  }
  const reg = await pipeline('text-classification', withTinyTokenizer('v3-buckets-seqcls-regression'), { threads: 1 });
  try {
    const problem = reg.model.config.problem_type;
    const [r] = await reg('how much?');
    const [logit] = await rawLogits(reg, 'how much?');
    // num_labels 1 without problem_type: transformers applies a sigmoid; problem_type regression: none.
    close(r!.score, problem === 'regression' ? logit! : sigmoid(logit!));
    assert.equal(r!.label, 'LABEL_0');
  } finally {
    await reg.dispose();
  }
});

const NLI = (c: Record<string, unknown>) => {
  c.id2label = { 0: 'CONTRADICTION', 1: 'Neutral', 2: 'ENTAILMENT' };
  delete c.label2id;
};

test('zero-shot: single-label scores sum to one; multi-label: entailment against contradiction per label', async () => {
  const pipe = await pipeline('zero-shot-classification', withTinyTokenizer('v3-buckets-seqcls', NLI), { threads: 1, batchSize: 2 });
  try {
    assert.equal(pipe.entailmentId, 2);
    assert.equal(pipe.contradictionId, 0);
    const text = 'The match ended with a late goal.';
    const labels = ['sport', 'politics', 'cooking', 'music'];
    const single = await pipe(text, labels);
    close(single.scores.reduce((a, b) => a + b, 0), 1, 'sum');
    const logits = await Promise.all(labels.map((l) => rawLogits(pipe, text, `This example is ${l}.`, 'only_first')));
    const want = softmaxRef(logits.map((l) => l[2]!));
    assert.equal(single.sequence, text);
    assert.deepEqual([...single.labels].sort(), [...labels].sort());
    single.labels.forEach((l, k) => close(single.scores[k]!, want[labels.indexOf(l)]!, l));
    for (let k = 1; k < single.scores.length; k++) assert.ok(single.scores[k - 1]! >= single.scores[k]!);

    const multi = await pipe(text, 'sport, politics,cooking , music', { multiLabel: true, hypothesisTemplate: 'It is about {}' });
    const ml = await Promise.all(labels.map((l) => rawLogits(pipe, text, `It is about ${l}`, 'only_first')));
    multi.labels.forEach((l, k) => {
      const x = ml[labels.indexOf(l)]!;
      close(multi.scores[k]!, softmaxRef([x[0]!, x[2]!])[1]!, l);
    });

    const batch = await pipe([text, 'Parliament passed the bill.'], labels);
    assert.equal(batch.length, 2);
    assert.deepEqual(batch[0]!.labels, single.labels);
    batch[0]!.scores.forEach((v, k) => close(v, single.scores[k]!));
    close(batch[1]!.scores.reduce((a, b) => a + b, 0), 1);

    await assert.rejects(pipe(text, []), /candidateLabels is empty/);
    await assert.rejects(pipe(text, ' , '), /candidateLabels is empty/);
    await assert.rejects(pipe(text, labels, { hypothesisTemplate: 'no slot' }), /zero-shot-classification: hypothesisTemplate has no \{\} where the label goes$/);
  } finally {
    await pipe.dispose();
  }
});

test('zero-shot: two-way entailment / not_entailment models; models without an entailment label are refused', async () => {
  // Keep two of the three classifier rows: a two-way NLI head.
  const dir = withTinyTokenizer('v3-buckets-seqcls', (c) => {
    c.id2label = { 0: 'not_entailment', 1: 'Entailment' };
    delete c.label2id;
  });
  const { tensors } = readSafetensors(join(dir, 'model.safetensors'));
  const w = tensors.get('classifier.weight')!, b = tensors.get('classifier.bias')!;
  const P = w.dims[1]!;
  tensors.set('classifier.weight', tensor('float32', [2, P], (w.data as Float32Array).slice(P)));
  tensors.set('classifier.bias', tensor('float32', [2], (b.data as Float32Array).slice(1)));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const pipe = await pipeline('zero-shot', dir, { threads: 1 });
  try {
    assert.equal(pipe.entailmentId, 1);
    assert.equal(pipe.contradictionId, 0);
    const one = await pipe('It rained all day.', ['weather']);
    const [c, e] = await rawLogits(pipe, 'It rained all day.', 'This example is weather.', 'only_first');
    close(one.scores[0]!, softmaxRef([c!, e!])[1]!);
  } finally {
    await pipe.dispose();
  }
  const cfgFile = join(dir, 'config.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  cfg.id2label = { 0: 'yes', 1: 'no' };
  cfg.label2id = { yes: 0, no: 1 };
  writeFileSync(cfgFile, JSON.stringify(cfg));
  await assert.rejects(pipeline('zero-shot', dir, { threads: 1 }), /not an NLI model: config.json's label2id has no entailment label \(labels: "yes", "no"\)/);
});

test('rerank: cross-encoder scores (sigmoid of the one logit) per query/document pair, best first', async () => {
  const pipe = await pipeline('rerank', withTinyTokenizer('v3-buckets-seqcls-regression'), { threads: 1, batchSize: 2 });
  try {
    const query = 'where do cats sleep';
    const docs = ['Cats sleep in the sun.', 'The stock market fell.', 'A dog barked at night, and the cat slept on.', 'x'];
    const ranked = await pipe(query, docs, { returnDocuments: true });
    assert.equal(ranked.length, 4);
    for (const r of ranked) {
      const [logit] = await rawLogits(pipe, query, docs[r.index]!);
      close(r.score, sigmoid(logit!), `doc ${r.index}`);
      assert.equal(r.document, docs[r.index]);
    }
    for (let k = 1; k < ranked.length; k++) assert.ok(ranked[k - 1]!.score >= ranked[k]!.score);
    assert.deepEqual(new Set(ranked.map((r) => r.index)), new Set([0, 1, 2, 3]));
    const top2 = await pipe(query, docs, { topK: 2 });
    assert.deepEqual(top2.map((r) => r.index), ranked.slice(0, 2).map((r) => r.index));
    assert.equal(top2[0]!.document, undefined);
    const scores = await pipe.score(docs.map((d) => [query, d]));
    ranked.forEach((r) => close(scores[r.index]!, r.score));
  } finally {
    await pipe.dispose();
  }
  await assert.rejects(pipeline('rerank', withTinyTokenizer('v3-buckets-seqcls'), { threads: 1 }), /has 3 labels; a cross-encoder has one/);
});

test('rerank: several queries in one call give what one call per query gives', async () => {
  const pipe = await pipeline('rerank', withTinyTokenizer('v3-buckets-seqcls-regression'), { threads: 1, batchSize: 3 });
  try {
    const inputs = [
      { query: 'where do cats sleep', documents: ['Cats sleep in the sun.', 'The stock market fell.', 'A dog barked at night.'] },
      { query: 'market news', documents: ['The stock market fell.', 'x'] },
      { query: 'one', documents: ['a single document about nothing'] },
    ];
    const singles = await Promise.all(inputs.map((x) => pipe(x.query, x.documents, { returnDocuments: true })));
    const batch = await pipe(inputs, { returnDocuments: true });
    assert.equal(batch.length, 3);
    for (const [q, ranking] of batch.entries()) {
      assert.deepEqual(ranking.map((r) => [r.index, r.document]), singles[q]!.map((r) => [r.index, r.document]), `query ${q}: the same order`);
      ranking.forEach((r, k) => close(r.score, singles[q]![k]!.score, `query ${q} document ${r.index}`));
      // Real scores: the sigmoid of the pair's own logit.
      for (const r of ranking) close(r.score, sigmoid((await rawLogits(pipe, inputs[q]!.query, inputs[q]!.documents[r.index]!))[0]!), `query ${q} doc ${r.index}`);
    }
    // The two-list form and one {query, documents} give the same; top_k applies per query.
    const lists = await pipe(inputs.map((x) => x.query), inputs.map((x) => x.documents), { top_k: 1 });
    assert.deepEqual(lists.map((r) => r.map((x) => x.index)), singles.map((s) => [s[0]!.index]));
    assert.deepEqual(await pipe(inputs[1]!, { returnDocuments: true }), singles[1]);
    await assert.rejects(pipe(['a', 'b'], [['x']]), /rerank: 2 queries for 1 lists of documents/);
    await assert.rejects(pipe([{ query: 'q', documents: ['ok', 3] } as never]), /rerank: input 0: documents\[1\] must be a string, got number/);
    await assert.rejects(pipe('q', ['d'], { activation: 'relu' } as never), /^Error: rerank: unknown activation "relu" \(expected one of sigmoid, none\)$/);
  } finally {
    await pipe.dispose();
  }
});
