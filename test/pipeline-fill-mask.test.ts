// fill-mask on transformers-made fixture checkpoints (a cls-layout masked LM, and Microsoft's
// lm_predictions layout with the Enhanced Mask Decoder): predictions checked against a softmax computed
// here from the raw logits of the same checkpoint loaded as a plain masked LM (every position), row by
// row without padding. The pipeline's own model predicts at the mask token only.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel, type DebertaModel } from '../src/models/auto.ts';
import { pipeline } from '../src/pipelines/index.ts';
import type { FillMaskPipeline, FillMaskResult } from '../src/pipelines/fill-mask.ts';
import { FIXTURES, cleanup, softmaxRef, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

/** The expected top-k of each mask of `text`, from one unpadded forward pass of `full` (logits at every position). */
async function expected(pipe: FillMaskPipeline, full: DebertaModel, text: string, k: number): Promise<{ id: number; p: number }[][]> {
  const ids = pipe.tokenizer.encode(text);
  const { logits } = await full({ inputIds: [ids] });
  const V = logits!.dims[2]!;
  return ids.flatMap((id, pos) => (id === pipe.tokenizer.maskTokenId ? [pos] : [])).map((pos) => {
    const probs = softmaxRef(logits!.data.subarray(pos * V, (pos + 1) * V));
    return probs.map((p, id) => ({ id, p })).sort((a, b) => b.p - a.p).slice(0, k);
  });
}

function assertMatches(got: FillMaskResult[], want: { id: number; p: number }[], pipe: FillMaskPipeline, text: string): void {
  assert.deepEqual(got.map((r) => r.token), want.map((w) => w.id));
  got.forEach((r, i) => {
    // Measured 0 (1 and 2 threads): a floor of 4 float32 ulp.
    assert.ok(Math.abs(r.score - want[i]!.p) < 4 * 2 ** -23, `score ${r.score} vs ${want[i]!.p}`);
    assert.equal(r.token_str, pipe.tokenizer.decode([r.token]));
  });
  // The sequence is the input with the mask replaced, decoded without special tokens.
  const ids = pipe.tokenizer.encode(text);
  const pos = ids.indexOf(pipe.tokenizer.maskTokenId);
  assert.equal(got[0]!.sequence, pipe.tokenizer.decode(ids.map((id, j) => (j === pos ? got[0]!.token : id)), { skipSpecialTokens: true }));
}

test('fill-mask: top-k tokens and scores from the logits; batches padded per batch, results in input order', async () => {
  const pipe = await pipeline('fill-mask', withTinyTokenizer('v3-buckets-mlm'), { threads: 1, batchSize: 2 });
  const full = await loadModel(withTinyTokenizer('v3-buckets-mlm'), 'masked-lm', { threads: 1 });
  try {
    assert.equal(pipe.tokenizer.maskTokenId, 127);
    // Only the mask tokens' rows come out of the pipeline's model: [masks, vocab].
    const two = await pipe.model({ inputIds: [pipe.tokenizer.encode('The [MASK] sat on the [MASK].')] });
    assert.deepEqual(Object.keys(two), ['maskLogits']);
    assert.deepEqual(two.maskLogits!.dims, [2, 128]);
    const texts = ['The cat [MASK] on the mat.', 'A [MASK]', 'We went to the [MASK] and then we had a long walk by the river in the evening.'];
    const batch = await pipe(texts, { topK: 4 }) as FillMaskResult[][];
    assert.equal(batch.length, 3);
    for (const [i, text] of texts.entries()) {
      const want = (await expected(pipe, full, text, 4))[0]!;
      assertMatches(batch[i]!, want, pipe, text);
      const single = await pipe(text, { topK: 4 }) as FillMaskResult[];
      assert.deepEqual(single.map((r) => [r.token, r.sequence]), batch[i]!.map((r) => [r.token, r.sequence]), 'a batch gives what single calls give');
      single.forEach((r, k) => assert.ok(Math.abs(r.score - batch[i]![k]!.score) < 4 * 2 ** -23)); // measured 0: a float32 floor
    }
  } finally {
    await pipe.dispose();
    await full.dispose();
  }
});

test('fill-mask: several masks give one list per mask; targets restrict the candidates', async () => {
  const pipe = await pipeline('fill-mask', withTinyTokenizer('v3-buckets-mlm'), { threads: 1 });
  const full = await loadModel(withTinyTokenizer('v3-buckets-mlm'), 'masked-lm', { threads: 1 });
  try {
    const text = 'The [MASK] sat on the [MASK].';
    const out = await pipe(text, { topK: 3 }) as FillMaskResult[][];
    const want = await expected(pipe, full, text, 3);
    assert.equal(out.length, 2);
    out.forEach((m, k) => assert.deepEqual(m.map((r) => r.token), want[k]!.map((w) => w.id)));
    // As transformers: with several masks the sequence keeps the special tokens and the other mask.
    assert.match(out[0]![0]!.sequence, /^\[CLS\].*\[MASK\].*\[SEP\]$/);

    // Targets: the probabilities of just those words, best first.
    const targets = ['the', 'on', 'cat'];
    const ids = pipe.tokenizer.encode('Look [MASK] now');
    const { logits } = await full({ inputIds: [ids] });
    const V = logits!.dims[2]!;
    const pos = ids.indexOf(127);
    const probs = softmaxRef(logits!.data.subarray(pos * V, (pos + 1) * V));
    const targetIds = targets.map((t) => pipe.tokenizer.encode(t, null, { addSpecialTokens: false })[0]!);
    const got = await pipe('Look [MASK] now', { targets }) as FillMaskResult[];
    assert.equal(got.length, 3);
    assert.deepEqual(new Set(got.map((r) => r.token)), new Set(targetIds));
    for (const r of got) assert.ok(Math.abs(r.score - probs[r.token]!) < 4 * 2 ** -23); // measured 0: a float32 floor
    assert.ok(got[0]!.score >= got[1]!.score && got[1]!.score >= got[2]!.score);
  } finally {
    await pipe.dispose();
    await full.dispose();
  }
});

test('fill-mask: an EMD checkpoint predicts through the Enhanced Mask Decoder', async () => {
  const dir = withTinyTokenizer(join(FIXTURES, 'emd', 'emd-v3'));
  const pipe = await pipeline('fill-mask', dir, { threads: 1 });
  const plain = await loadModel(dir, 'masked-lm', { threads: 1, emd: false });
  const full = await loadModel(dir, 'masked-lm', { threads: 1 });
  try {
    const text = 'the man went to [MASK] in the morning';
    const got = await pipe(text, { topK: 5 }) as FillMaskResult[];
    assertMatches(got, (await expected(pipe, full, text, 5))[0]!, pipe, text);
    // Without the decoder the same weights give other probabilities: the pipeline did use it.
    const ids = pipe.tokenizer.encode(text);
    const pos = ids.indexOf(127);
    const { logits } = await plain({ inputIds: [ids] });
    const noEmd = softmaxRef(logits!.data.subarray(pos * 128, (pos + 1) * 128));
    // Measured 0.334 apart; the bound is a third of that.
    assert.ok(Math.abs(noEmd[got[0]!.token]! - got[0]!.score) > 0.1, 'EMD and plain LM head agree: decoder not used?');
  } finally {
    await pipe.dispose();
    await plain.dispose();
    await full.dispose();
  }
});

test('fill-mask: clear errors for a text without mask, a wrong head, bad topK', async () => {
  const pipe = await pipeline('fill-mask', withTinyTokenizer('v3-buckets-mlm'), { threads: 1 });
  try {
    await assert.rejects(pipe('no mask here'), /input 0 .*no mask token; write \[MASK\]/);
    await assert.rejects(pipe(['a [MASK]', 'none']), /input 1/);
    await assert.rejects(pipe('a [MASK]', { topK: 0 }), /topK must be a positive integer/);
  } finally {
    await pipe.dispose();
  }
  const short = await pipeline('fill-mask', withTinyTokenizer('v3-buckets-mlm'), { threads: 1, maxLength: 8 });
  await assert.rejects(short('one two three four five six seven [MASK]'), /mask token lies beyond maxLength \(8 tokens\)/);
  await short.dispose();
  await assert.rejects(pipeline('fill-mask', withTinyTokenizer('v3-buckets-seqcls')), /DebertaV2ForSequenceClassification checkpoint; this task needs a masked-LM/);
  await assert.rejects(pipeline('fill-mask', join(FIXTURES, 'models', 'v3-buckets-mlm')), /cannot open|tokenizer/i);
});
