// Components the fixture tokenizers do not exercise: WordPiece / BERT parts, the Precompiled normaliser,
// RoBERTa-style offset trimming, do_lower_case and split_by_punct, and the `deberta tokenize` CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, readSentencePieceModel } from '../src/tokenizers/index.ts';
import { wordPieceJson, WORDPIECE_SPECIALS } from './helpers/wordpiece.ts';

const ROOT = 'test/fixtures/tokenizers';
const V3 = join(ROOT, 'deberta-v3-unigram');

async function inDir<T>(files: Record<string, string | Buffer>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tokenizer-components-'));
  try {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


test('WordPiece with the BERT normaliser, pre-tokeniser, post-processor and decoder', async () => {
  const json = wordPieceJson([...WORDPIECE_SPECIALS, 'hello', 'world', '##s', 'un', '##aff', '##able', ',', '!', '中']);
  await inDir({ 'tokenizer.json': JSON.stringify(json) }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    const text = 'Héllo, WORLDS!\tunaffable中 zzz';
    const r = tok(text, { returnOffsets: true, returnTokens: true });
    assert.deepEqual(r.tokens![0], ['[CLS]', 'hello', ',', 'world', '##s', '!', 'un', '##aff', '##able', '中', '[UNK]', '[SEP]']);
    assert.deepEqual(r.inputIds[0], [2, 5, 11, 6, 7, 12, 8, 9, 10, 13, 1, 3]);
    assert.deepEqual(r.offsets![0], [[0, 0], [0, 5], [5, 6], [7, 12], [12, 13], [13, 14], [15, 17], [17, 20], [20, 24], [24, 25], [26, 29], [0, 0]]);
    assert.equal(tok.decode(r.inputIds[0]!), '[CLS] hello, worlds! unaffable 中 [UNK] [SEP]');
    assert.equal(tok.decode(r.inputIds[0]!, { skipSpecialTokens: true }), 'hello, worlds! unaffable 中');
    assert.deepEqual(tok('hello', 'world').tokenTypeIds[0], [0, 0, 0, 1, 1]);
  });
});

test('Precompiled normaliser (older DeBERTa-v3 tokenizer.json): NFKC from the charsmap, offsets kept', async () => {
  const spm = readSentencePieceModel(readFileSync(join(V3, 'spm.model')), 'spm.model');
  const json = JSON.parse(readFileSync(join(V3, 'tokenizer.json'), 'utf8'));
  json.normalizer = {
    type: 'Sequence',
    normalizers: [
      { type: 'Strip', strip_left: true, strip_right: true },
      { type: 'Precompiled', precompiled_charsmap: Buffer.from(spm.normalizerSpec.precompiledCharsmap!).toString('base64') },
      { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
    ],
  };
  json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', add_prefix_space: true };
  await inDir({ 'tokenizer.json': JSON.stringify(json) }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    // The same pieces SentencePiece gives this text (expected.json: spm_ids), now with offsets.
    const text = 'ＦＵＬＬＷＩＤＴＨ\u3000ｔｅｘｔ';
    const r = tok(text, { returnOffsets: true });
    assert.deepEqual(r.inputIds[0], [1, 179, 3408, 1817, 1817, 1836, 1401, 1034, 1110, 1562, 2414, 2]);
    assert.deepEqual(r.offsets![0], [[0, 0], [0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 7], [7, 8], [8, 9], [9, 14], [0, 0]]);
    // A ligature expands to two characters that both point at it.
    assert.deepEqual(tok('ﬁ', { returnOffsets: true, returnTokens: true }).offsets![0]!.slice(1, -1).every(([s, e]) => s === 0 && e === 1), true);
  });
});

test('RoBERTa-style processing trims byte-level offsets (trim_offsets)', async () => {
  const json = JSON.parse(readFileSync(join(ROOT, 'deberta-v1-gpt2bpe', 'tokenizer.json'), 'utf8'));
  json.post_processor = { type: 'RobertaProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1], trim_offsets: true, add_prefix_space: false };
  await inDir({ 'tokenizer.json': JSON.stringify(json) }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    const r = tok('Hello world!', { returnOffsets: true, returnTokens: true });
    assert.deepEqual(r.tokens![0], ['[CLS]', 'He', 'll', 'o', 'Ġworld', '!', '[SEP]']);
    assert.deepEqual(r.offsets![0], [[0, 0], [0, 2], [2, 4], [4, 5], [6, 11], [11, 12], [0, 0]]);
  });
  // Without the trimming, the space belongs to the token.
  const plain = await AutoTokenizer.fromPretrained(join(ROOT, 'deberta-v1-gpt2bpe'));
  assert.deepEqual(plain('Hello world!', { returnOffsets: true }).offsets![0]![4], [5, 11]);
});

test('spm.model with do_lower_case and split_by_punct (tokenizer_config.json)', async () => {
  const base = await AutoTokenizer.fromPretrained(V3);
  const config = JSON.parse(readFileSync(join(V3, 'tokenizer_config.json'), 'utf8'));
  const model = readFileSync(join(V3, 'spm.model'));
  await inDir({ 'spm.model': model, 'tokenizer_config.json': JSON.stringify({ ...config, do_lower_case: true, split_by_punct: true }) }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    assert.deepEqual(tok.encode('HELLO   World'), base.encode('hello   world'));
    // Punctuation becomes words of its own, each with its own meta-space.
    assert.deepEqual(tok.tokenize('e-mail:'), [...base.tokenize('e'), ...base.tokenize('-'), ...base.tokenize('mail'), ...base.tokenize(':')]);
  });
  // add_prefix_space: false: only text at the very start gets a meta-space (prepend_scheme "first").
  await inDir({ 'spm.model': model, 'tokenizer_config.json': JSON.stringify({ ...config, add_prefix_space: false }) }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    assert.deepEqual(tok.tokenize('  Hello world!'), base.tokenize('Hello world!'));
    assert.deepEqual(base.tokenize('[MASK].'), ['[MASK]', '▁', '.']);
    assert.deepEqual(tok.tokenize('[MASK].'), ['[MASK]', '.']);
    assert.equal(tok.decode(tok.encode('Hello world!'), { skipSpecialTokens: true }), 'Hello world!');
  });
  // No tokenizer_config.json: DeBERTa-v2 defaults ([MASK] appended after the pieces).
  await inDir({ 'spm.model': model }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    assert.equal(tok.maskTokenId, 8000);
    assert.deepEqual(tok.encode('The capital of France is [MASK].'), base.encode('The capital of France is [MASK].'));
  });
});

test('special_tokens_map.json and added_tokens.json are honoured', async () => {
  const model = readFileSync(join(V3, 'spm.model'));
  const map = { mask_token: { content: '<mask>', lstrip: true }, additional_special_tokens: ['<extra-1>'] };
  await inDir({ 'spm.model': model, 'special_tokens_map.json': JSON.stringify(map), 'added_tokens.json': JSON.stringify({ 'New York': 8002 }) }, async (dir) => {
    const tok = await AutoTokenizer.fromPretrained(dir);
    assert.equal(tok.maskToken, '<mask>');
    assert.equal(tok.maskTokenId, 8000);
    assert.equal(tok.convertTokensToIds('<extra-1>'), 8001);
    // "New York" (from added_tokens.json) is matched in the normalised text; the space before it stays a ▁.
    assert.deepEqual(tok.encode('a <mask> <extra-1> New York', null, { addSpecialTokens: false }).slice(-4), [8000, 8001, 46, 8002]);
  });
});

test('deberta tokenize: JSON in, one object per item out, as transformers gives it', () => {
  const exp = JSON.parse(readFileSync(join(V3, 'expected.json'), 'utf8')) as {
    cases: { text: string; input_ids: number[]; tokens: string[]; offsets: number[][] }[];
    pairs: { a: string; b: string; input_ids: number[]; token_type_ids: number[]; attention_mask: number[] }[];
  };
  const picked = [exp.cases[2]!, exp.cases.find((c) => c.text.startsWith('emoji'))!, exp.cases.find((c) => c.text.includes('[MASK]'))!];
  const run = (args: string[], input: string) => execFileSync(process.execPath, ['bin/deberta.js', 'tokenize', '--tokenizer', V3, ...args], { input, encoding: 'utf8' });
  const out = JSON.parse(run([], JSON.stringify(picked.map((c) => c.text))));
  assert.deepEqual(
    out,
    picked.map((c) => ({ input_ids: c.input_ids, tokens: c.tokens, offsets: c.offsets, token_type_ids: c.input_ids.map(() => 0), attention_mask: c.input_ids.map(() => 1) })),
  );
  const pairs = JSON.parse(run(['--pairs'], JSON.stringify(exp.pairs.map((p) => [p.a, p.b]))));
  assert.deepEqual(pairs.map((p: { input_ids: number[] }) => p.input_ids), exp.pairs.map((p) => p.input_ids));
  assert.deepEqual(pairs.map((p: { token_type_ids: number[] }) => p.token_type_ids), exp.pairs.map((p) => p.token_type_ids));
  const bad = spawnSync(process.execPath, ['bin/deberta.js', 'tokenize', '--tokenizer', V3], { input: '[["a", "b"]]', encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /item 0 must be a string \(use --pairs for \[a, b\] pairs\)/);
});
