// feature-extraction on the transformers-made base fixture: mean and [CLS] pooling and normalisation
// checked against the last hidden states of unpadded rows; a masked-LM checkpoint serves embeddings too.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from '../src/pipelines/index.ts';
import type { PipelineBase } from '../src/pipelines/base.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

async function hidden(pipe: PipelineBase, text: string): Promise<number[][]> {
  const ids = pipe.tokenizer.encode(text);
  const { lastHiddenState: h } = await pipe.model({ inputIds: [ids] });
  const H = h!.dims[2]!;
  return ids.map((_, t) => Array.from(h!.data.subarray(t * H, (t + 1) * H)));
}

const closeVec = (a: number[], b: number[], what: string) => {
  assert.equal(a.length, b.length, `${what}: length`);
  // Measured up to 1.0e-7 (1 and 2 threads), float32 rounding: a floor of 4 float32 ulp at the value's scale.
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 4 * 2 ** -23 * Math.max(1, Math.abs(b[i]!)), `${what}[${i}] ${v} vs ${b[i]}`));
};

test('feature-extraction: mean / cls / none pooling and normalisation from the last hidden states; a tensor when called', async () => {
  const pipe = await pipeline('embeddings', withTinyTokenizer('v3-buckets-base'), { threads: 1, batchSize: 2 });
  try {
    const texts = ['The quick brown fox jumps over the lazy dog.', 'Hi', 'A medium sized sentence here.'];
    const mean = await pipe.run(texts);
    const cls = await pipe.run(texts, { pooling: 'cls' });
    const unit = await pipe.run(texts, { normalize: true });
    const tokens = await pipe.run(texts, { pooling: 'none' });
    for (const [i, text] of texts.entries()) {
      const h = await hidden(pipe, text);
      const m = h[0]!.map((_, k) => h.reduce((s, row) => s + row[k]!, 0) / h.length);
      closeVec(mean[i]!, m, `mean ${i}`);
      closeVec(cls[i]!, h[0]!, `cls ${i}`);
      const norm = Math.hypot(...m);
      closeVec(unit[i]!, m.map((v) => v / norm), `normalized ${i}`);
      assert.ok(Math.abs(Math.hypot(...unit[i]!) - 1) < 2e-15); // measured 0: a float64 floor (~9 ulp)
      assert.equal(tokens[i]!.length, h.length);
      tokens[i]!.forEach((row, t) => closeVec(row, h[t]!, `token ${i},${t}`));
    }
    assert.equal(mean[0]!.length, 32);
    closeVec((await pipe.run(['Hi']))[0]!, mean[1]!, 'single text');
    // Called as transformers.js calls it: a tensor, batch first; 'none' by default, padded to the longest text.
    const states = await pipe(texts);
    const longest = Math.max(...tokens.map((t) => t.length));
    assert.deepEqual(states.dims, [3, longest, 32]);
    const list = states.tolist() as number[][][];
    tokens.forEach((rows, i) => rows.forEach((row, t) => closeVec(list[i]![t]!, row, `tensor token ${i},${t}`)));
    const pooled = await pipe(texts, { pooling: 'mean' });
    assert.deepEqual(pooled.dims, [3, 32]);
    (pooled.tolist() as number[][]).forEach((v, i) => closeVec(v, mean[i]!, `tensor mean ${i}`));
    const one = await pipe('Hi', { pooling: 'first_token' });
    assert.deepEqual(one.dims, [1, 32]);
    closeVec(Array.from(one.data), cls[1]!, 'first_token is cls');
    await assert.rejects(pipe('x', { pooling: 'max' as never }), /unknown pooling "max" \(expected one of none, mean, cls, first_token\)/);
    await assert.rejects(pipe.run([42 as never]), /input 0 must be a string, got number/);
  } finally {
    await pipe.dispose();
  }
  // Any checkpoint has the encoder: a masked-LM one embeds too.
  const mlm = await pipeline('feature-extraction', withTinyTokenizer('v3-buckets-mlm'), { threads: 1 });
  try {
    assert.deepEqual((await mlm('hello', { pooling: 'mean' })).dims, [1, 32]);
  } finally {
    await mlm.dispose();
  }
});
