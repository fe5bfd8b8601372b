// question-answering: on the transformers-made QA fixture, the best spans against a brute-force search
// over the raw start/end logits; on a lookup model whose start/end logits are a table by token, an answer
// that straddles the edge of the first window and is found whole in the next, and "no answer".
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from '../src/pipelines/index.ts';
import type { QuestionAnsweringResult } from '../src/pipelines/question-answering.ts';
import { cleanup, lookupModel, softmaxRef, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

// Measured 0 to 1.5e-7 (1 and 2 threads), float32 rounding: a floor of 4 float32 ulp.
const close = (a: number, b: number, what = '') => assert.ok(Math.abs(a - b) < 4 * 2 ** -23 * Math.max(1, Math.abs(b)), `${what} ${a} vs ${b}`);

test('question-answering: best spans of the start × end probabilities, offsets into the context', async () => {
  const pipe = await pipeline('question-answering', withTinyTokenizer('v3-buckets-qa'), { threads: 1 });
  try {
    const question = 'Who wrote it?';
    const context = 'The letter was written by an old sailor in the harbour town.';
    const got = await pipe(question, context, { topK: 3, maxAnswerLen: 6 }) as QuestionAnsweringResult[];
    // Brute force: softmax over the context tokens and [CLS], every span of at most 6 context tokens.
    const enc = pipe.tokenizer(question, context, { returnOffsets: true, offsetUnits: 'utf16', returnSequenceIds: true });
    const ids = enc.inputIds[0]!;
    const out = await pipe.model({ inputIds: [ids], tokenTypeIds: enc.tokenTypeIds });
    const ctx = enc.sequenceIds![0]!.map((s) => s === 1);
    const allowed = (x: Float32Array) => Array.from(x, (v, i) => (ctx[i] || i === 0 ? v : -10000));
    const ps = softmaxRef(allowed(out.startLogits!.data)), pe = softmaxRef(allowed(out.endLogits!.data));
    const spans: { s: number; e: number; score: number }[] = [];
    for (let s = 0; s < ids.length; s++) for (let e = s; e < Math.min(ids.length, s + 6); e++) if (ctx[s] && ctx[e]) spans.push({ s, e, score: ps[s]! * pe[e]! });
    spans.sort((a, b) => b.score - a.score);
    assert.equal(got.length, 3);
    got.forEach((r, k) => {
      const w = spans[k]!;
      close(r.score, w.score, `answer ${k}`);
      const [s0, e0] = [enc.offsets![0]![w.s]![0], enc.offsets![0]![w.e]![1]];
      assert.equal(r.answer, context.slice(s0, e0).trim());
      assert.equal(context.slice(r.start, r.end), r.answer, 'offsets map back to the context');
    });
    // topK 1: one object, the best one; the object and the pair forms agree.
    assert.deepEqual(await pipe({ question, context }, { maxAnswerLen: 6 }), got[0]);
    // "No answer" competes with the score [CLS] start × [CLS] end.
    const withNull = await pipe(question, context, { topK: 10, maxAnswerLen: 6, handleImpossibleAnswer: true }) as QuestionAnsweringResult[];
    const empty = withNull.find((r) => r.answer === '')!;
    close(empty.score, ps[0]! * pe[0]!, 'null score');
    assert.deepEqual([empty.start, empty.end], [0, 0]);
    const batch = await pipe([{ question, context }, { question: 'Where?', context: 'In the harbour.' }], { maxAnswerLen: 6 }) as QuestionAnsweringResult[];
    assert.equal(batch.length, 2);
    assert.equal(batch[0]!.answer, got[0]!.answer);
  } finally {
    await pipe.dispose();
  }
});

// deberta-v3-unigram ids: [CLS] 1, ▁Paris 2549, ▁France 1927; "▁the" 4 and the question's tokens are background.
const CLS = 1, PARIS = 2549, FRANCE = 1927;
const TABLE = new Map<number, number[]>([
  [PARIS, [10, 0]], // start here
  [FRANCE, [0, 10]], // end here
  [CLS, [0, 6]], // [CLS] draws the end probability in windows without "France"
]);
const QUESTION = 'Where is the treasure?';

test('question-answering: an answer cut by a window edge is found whole in the next window', async () => {
  const pipe = await pipeline('qa', lookupModel({ head: 'question-answering', outputs: 2, table: TABLE, background: [0, 0] }), { threads: 1, batchSize: 2 });
  try {
    const context = `${'the '.repeat(7)}Paris France${' the'.repeat(12)}`;
    const opts = { maxSeqLen: 16, docStride: 4 };
    // The windows: 5 question tokens + 3 special tokens leave 8 context tokens; "Paris" is the last of
    // window 1 and "France" falls outside it; window 2 (context tokens 4-11) holds both.
    const enc = pipe.tokenizer(QUESTION, context, { truncation: 'only_second', maxLength: 16, stride: 4, returnOverflowingTokens: true, returnSequenceIds: true });
    assert.ok(enc.inputIds.length >= 3, `${enc.inputIds.length} windows`);
    assert.equal(enc.inputIds[0]!.at(-2), PARIS);
    assert.ok(!enc.inputIds[0]!.includes(FRANCE));
    const w2 = enc.inputIds[1]!;
    assert.ok(w2.includes(PARIS) && w2.indexOf(FRANCE) === w2.indexOf(PARIS) + 1);

    const got = await pipe(QUESTION, context, opts) as QuestionAnsweringResult;
    assert.equal(got.answer, 'Paris France');
    assert.equal(got.start, context.indexOf('Paris'));
    assert.equal(got.end, context.indexOf('France') + 'France'.length);
    // Its score: window 2's start probability of "Paris" × end probability of "France" (softmax over the
    // window's context tokens and [CLS]).
    const seq = enc.sequenceIds![1]!;
    const logits = (col: 0 | 1) => w2.map((id, i) => (seq[i] === 1 || id === CLS ? (TABLE.get(id)?.[col] ?? 0) : -10000));
    close(got.score, softmaxRef(logits(0))[w2.indexOf(PARIS)]! * softmaxRef(logits(1))[w2.indexOf(FRANCE)]!, 'score');
    assert.ok(got.score > 0.97); // measured 0.981; 0.01 below

    // The same answer is not listed twice although windows overlap; each answer maps back to the context.
    const top = await pipe(QUESTION, context, { ...opts, topK: 5 }) as QuestionAnsweringResult[];
    assert.equal(top[0]!.answer, 'Paris France');
    assert.equal(new Set(top.map((r) => `${r.start}:${r.end}`)).size, top.length);
    for (const r of top) assert.equal(context.slice(r.start, r.end), r.answer);
    // maxAnswerLen 1: "Paris France" (two tokens) is too long.
    const one = await pipe(QUESTION, context, { ...opts, maxAnswerLen: 1 }) as QuestionAnsweringResult;
    assert.notEqual(one.answer, 'Paris France');
  } finally {
    await pipe.dispose();
  }
});

test('question-answering: no answer wins where [CLS] is surest; errors name the option', async () => {
  const pipe = await pipeline('qa', lookupModel({ head: 'question-answering', outputs: 2, table: TABLE, background: [0, 0] }), { threads: 1 });
  try {
    const context = 'the the the the the the the the the the the the the the';
    const got = await pipe(QUESTION, context, { maxSeqLen: 16, docStride: 4, handleImpossibleAnswer: true }) as QuestionAnsweringResult;
    assert.deepEqual([got.answer, got.start, got.end], ['', 0, 0]);
    // Its score is the smallest [CLS] × [CLS] probability of any window: the first (longest) one here.
    const enc = pipe.tokenizer(QUESTION, context, { truncation: 'only_second', maxLength: 16, stride: 4, returnOverflowingTokens: true, returnSequenceIds: true });
    const nulls = enc.inputIds.map((ids, k) => {
      const col = (c: 0 | 1) => ids.map((id, i) => (enc.sequenceIds![k]![i] === 1 || id === CLS ? (TABLE.get(id)?.[c] ?? 0) : -10000));
      return softmaxRef(col(0))[0]! * softmaxRef(col(1))[0]!;
    });
    close(got.score, Math.min(...nulls), 'null score');
    // Without handleImpossibleAnswer some span is returned.
    assert.notEqual((await pipe(QUESTION, context, { maxSeqLen: 16, docStride: 4 }) as QuestionAnsweringResult).answer, '');

    await assert.rejects(pipe(QUESTION, context, { maxSeqLen: 16, docStride: 8 }), /the question takes 5 of maxSeqLen 16 tokens, leaving 8 for the context; docStride \(8\) must be smaller/);
    await assert.rejects(pipe(QUESTION, context, { maxSeqLen: 16, docStride: 16 }), /docStride \(16\) must be smaller than maxSeqLen \(16\)/);
    await assert.rejects(pipe('', context), /question is empty/);
    await assert.rejects(pipe([{ question: 'q', context: 'c' }, { question: 'q' } as never]), /input 1: context must be a string/);
    await assert.rejects(pipe(QUESTION, context, { topK: 0 }), /topK must be a positive integer/);
  } finally {
    await pipe.dispose();
  }
});
