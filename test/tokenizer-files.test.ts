// Tokenizer files: the spm.model protobuf (read, write, unknown fields), SentencePiece itself against the
// fixtures' spm_pieces / spm_ids, and clear errors for missing or broken files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoTokenizer,
  SentencePieceProcessor,
  readSentencePieceModel,
  writeSentencePieceModel,
  type SentencePieceModel,
} from '../src/tokenizers/index.ts';

const ROOT = 'test/fixtures/tokenizers';

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenizer-files-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('spm.model: reads the fixture models and writes them back byte for byte', () => {
  for (const [name, type, first] of [
    ['deberta-v3-unigram', 'UNIGRAM', { piece: '▁the', score: -3.11881160736084, type: 'NORMAL' }],
    ['deberta-v3-bpe', 'BPE', { piece: '▁t', score: -0, type: 'NORMAL' }],
  ] as const) {
    const file = join(ROOT, name, 'spm.model');
    const bytes = new Uint8Array(readFileSync(file));
    const m = readSentencePieceModel(bytes, file);
    assert.equal(m.pieces.length, 8000);
    assert.deepEqual(m.pieces.slice(0, 4), [
      { piece: '[PAD]', score: 0, type: 'CONTROL' },
      { piece: '[CLS]', score: 0, type: 'CONTROL' },
      { piece: '[SEP]', score: 0, type: 'CONTROL' },
      { piece: '[UNK]', score: 0, type: 'UNKNOWN' },
    ]);
    assert.deepEqual(m.pieces[4], first);
    assert.equal(m.trainerSpec.modelType, type);
    assert.deepEqual(
      [m.trainerSpec.vocabSize, m.trainerSpec.unkId, m.trainerSpec.bosId, m.trainerSpec.eosId, m.trainerSpec.padId],
      [8000, 3, 1, 2, 0],
    );
    assert.deepEqual([m.trainerSpec.unkPiece, m.trainerSpec.bosPiece, m.trainerSpec.eosPiece, m.trainerSpec.padPiece], ['[UNK]', '[CLS]', '[SEP]', '[PAD]']);
    assert.equal(m.normalizerSpec.name, 'nmt_nfkc');
    assert.equal(m.normalizerSpec.precompiledCharsmap?.length, 240007);
    assert.equal(m.unknownFields, undefined);
    assert.deepEqual(writeSentencePieceModel(m), bytes);
  }
});

test('spm.model writer: field numbers and wire types of sentencepiece_model.proto', () => {
  const model: SentencePieceModel = {
    pieces: [
      { piece: '<unk>', score: 0, type: 'UNKNOWN' },
      { piece: 'a', score: -1.5, type: 'NORMAL' },
    ],
    trainerSpec: { modelType: 'BPE', vocabSize: 2, unkId: 0, padId: -1 },
    normalizerSpec: { name: 'identity', addDummyPrefix: true },
  };
  const hex = Buffer.from(writeSentencePieceModel(model)).toString('hex');
  const expected = [
    '0a0e', '0a053c756e6b3e', '1500000000', '1802', // pieces[0]: piece, score (float), type UNKNOWN = 2
    '0a08', '0a0161', '150000c0bf', // pieces[1]: NORMAL is the default and left out
    '1213', '1802', '2002', 'c00200', 'd802ffffffffffffffffff01', // trainer_spec: model_type 3, vocab_size 4, unk_id 40, pad_id 43 (-1)
    '1a0c', '0a086964656e74697479', '1801', // normalizer_spec: name 1, add_dummy_prefix 3
  ].join('');
  assert.equal(hex, expected);
  assert.deepEqual(readSentencePieceModel(Buffer.from(expected, 'hex'), 'mini.model'), model);
});

test('spm.model: unknown fields survive a read/write round trip', () => {
  const base = writeSentencePieceModel({
    pieces: [{ piece: '<unk>', score: 0, type: 'UNKNOWN' }],
    trainerSpec: { modelType: 'UNIGRAM' },
    normalizerSpec: {},
  });
  // Field 200 (varint 7) at the top level, inside the piece, and field 60 (string) in trainer_spec.
  const m = readSentencePieceModel(base, 'base.model');
  m.unknownFields = new Uint8Array([0xc0, 0x0c, 0x07]);
  m.pieces[0]!.unknownFields = new Uint8Array([0xc0, 0x0c, 0x07]);
  m.trainerSpec.unknownFields = new Uint8Array([0xe2, 0x03, 0x02, 0x68, 0x69]);
  const bytes = writeSentencePieceModel(m);
  const back = readSentencePieceModel(bytes, 'extended.model');
  assert.deepEqual(back.unknownFields, new Uint8Array([0xc0, 0x0c, 0x07]));
  assert.deepEqual(back.pieces[0]!.unknownFields, new Uint8Array([0xc0, 0x0c, 0x07]));
  assert.deepEqual(back.trainerSpec.unknownFields, new Uint8Array([0xe2, 0x03, 0x02, 0x68, 0x69]));
  assert.deepEqual(writeSentencePieceModel(back), bytes);
});

test('spm.model writer refuses models sentencepiece would not load', () => {
  const unk = { piece: '<unk>', score: 0, type: 'UNKNOWN' as const };
  const spec = { trainerSpec: {}, normalizerSpec: {} };
  assert.throws(() => writeSentencePieceModel({ pieces: [], ...spec }), /pieces must be a non-empty array/);
  assert.throws(() => writeSentencePieceModel({ pieces: [{ piece: 'a', score: 0, type: 'NORMAL' }], ...spec }), /exactly one piece of type UNKNOWN \(found 0\)/);
  assert.throws(() => writeSentencePieceModel({ pieces: [unk, { piece: 'a', score: 0, type: 'NORMAL' }, { piece: 'a', score: -1, type: 'NORMAL' }], ...spec }), /pieces\[2\]\.piece "a" is duplicated/);
  assert.throws(() => writeSentencePieceModel({ pieces: [unk, { piece: '', score: 0, type: 'NORMAL' }], ...spec }), /pieces\[1\]\.piece is empty/);
  assert.throws(() => writeSentencePieceModel({ pieces: [unk], trainerSpec: { vocabSize: 1.5 }, normalizerSpec: {} }), /TrainerSpec\.vocabSize must be an integer|trainerSpec\.vocabSize must be an integer/);
  assert.throws(
    () => writeSentencePieceModel({ pieces: [unk], trainerSpec: { modelType: 'WORDPIECE' as 'BPE' }, normalizerSpec: {} }),
    /modelType must be one of UNIGRAM, BPE, WORD, CHAR/,
  );
});

test('SentencePiece itself: pieces and ids as the sentencepiece library gave them, for all 430 cases of both models', () => {
  for (const name of ['deberta-v3-unigram', 'deberta-v3-bpe']) {
    const sp = SentencePieceProcessor.fromBytes(readFileSync(join(ROOT, name, 'spm.model')), 'spm.model');
    const exp = JSON.parse(readFileSync(join(ROOT, name, 'expected.json'), 'utf8')) as { cases: { text: string; spm_pieces: string[]; spm_ids: number[] }[] };
    const failures = exp.cases.filter((c) => {
      const r = sp.encode(c.text);
      return JSON.stringify(r.pieces) !== JSON.stringify(c.spm_pieces) || JSON.stringify(r.ids) !== JSON.stringify(c.spm_ids);
    });
    assert.equal(exp.cases.length, 430);
    assert.deepEqual(failures.map((c) => c.text), [], name);
    assert.equal(sp.decode(sp.encode('Hello   world!').ids), 'Hello world!');
  }
});

test('errors: missing folder, missing files, and which file is missing', withDir(async (dir) => {
  await assert.rejects(AutoTokenizer.fromPretrained(join(dir, 'nope')), /nope: cannot open the checkpoint folder/);
  await assert.rejects(AutoTokenizer.fromPretrained(dir), /no tokenizer files \(expected tokenizer\.json, spm\.model, or vocab\.json \+ merges\.txt\)/);
  copyFileSync(join(ROOT, 'deberta-v1-gpt2bpe', 'vocab.json'), join(dir, 'vocab.json'));
  await assert.rejects(AutoTokenizer.fromPretrained(dir), /merges\.txt: file not found \(vocab\.json needs it\)/);
  await assert.rejects(AutoTokenizer.fromPretrained(dir, { use: 'spm.model' }), /spm\.model: file not found/);
}));

test('errors: a corrupt spm.model names the file', withDir(async (dir) => {
  const good = readFileSync(join(ROOT, 'deberta-v3-unigram', 'spm.model'));
  writeFileSync(join(dir, 'spm.model'), good.subarray(0, 1000));
  await assert.rejects(AutoTokenizer.fromPretrained(dir), (err: Error) => err.message.startsWith(join(dir, 'spm.model')) && /not a valid SentencePiece model/.test(err.message));
  writeFileSync(join(dir, 'spm.model'), Buffer.alloc(64));
  await assert.rejects(AutoTokenizer.fromPretrained(dir), /spm\.model: not a valid SentencePiece model \(corrupt protobuf: invalid field number 0/);
  writeFileSync(join(dir, 'spm.model'), '{"model": "not protobuf"}');
  await assert.rejects(AutoTokenizer.fromPretrained(dir), /spm\.model: not a valid SentencePiece model/);
  assert.throws(() => readSentencePieceModel(new Uint8Array(0), 'empty.model'), /empty\.model: not a valid SentencePiece model \(ModelProto\.pieces is empty\)/);
}));

test('errors: tokenizer.json with invalid JSON or an unsupported component names it', withDir(async (dir) => {
  const json = JSON.parse(readFileSync(join(ROOT, 'deberta-v3-unigram', 'tokenizer.json'), 'utf8'));
  const file = join(dir, 'tokenizer.json');
  writeFileSync(file, '{"model": ');
  await assert.rejects(AutoTokenizer.fromPretrained(dir), /tokenizer\.json: not valid JSON/);
  const variants: [string, (j: typeof json) => void, RegExp][] = [
    ['normalizer', (j) => (j.normalizer.normalizers[1] = { type: 'Nmt' }), /tokenizer\.json: normalizer\.normalizers\[1\]: unsupported normalizer "Nmt"/],
    ['pre_tokenizer', (j) => (j.pre_tokenizer = { type: 'UnicodeScripts' }), /tokenizer\.json: pre_tokenizer: unsupported pre_tokenizer "UnicodeScripts"/],
    ['model', (j) => (j.model = { type: 'WordLevel', vocab: {} }), /tokenizer\.json: model: unsupported model "WordLevel"/],
    ['decoder', (j) => (j.decoder = { type: 'CTC' }), /tokenizer\.json: decoder: unsupported decoder "CTC"/],
    ['post_processor', (j) => (j.post_processor = { type: 'Fancy' }), /tokenizer\.json: post_processor: unsupported post_processor "Fancy"/],
    ['no model', (j) => delete j.model, /tokenizer\.json: not a tokenizer\.json \(no "model"\)/],
  ];
  for (const [what, edit, message] of variants) {
    const j = structuredClone(json);
    edit(j);
    writeFileSync(file, JSON.stringify(j));
    await assert.rejects(AutoTokenizer.fromPretrained(dir), message, what);
  }
}));
