// A single text truncated on the right runs the model only until it has one token more than it keeps:
// the result must be exactly the whole text's encoding cut to `maxLength` (ids, tokens, offsets, masks,
// type ids), for every tokenizer kind, with added tokens in the text, at every length around the cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer, type TokenizerSource } from '../src/tokenizers/index.ts';

const ROOT = 'test/fixtures/tokenizers';
const SETUPS: [string, TokenizerSource][] = [
  [join(ROOT, 'deberta-v3-unigram'), 'spm.model'],
  [join(ROOT, 'deberta-v3-unigram'), 'tokenizer.json'],
  [join(ROOT, 'deberta-v3-bpe'), 'tokenizer.json'],
  [join(ROOT, 'deberta-v1-gpt2bpe'), 'vocab.json'],
  [join(ROOT, 'deberta-v1-gpt2bpe'), 'tokenizer.json'],
  ['models/deberta-v3-brown-small', 'tokenizer.json'],
];

const TEXTS = [
  'The jury said Friday an investigation of Atlanta\'s recent primary election produced no evidence.',
  'naïve café  résumé\tcoöperate Ångström — a\u0300\u0301 e\u0301 ﬁne ㎏ 中文文本 😀👍🏽 שָׁלוֹם كِتَابٌ',
  'inline [MASK] tokens [SEP] and [CLS]text[MASK][MASK] around   spaces  ',
  '   leading and trailing   ',
  'x\ud800y \ude00 lone surrogates 👨\u200d👩\u200d👧 family',
];

/** The whole text encoded, then cut as transformers truncates a single sequence on the right. */
function cutByHand(tok: PreTrainedTokenizer, text: string, maxLength: number) {
  const full = tok(text, { returnOffsets: true, returnTokens: true, returnSpecialTokensMask: true });
  const keep = maxLength - 2; // [CLS] ... [SEP]
  const ids = full.inputIds[0]!;
  if (ids.length <= maxLength) return full;
  const cut = <T>(row: T[]): T[] => [row[0]!, ...row.slice(1, 1 + keep), row[row.length - 1]!];
  return {
    inputIds: [cut(ids)],
    attentionMask: [cut(full.attentionMask[0]!)],
    tokenTypeIds: [cut(full.tokenTypeIds[0]!)],
    offsets: [cut(full.offsets![0]!)],
    tokens: [cut(full.tokens![0]!)],
    specialTokensMask: [cut(full.specialTokensMask![0]!)],
  };
}

for (const [dir, use] of SETUPS) {
  test(`${dir} from ${use}: a truncated encode equals the whole encode cut`, async () => {
    const tok = await AutoTokenizer.fromPretrained(dir, { use });
    let cases = 0;
    for (const text of TEXTS) {
      const n = tok.encode(text).length;
      for (let maxLength = 2; maxLength <= n + 2; maxLength++) {
        const got = tok(text, { truncation: true, maxLength, returnOffsets: true, returnTokens: true, returnSpecialTokensMask: true });
        const want = cutByHand(tok, text, maxLength);
        for (const key of ['inputIds', 'attentionMask', 'tokenTypeIds', 'offsets', 'tokens', 'specialTokensMask'] as const) {
          assert.deepEqual(got[key], want[key], `${JSON.stringify(text)} maxLength ${maxLength}: ${key}`);
        }
        assert.deepEqual(tok.encode(text, null, { truncation: true, maxLength }), want.inputIds[0]);
        cases++;
      }
    }
    assert.ok(cases > 100);
  });
}

test('a truncated encode runs the model on the first words only; with overflow wanted, on all', async () => {
  const tok = await AutoTokenizer.fromPretrained(join(ROOT, 'deberta-v3-unigram'), { use: 'tokenizer.json' });
  const model = tok.pipeline.model;
  const real = model.tokenize.bind(model);
  let chars = 0;
  model.tokenize = (word, out) => {
    chars += word.length;
    real(word, out);
  };
  try {
    const words = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
    const text = words.join(' ');
    chars = 0;
    const r = tok(text, { truncation: true, maxLength: 64 });
    assert.equal(r.inputIds[0]!.length, 64);
    assert.ok(chars < 2_000, `${chars} characters through the model for 64 tokens`);
    // Overflow windows need every token: the whole text goes through the model.
    chars = 0;
    const all = tok(text, { truncation: true, maxLength: 64, returnOverflowingTokens: true });
    assert.ok(chars > text.length * 0.9, `${chars} of ${text.length}`);
    assert.deepEqual(all.inputIds[0], r.inputIds[0]);
    assert.ok(all.inputIds.length > 100);
  } finally {
    model.tokenize = real;
  }
});
