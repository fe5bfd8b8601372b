// token-classification: on the transformers-made tokcls fixture, every token's label and score against a
// softmax of the raw logits, and spans that map back to the text; on a lookup model whose logits are a
// table by token, each aggregation strategy's entities worked out by hand; windows with a stride give the
// entities of the whole text.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from '../src/pipelines/index.ts';
import type { EntityGroup, TokenEntity } from '../src/pipelines/token-classification.ts';
import { cleanup, lookupModel, softmaxRef, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

const LABELS = { 0: 'O', 1: 'B-PER', 2: 'I-PER', 3: 'B-LOC', 4: 'I-LOC' };
// Scores from the lookup model against softmaxes of its table: measured up to 5.6e-7 (1 and 2 threads); 2.7×.
const close = (a: number, b: number, what = '', tol = 1.5e-6) => assert.ok(Math.abs(a - b) < tol, `${what} ${a} vs ${b}`);

test('token-classification (none): each token\'s argmax label and probability; offsets map back to the text', async () => {
  const dir = withTinyTokenizer('v3-buckets-tokcls', (c) => {
    c.id2label = LABELS;
    delete c.label2id;
  });
  const pipe = await pipeline('ner', dir, { threads: 1 });
  try {
    // Characters outside the vocabulary ([UNK]) and outside the BMP (two UTF-16 units) included.
    const text = 'Alice met Bob in Paris 😀, then they flew to Zürich.';
    const entities = await pipe(text, { ignoreLabels: [] }) as TokenEntity[];
    const enc = pipe.tokenizer(text, { returnOffsets: true, offsetUnits: 'utf16', returnSpecialTokensMask: true });
    const ids = enc.inputIds[0]!;
    const { logits } = await pipe.model({ inputIds: [ids] });
    const L = 5;
    // Every token but the special ones and lone '▁' tokens (no text of their own) is listed, in order.
    const kept = ids.map((_, i) => i).filter((i) => !enc.specialTokensMask![0]![i] && pipe.tokenizer.convertIdsToTokens(ids[i]!) !== '▁');
    assert.deepEqual(entities.map((e) => e.index), kept);
    assert.ok(entities.some((e) => e.word === '😀') && entities.some((e) => text.slice(e.start, e.end) === 'Zü'));
    for (const e of entities) {
      const probs = softmaxRef(logits!.data.subarray(e.index * L, (e.index + 1) * L));
      const best = probs.indexOf(Math.max(...probs));
      assert.equal(e.entity, LABELS[best as 0]);
      close(e.score, probs[best]!, `token ${e.index}`);
      // The token's string; for [UNK], the text it stands for (as transformers does).
      const unk = ids[e.index] === pipe.tokenizer.unkTokenId;
      assert.equal(e.word, unk ? text.slice(...enc.offsets![0]![e.index]!) : pipe.tokenizer.convertIdsToTokens(ids[e.index]!));
      // The span is the token's text without the space a '▁' token carries.
      assert.equal(text.slice(e.start, e.end), e.word.replace(/^▁/, ''));
    }
    // Ignored labels ('O' by default) are left out.
    const withoutO = await pipe(text) as TokenEntity[];
    assert.deepEqual(withoutO, entities.filter((e) => e.entity !== 'O'));
    // A batch gives what single calls give.
    const batch = await pipe([text, 'Rome', text.slice(0, 20)], { ignoreLabels: [] }) as TokenEntity[][];
    assert.deepEqual(batch[0]!.map((e) => [e.index, e.entity, e.start, e.end]), entities.map((e) => [e.index, e.entity, e.start, e.end]));
    await assert.rejects(pipe(text, { aggregationStrategy: 'longest' as never }), /unknown aggregationStrategy "longest" \(expected one of none, simple, first, average, max\)/);
  } finally {
    await pipe.dispose();
  }
});

// Token ids of the deberta-v3-unigram tokenizer for the text below:
// [CLS] ▁Al ice ▁Smith ▁visited ▁New ▁York ▁and ▁ [UNK] or b at ron ▁yesterday . [SEP]
const TEXT = 'Alice Smith visited New York and Zorbatron yesterday.';
const ID = { Al: 912, ice: 943, Smith: 2603, New: 243, York: 534, space: 46, unk: 3 };
const TABLE = new Map<number, number[]>([
  [ID.Al, [0, 4, 1, 0, 0]], // B-PER
  [ID.ice, [0, 0, 3, 0, 0]], // I-PER
  [ID.Smith, [0, 0, 4, 0, 0]], // I-PER
  [ID.New, [0, 0, 0, 4, 0]], // B-LOC
  [ID.York, [0, 0, 0, 0, 4]], // I-LOC
  [ID.space, [0, 0, 0, 1, 0]], // the lone '▁' before "Zorbatron": weakly B-LOC
  [ID.unk, [0, 5, 0, 0, 0]], // its 'Z' ([UNK]): strongly B-PER
]);
const BACKGROUND = [2, 0, 0, 0, 0]; // every other token: O
const p = (id: number | null) => softmaxRef(id === null ? BACKGROUND : TABLE.get(id)!);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('token-classification: simple / first / average / max on a model with known logits', async () => {
  const pipe = await pipeline('token-classification', lookupModel({ head: 'token-classification', outputs: 5, table: TABLE, background: BACKGROUND, id2label: LABELS }), { threads: 1 });
  try {
    const ids = pipe.tokenizer.encode(TEXT);
    assert.deepEqual(ids.slice(0, 10), [1, ID.Al, ID.ice, ID.Smith, 4178, ID.New, ID.York, 9, ID.space, ID.unk]);
    // The construction gives exactly the table's logits.
    const { logits } = await pipe.model({ inputIds: [ids] });
    // Up to the float32 LayerNorm's rounding: measured 8.6e-6 at logits up to 5 (1 and 2 threads); 2.5×.
    ids.forEach((id, i) => (TABLE.get(id) ?? BACKGROUND).forEach((v, k) => close(logits!.data[i * 5 + k]!, v, `logit ${i},${k}`, 2.2e-5)));

    const span = (e: { start: number; end: number }) => TEXT.slice(e.start, e.end);
    const simple = await pipe(TEXT, { aggregationStrategy: 'simple' }) as EntityGroup[];
    // Tokens grouped by tag; the lone '▁' (B-LOC) covers only a space and is dropped; [UNK] 'Z' starts a PER.
    assert.deepEqual(simple.map((e) => [e.entity_group, span(e), e.word]), [['PER', 'Alice Smith', 'Alice Smith'], ['LOC', 'New York', 'New York'], ['PER', 'Z', 'Z']]);
    close(simple[0]!.score, mean([p(ID.Al)[1]!, p(ID.ice)[2]!, p(ID.Smith)[2]!]));
    close(simple[1]!.score, mean([p(ID.New)[3]!, p(ID.York)[4]!]));
    close(simple[2]!.score, p(ID.unk)[1]!);

    // Word level: "Zorbatron" is ▁ + [UNK] + or b at ron; its first token says B-LOC, its surest token B-PER.
    const first = await pipe(TEXT, { aggregationStrategy: 'first' }) as EntityGroup[];
    assert.deepEqual(first.map((e) => [e.entity_group, span(e), e.word]), [['PER', 'Alice Smith', 'Alice Smith'], ['LOC', 'New York', 'New York'], ['LOC', 'Zorbatron', 'Zorbatron']]);
    close(first[0]!.score, mean([p(ID.Al)[1]!, p(ID.Smith)[2]!]));
    close(first[2]!.score, p(ID.space)[3]!);

    const max = await pipe(TEXT, { aggregationStrategy: 'max' }) as EntityGroup[];
    assert.deepEqual(max.map((e) => [e.entity_group, span(e)]), [['PER', 'Alice Smith'], ['LOC', 'New York'], ['PER', 'Zorbatron']]);
    close(max[2]!.score, p(ID.unk)[1]!);

    // Average: "Alice" = mean of ▁Al and ice (B-PER wins); "Zorbatron" averages to O and is left out.
    const average = await pipe(TEXT, { aggregationStrategy: 'average' }) as EntityGroup[];
    assert.deepEqual(average.map((e) => [e.entity_group, span(e)]), [['PER', 'Alice Smith'], ['LOC', 'New York']]);
    const alice = [0, 1, 2, 3, 4].map((k) => (p(ID.Al)[k]! + p(ID.ice)[k]!) / 2);
    close(average[0]!.score, mean([alice[1]!, p(ID.Smith)[2]!]));
    const zorb = [0, 1, 2, 3, 4].map((k) => mean([p(ID.space)[k]!, p(ID.unk)[k]!, ...new Array(4).fill(p(null)[k]!)]));
    assert.equal(zorb.indexOf(Math.max(...zorb)), 0, 'the averaged word is O');

    // Windows: a text longer than maxLength read in overlapping windows gives the entities of the whole text.
    const long = `${TEXT} Then ${TEXT} And once more, ${TEXT}`;
    const whole = await pipe(long, { aggregationStrategy: 'first' }) as EntityGroup[];
    assert.equal(whole.length, 9);
    const windowed = await pipeline('token-classification', pipe.model.dir, { threads: 1, maxLength: 16 });
    try {
      const enc = windowed.tokenizer(long, { truncation: true, maxLength: 16, stride: 6, returnOverflowingTokens: true });
      assert.ok(enc.inputIds.length >= 4, `${enc.inputIds.length} windows`);
      for (const strategy of ['simple', 'first'] as const) {
        const got = await windowed(long, { aggregationStrategy: strategy, stride: 6 });
        const want = await pipe(long, { aggregationStrategy: strategy });
        assert.deepEqual(got.map((e) => [long.slice(e.start, e.end), e.start, e.end, 'entity_group' in e ? e.entity_group : '']),
          want.map((e) => [long.slice(e.start, e.end), e.start, e.end, 'entity_group' in e ? e.entity_group : '']), strategy);
      }
      // Without a stride the text is truncated to the first window.
      const cut = await windowed(long, { aggregationStrategy: 'first' }) as EntityGroup[];
      assert.ok(cut.length < whole.length);
    } finally {
      await windowed.dispose();
    }
  } finally {
    await pipe.dispose();
  }
});
