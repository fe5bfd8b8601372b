// Tokenizer training, the quick checks: the double-array trie and the nmt_nfkc character map
// against the reference models' own, SentencePiece's normaliser and encoders against the fixtures'
// recorded `spm_ids`, piece rules, errors that name the flag or file, the written spm.model read back
// by the project's reader, and ids from spm.model equal to ids from the written tokenizer.json.
// The Brown-corpus comparison with the reference models is in tokenizer-train-brown.test.ts.
import { pythonWithSentencePiece } from './helpers/python-sentencepiece.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSentencePieceModel, writeSentencePieceModel, type SentencePieceModel } from '../src/tokenizers/sentencepiece-proto.ts';
import { SentencePieceProcessor } from '../src/tokenizers/sentencepiece.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { buildDoubleArray, listKeys, longestPrefix } from '../src/tokenizers/train/darts.ts';
import { isValidPiece, toCodePoints } from '../src/tokenizers/train/pieces.ts';
import { DEFAULT_OPTIONS } from '../src/tokenizers/train/options.ts';
import {
  bpeMerges,
  brownLineToText,
  brownSplit,
  decompileCharsMap,
  nmtNfkcCharsMap,
  SpmEncoder,
  SpmNormalizer,
  trainTokenizer,
  trainTokenizerToDir,
  loadCorpus,
} from '../src/tokenizers/train/index.ts';
import { buildProgram } from '../src/cli/main.ts';

const FIXTURES = 'test/fixtures/tokenizers';
const fixture = (type: string): SentencePieceModel =>
  readSentencePieceModel(new Uint8Array(readFileSync(join(FIXTURES, `deberta-v3-${type}`, 'spm.model'))), `deberta-v3-${type}/spm.model`);
const expectedCases = (type: string): { text: string; spm_ids: number[] }[] =>
  JSON.parse(readFileSync(join(FIXTURES, `deberta-v3-${type}`, 'expected.json'), 'utf8')).cases;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tokenizer-train-'));
}

const brownLines = (files: string[]): string[] =>
  files.flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .map(brownLineToText)
      .filter((s): s is string => s !== null),
  );

test('darts: the double array finds every key by longest prefix and lists them back', () => {
  const enc = new TextEncoder();
  const words = ['a', 'ab', 'abc', 'b', 'bcd', 'é', 'éa', '\u3042', 'zz', 'zzz'].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  const keys = words.map((w) => enc.encode(w));
  const units = buildDoubleArray(
    keys,
    keys.map((_, i) => i * 7),
  );
  assert.equal(units.length % 256, 0);
  words.forEach((w, i) => assert.deepEqual(longestPrefix(units, enc.encode(w + 'q'), 0, enc.encode(w).length + 1), { length: enc.encode(w).length, value: i * 7 }));
  assert.deepEqual(longestPrefix(units, enc.encode('abx'), 0, 3), { length: 2, value: words.indexOf('ab') * 7 });
  assert.equal(longestPrefix(units, enc.encode('x'), 0, 1), null);
  assert.deepEqual(
    listKeys(units).map((k) => new TextDecoder().decode(k.key)),
    words,
  );
  assert.throws(() => buildDoubleArray([enc.encode('b'), enc.encode('a')], [0, 1]), /sorted/);
});

test('nmt_nfkc: the character map we build holds exactly the rules of the reference models', () => {
  const ours = decompileCharsMap(nmtNfkcCharsMap());
  const theirs = decompileCharsMap(fixture('unigram').normalizerSpec.precompiledCharsmap!);
  assert.equal(ours.size, 225275);
  assert.equal(theirs.size, ours.size);
  let differing = 0;
  for (const [k, v] of theirs) if (ours.get(k) !== v) differing++;
  assert.equal(differing, 0);
  assert.equal(ours.get('\uff21'), 'A'); // full-width A
  assert.equal(ours.get('\u2581'), ' ');
  assert.equal(ours.get('e\u0301'), '\u00e9');
  assert.equal(ours.get('\u0007'), '');
  assert.equal(ours.has('\uff5e'), false); // full-width tilde kept
});

test('normaliser and encoders: SentencePiece ids of the fixture models on every fixture case', () => {
  for (const type of ['unigram', 'bpe']) {
    const enc = new SpmEncoder(fixture(type));
    for (const c of expectedCases(type)) assert.deepEqual(enc.encode(c.text), c.spm_ids, `${type}: ${JSON.stringify(c.text)}`);
  }
});

test('normaliser: whitespace rules with our character map', () => {
  const n = new SpmNormalizer({ charsMap: nmtNfkcCharsMap(), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true });
  assert.equal(n.normalize('  Hello \t\n  world  '), '▁Hello▁world');
  assert.equal(n.normalize('ＦＵＬＬ\u3000width'), '▁FULL▁width');
  assert.equal(n.normalize('\u200b\u200b'), '');
  assert.equal(n.normalize('a\u0007b'), '▁ab'); // control characters go
  const raw = new SpmNormalizer({ charsMap: null, addDummyPrefix: false, removeExtraWhitespaces: false, escapeWhitespaces: true });
  assert.equal(raw.normalize(' a  b'), '▁a▁▁b');
});

test('pieces: one script, "▁" only in front, digits apart from letters, no longer than the limit', () => {
  const ok = (s: string, rules = DEFAULT_OPTIONS): boolean => {
    const c = toCodePoints(s);
    return isValidPiece(c, 0, c.length, rules);
  };
  assert.equal(ok('▁the'), true);
  assert.equal(ok('the▁'), false);
  assert.equal(ok("Atlanta's"), false); // Latin then Common
  assert.equal(ok('1,000'), true); // all Common
  assert.equal(ok('2nd'), false);
  assert.equal(ok('▁日本語です'), true); // Han, Hiragana count as one
  assert.equal(ok('abcdefghijklmnopq'), false); // 17 > 16
  assert.equal(ok('12', { ...DEFAULT_OPTIONS, splitDigits: true }), false);
  assert.equal(ok('2nd', { ...DEFAULT_OPTIONS, splitByNumber: false }), true);
});

test('errors name the flag or the file at fault', async () => {
  const dir = tmp();
  try {
    const file = join(dir, 'a.txt');
    writeFileSync(file, 'hello world\nthe quick brown fox\n');
    await assert.rejects(trainTokenizer({ files: [join(dir, 'missing.txt')] }, { modelType: 'unigram', vocabSize: 100 }), /missing\.txt does not exist \(--input\)/);
    await assert.rejects(trainTokenizer({ files: [dir] }, { modelType: 'unigram', vocabSize: 100 }), /is not a file \(--input\)/);
    await assert.rejects(trainTokenizer({ files: [file] }, { modelType: 'unigram', vocabSize: 3 }), /vocabSize \(--vocab-size\) must be an integer of at least 6/);
    await assert.rejects(trainTokenizer({ files: [file] }, { modelType: 'unigram', vocabSize: 10 }), /--vocab-size 10 is too small: the 4 special pieces and the 18 characters/);
    await assert.rejects(trainTokenizer({ files: [file] }, { modelType: 'bpe', vocabSize: 500 }), /--vocab-size 500 is more than this corpus allows for BPE/);
    await assert.rejects(trainTokenizer({ files: [file] }, { modelType: 'unigram', vocabSize: 500 }), /--vocab-size 500 is more than this corpus supports for unigram/);
    await assert.rejects(trainTokenizer({ files: [file] }, { modelType: 'wordpiece' as 'bpe', vocabSize: 100 }), /modelType \(--model-type\) must be "unigram" or "bpe"/);
    await assert.rejects(trainTokenizer({ sentences: ['', ''] }, { modelType: 'bpe', vocabSize: 100 }), /no sentences in the input/);
    await assert.rejects(
      buildProgram().exitOverride().parseAsync(['node', 'deberta', 'tokenizer-train', '--input', file, '--vocab-size', 'ten', '--out', dir]),
      /--vocab-size must be an integer/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('special pieces: [PAD] 0, [CLS] 1, [SEP] 2, [UNK] 3, [MASK] after the vocabulary; never learnt from the text', async () => {
  const sentences = ['[MASK] is a [CLS] token', 'the cat sat on the mat', 'a [SEP] b [PAD] c', 'the dog sat on the log'];
  const r = await trainTokenizer({ sentences }, { modelType: 'bpe', vocabSize: 40 });
  assert.deepEqual(
    r.model.pieces.slice(0, 4).map((p) => [p.piece, p.type]),
    [
      ['[PAD]', 'CONTROL'],
      ['[CLS]', 'CONTROL'],
      ['[SEP]', 'CONTROL'],
      ['[UNK]', 'UNKNOWN'],
    ],
  );
  assert.equal(r.model.pieces.length, 40);
  assert.ok(r.model.pieces.slice(4).every((p) => p.type === 'NORMAL' && !/[[\]]/.test(p.piece)));
});

test('written files: spm.model reads back through the project reader and rewrites byte for byte; layout as documented', async () => {
  const dir = tmp();
  try {
    const { train } = brownSplit();
    const r = await trainTokenizerToDir({ files: train.slice(0, 10) }, { modelType: 'unigram', vocabSize: 1000, inputFormat: 'brown' }, dir);
    assert.deepEqual(
      r.files.map((f) => f.slice(dir.length + 1)),
      ['spm.model', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'],
    );
    const bytes = new Uint8Array(readFileSync(join(dir, 'spm.model')));
    // ModelProto: field 1 (pieces, length-delimited) first; the first piece is [PAD].
    assert.equal(bytes[0], (1 << 3) | 2);
    const m = readSentencePieceModel(bytes, 'spm.model');
    assert.equal(m.pieces.length, 1000);
    assert.deepEqual(m.pieces, r.model.pieces.map((p) => ({ ...p, score: Math.fround(p.score) })));
    assert.equal(m.trainerSpec.modelType, 'UNIGRAM');
    assert.equal(m.trainerSpec.vocabSize, 1000);
    assert.equal(m.trainerSpec.unkId, 3);
    assert.equal(m.trainerSpec.padPiece, '[PAD]');
    assert.equal(m.normalizerSpec.name, 'nmt_nfkc');
    assert.deepEqual(m.normalizerSpec.precompiledCharsmap, nmtNfkcCharsMap());
    assert.deepEqual(writeSentencePieceModel(m), bytes);
    // Scores fall with the id (the alphabet may sit below every other piece).
    const normal = m.pieces.slice(4);
    for (let i = 1; i < normal.length; i++) assert.ok(normal[i]!.score <= normal[i - 1]!.score);

    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(config.tokenizer_class, 'DebertaV2Tokenizer');
    assert.equal(config.mask_token, '[MASK]');
    assert.equal(config.added_tokens_decoder['1000'].content, '[MASK]');
    const map = JSON.parse(readFileSync(join(dir, 'special_tokens_map.json'), 'utf8'));
    assert.deepEqual(map, { bos_token: '[CLS]', cls_token: '[CLS]', eos_token: '[SEP]', mask_token: '[MASK]', pad_token: '[PAD]', sep_token: '[SEP]', unk_token: '[UNK]' });
    const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    assert.equal(tj.model.type, 'Unigram');
    assert.equal(tj.model.vocab.length, 1000);
    assert.deepEqual(tj.added_tokens.at(-1), { id: 1000, content: '[MASK]', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    assert.equal(tj.normalizer.normalizers[0].type, 'Precompiled');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const TRICKY = [
  '',
  '   ',
  'Hello world!',
  '  leading,   inner   and trailing  ',
  'tab\tand\nnewline',
  'ＦＵＬＬＷＩＤＴＨ text and ﬁ ligature, ½ and ²',
  'naïve café coöperate — “quotes” ‘single’',
  'Straße 日本語 한국어 Русский ελληνικά',
  'emoji 😀🎉 and control\u0007chars and zero\u200bwidth',
  'combining e\u0301 vs é',
  'Numbers 1234567890 3.14159 -42 1,000,000 2nd',
  'x',
];

test('ids from spm.model equal ids from the written tokenizer.json (unigram and BPE, Brown and odd text)', async () => {
  const { train, heldOut } = brownSplit();
  const corpusReq = { inputFormat: 'brown' as const, modelType: 'unigram' as const, vocabSize: 2000 };
  const corpus = await loadCorpus({ files: train.filter((_, i) => i % 15 === 0) }, corpusReq);
  const lines = [...brownLines(heldOut.slice(0, 6)), ...TRICKY];
  for (const modelType of ['unigram', 'bpe'] as const) {
    const dir = tmp();
    try {
      const r = await trainTokenizerToDir(corpus, { ...corpusReq, modelType }, dir);
      const file = join(dir, 'spm.model');
      const written = readSentencePieceModel(new Uint8Array(readFileSync(file)), file);
      const spm = new SentencePieceProcessor(written, file);
      const ours = new SpmEncoder(written);
      const fromJson = await AutoTokenizer.fromPretrained(dir, { use: 'tokenizer.json' });
      const fromSpm = await AutoTokenizer.fromPretrained(dir, { use: 'spm.model' });
      let unk = 0;
      for (const line of lines) {
        const ids = spm.encode(line).ids;
        unk += ids.filter((i) => i === 3).length;
        assert.deepEqual(ours.encode(line), ids, `${modelType}, SpmEncoder: ${JSON.stringify(line)}`);
        assert.deepEqual(fromJson.encode(line, null, { addSpecialTokens: false }), ids, `${modelType}, tokenizer.json: ${JSON.stringify(line)}`);
      }
      assert.ok(unk > 0, 'the odd text exercises [UNK]');
      // With special tokens: [CLS] … [SEP] from both files.
      assert.deepEqual(fromJson.encode('the jury said'), [1, ...spm.encode('the jury said').ids, 2]);
      // transformers 5 rebuilds any spm.model as a unigram over the piece scores: for unigram models on
      // plain text that is the same tokenisation.
      if (modelType === 'unigram') {
        for (const line of brownLines(heldOut.slice(0, 6))) assert.deepEqual(fromSpm.encode(line, null, { addSpecialTokens: false }), spm.encode(line).ids);
      }
      assert.equal(r.model.trainerSpec.modelType, modelType === 'bpe' ? 'BPE' : 'UNIGRAM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('tokenizer.json BPE merges: every split of a piece into two pieces, ranked by the piece', () => {
  const model: SentencePieceModel = {
    pieces: [
      { piece: '[UNK]', score: 0, type: 'UNKNOWN' },
      { piece: 'ab', score: -1, type: 'NORMAL' },
      { piece: 'abc', score: -2, type: 'NORMAL' },
      { piece: 'bc', score: -3, type: 'NORMAL' },
      { piece: 'a', score: -4, type: 'NORMAL' },
      { piece: 'b', score: -5, type: 'NORMAL' },
      { piece: 'c', score: -6, type: 'NORMAL' },
    ],
    trainerSpec: { modelType: 'BPE' },
    normalizerSpec: {},
  };
  assert.deepEqual(bpeMerges(model), [
    ['a', 'b'],
    ['ab', 'c'],
    ['a', 'bc'],
    ['b', 'c'],
  ]);
});

test('--max-sentences trains on a seeded uniform sample; the same seed gives the same model', async () => {
  const sentences = brownLines(brownSplit().train.slice(0, 4));
  const a = await trainTokenizer({ sentences }, { modelType: 'bpe', vocabSize: 300, maxSentences: 100, seed: 7 });
  const b = await trainTokenizer({ sentences }, { modelType: 'bpe', vocabSize: 300, maxSentences: 100, seed: 7 });
  const c = await trainTokenizer({ sentences }, { modelType: 'bpe', vocabSize: 300, maxSentences: 100, seed: 8 });
  assert.equal(a.stats.sentences, 100);
  assert.equal(a.stats.sentencesSeen, sentences.length);
  assert.deepEqual(a.model.pieces, b.model.pieces);
  assert.notDeepEqual(a.model.pieces, c.model.pieces);
  assert.equal(a.model.trainerSpec.inputSentenceSize, 100);
});

test('CLI: deberta tokenizer-train writes a folder AutoTokenizer loads', async () => {
  const dir = tmp();
  try {
    const { train } = brownSplit();
    const out = join(dir, 'tok');
    await buildProgram().parseAsync(['node', 'deberta', 'tokenizer-train', '--input', ...train.slice(0, 3), '--input-format', 'brown', '--vocab-size', '500', '--model-type', 'bpe', '--out', out, '--quiet']);
    const tok = await AutoTokenizer.fromPretrained(out);
    const ids = tok.encode('The jury said it did find that');
    assert.equal(ids[0], 1);
    assert.equal(ids.at(-1), 2);
    assert.equal(tok.convertTokensToIds('[MASK]'), 500);
    assert.equal(readSentencePieceModel(new Uint8Array(readFileSync(join(out, 'spm.model'))), 'spm.model').pieces.length, 500);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const python = pythonWithSentencePiece();

test('Python sentencepiece loads the written spm.model and gives the same ids', { skip: python ? false : 'Python sentencepiece not installed' }, async () => {
  const dir = tmp();
  try {
    const sentences = brownLines(brownSplit().train.slice(0, 8));
    for (const modelType of ['unigram', 'bpe'] as const) {
      const out = join(dir, modelType);
      await trainTokenizerToDir({ sentences }, { modelType, vocabSize: 1500 }, out);
      const file = join(out, 'spm.model');
      const lines = [...sentences.slice(0, 200), ...TRICKY];
      writeFileSync(join(dir, 'lines.json'), JSON.stringify(lines));
      const script = 'import json,sys,sentencepiece as s\np=s.SentencePieceProcessor(model_file=sys.argv[1])\nprint(json.dumps([p.encode(l) for l in json.load(open(sys.argv[2]))]))';
      const py = JSON.parse(execFileSync(python!, ['-c', script, file, join(dir, 'lines.json')]).toString()) as number[][];
      const enc = new SpmEncoder(readSentencePieceModel(new Uint8Array(readFileSync(file)), file));
      lines.forEach((l, i) => assert.deepEqual(enc.encode(l), py[i], `${modelType}: ${JSON.stringify(l)}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
