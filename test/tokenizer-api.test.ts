// The tokenizer API beyond single texts: batches, padding, truncation strategies, overflow windows,
// offsets, decoding and special ids. Expected rows are built from the fixture encodings of each text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer } from '../src/tokenizers/index.ts';
import { loadModel } from '../src/models/auto.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';

const V3 = 'test/fixtures/tokenizers/deberta-v3-unigram';
const V1 = 'test/fixtures/tokenizers/deberta-v1-gpt2bpe';

interface Case { text: string; input_ids: number[]; tokens: string[]; offsets?: [number, number][] }
function cases(dir: string): Map<string, Case> {
  const exp = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { cases: Case[] };
  return new Map(exp.cases.map((c) => [c.text, c]));
}
const v3 = cases(V3);
/** The fixture ids of a text without [CLS] / [SEP]. */
const body = (text: string): number[] => v3.get(text)!.input_ids.slice(1, -1);

const LONG = 'In the end, Iraqis must be able to defend their own country — and we will help that proud, new nation secure its liberty.';
const SHORT = 'Hello world!';
const CLS = 1;
const SEP = 2;

test('a batch gives one row per text; padding: true pads to the longest with [PAD] and mask 0', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const ragged = tok([SHORT, 'x']);
  assert.deepEqual(ragged.inputIds, [v3.get(SHORT)!.input_ids, v3.get('x')!.input_ids]);
  const r = tok([SHORT, 'x'], { padding: true });
  const n = v3.get(SHORT)!.input_ids.length;
  assert.deepEqual(r.inputIds[1], [...v3.get('x')!.input_ids, ...Array(n - 4).fill(0)]);
  assert.deepEqual(r.attentionMask[1], [1, 1, 1, 1, ...Array(n - 4).fill(0)]);
  assert.deepEqual(r.tokenTypeIds[1], Array(n).fill(0));
});

test("padding: 'max_length' pads every row to maxLength; padToMultipleOf rounds up", async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const r = tok([SHORT, 'x'], { padding: 'max_length', maxLength: 16 });
  assert.deepEqual(r.inputIds.map((x) => x.length), [16, 16]);
  assert.deepEqual(r.inputIds[0], [...v3.get(SHORT)!.input_ids, ...Array(16 - 7).fill(0)]);
  const m = tok([SHORT], { padding: true, padToMultipleOf: 8 });
  assert.equal(m.inputIds[0]!.length, 8);
});

test('pair truncation: longest_first, only_first and only_second keep the right tokens', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const a = body(LONG);
  const b = body(SHORT);
  assert.equal(b.length, 5);
  // 12 - 3 special = 9 tokens. longest_first as `tokenizers` does it: the shorter text (5) asks for
  // max(5, 9 - 5) = 5, too many, so the budget is halved: 5 for the first text, 4 for the second.
  assert.deepEqual(tok.encode(LONG, SHORT, { truncation: true, maxLength: 12 }), [CLS, ...a.slice(0, 5), SEP, ...b.slice(0, 4), SEP]);
  assert.deepEqual(tok.encode(LONG, SHORT, { truncation: 'only_first', maxLength: 12 }), [CLS, ...a.slice(0, 4), SEP, ...b, SEP]);
  // Both long: longest_first halves the budget (5 + 4 for 9).
  assert.deepEqual(tok.encode(LONG, LONG, { truncation: 'longest_first', maxLength: 12 }), [CLS, ...a.slice(0, 4), SEP, ...a.slice(0, 5), SEP]);
  assert.deepEqual(tok.encode(SHORT, LONG, { truncation: 'only_second', maxLength: 12 }), [CLS, ...b, SEP, ...a.slice(0, 4), SEP]);
  const r = tok(SHORT, LONG, { truncation: 'only_second', maxLength: 12 });
  assert.deepEqual(r.tokenTypeIds[0], [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.throws(() => tok(LONG, SHORT, { truncation: 'only_second', maxLength: 8 }), /second sequence \(5 tokens\) is too short/);
});

test('overflow windows with a stride: question answering over a long context', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const q = body(SHORT);
  const ctx = body(LONG);
  assert.equal(ctx.length, 31);
  const r = tok(SHORT, LONG, {
    truncation: 'only_second',
    maxLength: 16,
    stride: 3,
    returnOverflowingTokens: true,
    returnOffsets: true,
    returnSequenceIds: true,
    padding: true,
  });
  // 16 - 3 special - 5 question tokens = 8 context tokens per window, each window starting 5 after the last.
  const windows = [0, 5, 10, 15, 20, 25].map((s) => ctx.slice(s, s + 8));
  assert.deepEqual(r.overflowToSampleMapping, [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(
    r.inputIds,
    windows.map((w) => [CLS, ...q, SEP, ...w, SEP, ...Array(8 - w.length).fill(0)]),
  );
  assert.deepEqual(r.tokenTypeIds[1], [0, 0, 0, 0, 0, 0, 0, ...Array(9).fill(1)]);
  assert.deepEqual(r.sequenceIds![5], [null, 0, 0, 0, 0, 0, null, 1, 1, 1, 1, 1, 1, null, null, null]);
  // Offsets of context tokens point into the context.
  const fullOffsets = v3.get(LONG)!.offsets!.slice(1, -1);
  assert.deepEqual(r.offsets![1]!.slice(7, 15), fullOffsets.slice(5, 13));
  assert.deepEqual(r.offsets![0]![0], [0, 0]);
});

test('a single long text overflows into windows of maxLength', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const ctx = body(LONG);
  const r = tok(LONG, { truncation: true, maxLength: 12, stride: 2, returnOverflowingTokens: true });
  const starts = [0, 8, 16, 24];
  assert.deepEqual(r.inputIds, starts.map((s) => [CLS, ...ctx.slice(s, s + 10), SEP]));
  // Without returnOverflowingTokens only the first window is returned.
  assert.deepEqual(tok(LONG, { truncation: true, maxLength: 12, stride: 2 }).inputIds, [[CLS, ...ctx.slice(0, 10), SEP]]);
});

test('offsets are in code points by default (like Python), or UTF-16 units on request', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const text = 'emoji 😀🎉👍🏽 family 👨‍👩‍👧';
  const cp = tok(text, { returnOffsets: true }).offsets![0]!;
  assert.deepEqual(cp, v3.get(text)!.offsets);
  const u16 = tok(text, { returnOffsets: true, offsetUnits: 'utf16' }).offsets![0]!;
  assert.deepEqual(u16[7], [6, 14]); // [UNK] for the four emoji: eight UTF-16 units
  assert.deepEqual(cp[7], [6, 10]); // four code points
  assert.equal(text.slice(...u16[8]!), ' family');
});

test('decode, tokenize and the id/token conversions', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const ids = v3.get(SHORT)!.input_ids;
  assert.equal(tok.decode(ids), '[CLS] Hello world![SEP]');
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), 'Hello world!');
  assert.deepEqual(tok.batchDecode([ids, ids], { skipSpecialTokens: true }), ['Hello world!', 'Hello world!']);
  assert.deepEqual(tok.tokenize(SHORT), ['▁He', 'll', 'o', '▁world', '!']);
  assert.deepEqual(tok.encode(SHORT, null, { addSpecialTokens: false }), body(SHORT));
  assert.equal(tok.convertIdsToTokens(8000), '[MASK]');
  assert.deepEqual(tok.convertTokensToIds(['[MASK]', '▁world', 'no-such-piece']), [8000, 216, 3]);
  assert.throws(() => tok.convertIdsToTokens(9999), /id 9999 is not in the vocabulary/);
  assert.equal(tok.maskToken, '[MASK]');
  assert.equal(tok.modelMaxLength, Infinity);
  assert.equal(tok.getVocab().get('[MASK]'), 8000);
});

test('DeBERTa v1: pairs are [CLS] A [SEP] [SEP] B [SEP], all type 0, decoded bytes round-trip', async () => {
  const tok = await AutoTokenizer.fromPretrained(V1);
  const v1 = cases(V1);
  const a = v1.get(SHORT)!.input_ids.slice(1, -1);
  const b = v1.get('x')!.input_ids.slice(1, -1);
  const r = tok(SHORT, 'x');
  assert.deepEqual(r.inputIds[0], [CLS, ...a, SEP, SEP, ...b, SEP]);
  assert.deepEqual(r.tokenTypeIds[0], Array(a.length + b.length + 4).fill(0));
  const text = 'naïve café résumé coöperate Ångström';
  assert.equal(tok.decode(tok.encode(text), { skipSpecialTokens: true }), text);
});

test('non-string input is refused with a clear TypeError', async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const call = tok as unknown as (...a: unknown[]) => unknown;
  assert.throws(() => call(42), { name: 'TypeError', message: /expected a string, an array of strings or an array of \[text, textPair\] pairs, got number/ });
  assert.throws(() => call(['ok', 7]), { name: 'TypeError', message: /text\[1\] must be a string or a \[text, textPair\] pair, got number/ });
  assert.throws(() => call('ok', 5), { name: 'TypeError', message: /second argument must be a text pair/ });
  assert.throws(() => call(['a', 'b'], ['c']), { name: 'TypeError', message: /as long as the texts/ });
  assert.throws(() => call([['a', null]]), { name: 'TypeError', message: /text\[0\]\[1\] must be a string, got null/ });
  assert.throws(() => tok.encode(undefined as unknown as string), { name: 'TypeError', message: /text must be a string, got undefined/ });
  assert.throws(() => tok.decode(['1'] as unknown as number[]), { name: 'TypeError' });
});

test("members and results under transformers' names too (mask_token_id, batch_decode, input_ids)", async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const ids = v3.get(SHORT)!.input_ids;
  assert.equal(tok.mask_token, '[MASK]');
  assert.equal(tok.mask_token_id, 8000);
  assert.deepEqual([tok.cls_token_id, tok.sep_token_id, tok.pad_token_id, tok.unk_token_id], [CLS, SEP, 0, 3]);
  assert.deepEqual([tok.model_max_length, tok.modelMaxLength], [1e30, Infinity]); // transformers' value under its name
  assert.equal(tok.vocab_size, tok.vocabSize);
  assert.deepEqual(tok.all_special_ids, tok.allSpecialIds);
  assert.equal(tok.get_vocab().get('▁world'), 216);
  assert.deepEqual(tok.batch_decode([ids], { skip_special_tokens: true }), ['Hello world!']);
  assert.equal(tok.convert_ids_to_tokens(8000), '[MASK]');
  assert.deepEqual(tok.convert_tokens_to_ids(['▁world', 'no-such-piece']), [216, 3]);
  assert.throws(() => tok.convert_ids_to_tokens(9999), /id 9999 is not in the vocabulary/);
  const enc = tok([SHORT, 'x'], { padding: true });
  const x = v3.get('x')!.input_ids;
  assert.deepEqual(enc.input_ids, [ids, [...x, ...Array(ids.length - x.length).fill(0)]]);
  assert.equal(enc.attention_mask, enc.attentionMask);
  assert.equal(enc.token_type_ids, enc.tokenTypeIds);
  // Each array once in JSON, and a spread copies the camelCase fields only.
  assert.deepEqual(Object.keys(enc), ['inputIds', 'attentionMask', 'tokenTypeIds']);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(enc))), ['inputIds', 'attentionMask', 'tokenTypeIds']);
});

test("options in transformers' spelling too (max_length, skip_special_tokens); unknown ones are TypeErrors", async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const ids = v3.get(LONG)!.input_ids;
  const call = tok as unknown as (...a: unknown[]) => { inputIds: number[][] };
  assert.deepEqual(call(LONG, { truncation: true, max_length: 6 }).inputIds, [[...ids.slice(0, 5), SEP]]);
  assert.deepEqual(call(LONG, 'x', { truncation: 'only_first', max_length: 8 }).inputIds, tok(LONG, 'x', { truncation: 'only_first', maxLength: 8 }).inputIds);
  assert.deepEqual(tok.encode(SHORT, null, { add_special_tokens: false } as never), body(SHORT));
  // transformers.js passes the second text as an option.
  assert.deepEqual(call(SHORT, { text_pair: 'x' }).inputIds, tok(SHORT, 'x').inputIds);
  assert.deepEqual(call([SHORT, 'x'], { textPair: ['x', SHORT], padding: true }).inputIds, tok([SHORT, 'x'], ['x', SHORT], { padding: true }).inputIds);
  assert.throws(() => call(SHORT, 'x', { text_pair: 'y' }), { name: 'TypeError', message: 'tokenizer: a text pair both as the second argument and as textPair; give it once' });
  assert.equal(tok.decode(v3.get(SHORT)!.input_ids, { skip_special_tokens: true }), 'Hello world!');
  assert.deepEqual(tok.batchDecode([v3.get(SHORT)!.input_ids], { skip_special_tokens: true }), ['Hello world!']);
  // An option of another API, a typo, or one option twice: never silently ignored.
  assert.throws(() => call(SHORT, { return_tensors: 'pt' }), { name: 'TypeError', message: /^tokenizer: unknown option 'return_tensors' \(accepted: textPair \(text_pair\), addSpecialTokens \(add_special_tokens\), padding, truncation, maxLength \(max_length\),/ });
  assert.throws(() => call(SHORT, 'x', { maxLenght: 4 }), { name: 'TypeError', message: /^tokenizer: unknown option 'maxLenght'/ });
  assert.throws(() => call(SHORT, { maxLength: 4, max_length: 5 }), { name: 'TypeError', message: "tokenizer: 'max_length' and 'maxLength' are one option; give it once" });
  assert.throws(() => tok.encode(SHORT, null, { padding: true } as never), { name: 'TypeError', message: /^encode: unknown option 'padding'/ });
  assert.throws(() => tok.decode([1], { skip_special: true } as never),
    { name: 'TypeError', message: "decode: unknown option 'skip_special' (accepted: skipSpecialTokens (skip_special_tokens), cleanUpTokenizationSpaces (clean_up_tokenization_spaces))" });
  assert.throws(() => tok.batchDecode([[1]], { skipSpecial: true } as never), { name: 'TypeError', message: /^batchDecode: unknown option 'skipSpecial'/ });
  // Loading too: hub options in either spelling; anything else refused.
  assert.equal((await AutoTokenizer.fromPretrained(V3, { local_files_only: true, use: 'tokenizer.json' })).vocabSize, tok.vocabSize);
  await assert.rejects(AutoTokenizer.fromPretrained(V3, { legacy: false } as never),
    { name: 'TypeError', message: "AutoTokenizer.fromPretrained: unknown option 'legacy' (accepted: use, revision, cacheDir (cache_dir), token, localFilesOnly (local_files_only), endpoint, progress_callback (progressCallback))" });
  await assert.rejects(AutoTokenizer.fromFiles({}, { lable: 'x' } as never), { name: 'TypeError', message: /^AutoTokenizer\.fromFiles: unknown option 'lable'/ });
});

test("return_tensor: true gives int64 tensors as transformers.js' tokenizer does, which models take as they are", async () => {
  const tok = await AutoTokenizer.fromPretrained(V3);
  const one = tok(SHORT, { return_tensor: true });
  const ids = v3.get(SHORT)!.input_ids;
  assert.equal(one.input_ids.type, 'int64');
  assert.deepEqual(one.input_ids.dims, [1, ids.length]);
  assert.deepEqual(one.input_ids.data, BigInt64Array.from(ids, BigInt));
  assert.deepEqual(one.input_ids.tolist(), [ids.map(BigInt)]);
  assert.equal(one.attentionMask.size, ids.length);
  assert.deepEqual(Object.keys(one), ['inputIds', 'attentionMask', 'tokenTypeIds']);

  const padded = tok([SHORT, 'x'], { padding: true, returnTensor: true });
  const rows = tok([SHORT, 'x'], { padding: true });
  assert.deepEqual(padded.inputIds.dims, [2, ids.length]);
  assert.deepEqual(padded.inputIds.tolist(), rows.inputIds.map((r) => r.map(BigInt)));
  assert.deepEqual(padded.attention_mask.tolist(), rows.attentionMask.map((r) => r.map(BigInt)));
  assert.deepEqual(tok([SHORT, 'x'], { padding: true, return_tensor: false }).inputIds, rows.inputIds);
  assert.throws(() => tok([SHORT, 'x'], { return_tensor: true }),
    { message: `tokenizer: returnTensor needs rows of one length, but row 1 has ${v3.get('x')!.input_ids.length} tokens and row 0 ${ids.length}; pad them (padding: true) or truncate them to one length` });
  assert.throws(() => tok.encode(SHORT, null, { returnTensor: true } as never), /^TypeError: encode: unknown option 'returnTensor'/);

  // A model reads the tensors as it reads the arrays.
  const dir = withTinyTokenizer('v3-buckets-seqcls');
  const [tiny, model] = [await AutoTokenizer.fromPretrained(dir), await loadModel(dir)];
  try {
    const texts = ['a cheap and quiet hotel', 'terrible'];
    const fromRows = await model(tiny(texts, { padding: true }));
    const fromTensors = await model(tiny(texts, { padding: true, return_tensor: true }));
    assert.deepEqual(fromTensors.logits!.data, fromRows.logits!.data);
    assert.deepEqual(fromTensors.logits!.dims, [2, 3]);
  } finally {
    await model.dispose();
    cleanup();
  }
});
