// The fuzz properties of the tokenizer readers and of tokenization, run by test/fuzz-tokenizers.test.ts in
// child processes (test/helpers/fuzz-child.ts): tokenizer.json and spm.model give a tokenizer or an Error
// naming the file; any text tokenizes to ids in the vocabulary with offsets inside the text.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { pipelineFromTokenizerJson } from '../../src/tokenizers/tokenizer-json.ts';
import { readSentencePieceModel } from '../../src/tokenizers/sentencepiece-proto.ts';
import { AutoTokenizer } from '../../src/tokenizers/auto.ts';
import { resultOrNamedError } from './fuzz-loaders.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const KINDS = ['deberta-v3-unigram', 'deberta-v3-bpe', 'deberta-v1-gpt2bpe'];

type Json = unknown;

/** The value with the node at `path` (indices into the children of each level, modulo their count) replaced or removed. */
function edit(v: Json, path: number[], replacement: Json | undefined): Json {
  if (path.length === 0 || v === null || typeof v !== 'object') return replacement === undefined ? null : replacement;
  const [i, ...rest] = path as [number, ...number[]];
  if (Array.isArray(v)) {
    if (v.length === 0) return v as Json;
    const k = i % v.length;
    const copy = [...v];
    if (rest.length === 0 && replacement === undefined) copy.splice(k, 1);
    else copy[k] = edit(v[k], rest, replacement);
    return copy;
  }
  const obj = v as Record<string, Json>;
  const keys = Object.keys(obj);
  if (keys.length === 0) return obj;
  const key = keys[i % keys.length]!;
  const copy = { ...obj };
  if (rest.length === 0 && replacement === undefined) delete copy[key];
  else copy[key] = edit(obj[key], rest, replacement);
  return copy;
}

const jsonFiles = KINDS.map((k) => JSON.parse(readFileSync(join(FIXTURES, k, 'tokenizer.json'), 'utf8')) as Json);
const edits = fc.array(fc.record({
  path: fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 4 }),
  value: fc.option(fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('toString', '__proto__', -1, 1e308, 2 ** 53, 'Unigram', 'BPE', 'WordPiece')), { nil: undefined }),
}), { minLength: 1, maxLength: 4 });

/** Edited tokenizer.json files give a tokenizer or an error naming the file. */
const tokenizerJson = fc.property(fc.nat({ max: jsonFiles.length - 1 }), edits, (which, changes) => {
    let json: Json = jsonFiles[which];
    for (const c of changes) json = edit(json, c.path, c.value);
    const p = resultOrNamedError('FUZZ/tokenizer.json', () => pipelineFromTokenizerJson(json as never, 'FUZZ/tokenizer.json'), false);
    // A tokenizer built from an odd file may still refuse a text (no unk piece): with a deliberate Error, not a TypeError.
    if (p) {
      try {
        p.encodeSequence('Hello wörld 123', 0);
      } catch (err) {
        assert.ok(err instanceof Error && err.constructor === Error, `encoding failed with ${String(err)}`);
      }
    }
});

const spmFiles = ['deberta-v3-unigram', 'deberta-v3-bpe'].map((k) => new Uint8Array(readFileSync(join(FIXTURES, k, 'spm.model'))));

const mutated = fc.record({
    which: fc.nat({ max: spmFiles.length - 1 }),
    flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  }).map(({ which, flips, cut }) => {
    const b = new Uint8Array(spmFiles[which]!);
    for (const [at, v] of flips) b[at % b.length] = v;
    return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
  });
/** Damaged and random spm.model bytes give a model or an error naming the file. */
const spmModel = fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 512 })), (bytes) => {
  const m = resultOrNamedError('FUZZ/spm.model', () => readSentencePieceModel(bytes, 'FUZZ/spm.model'), false);
  if (m) assert.ok(Array.isArray(m.pieces));
});

// Text: code points of every kind, lone surrogates, combining storms, special-token look-alikes.
const pieces = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom('\uD800', '\uDFFF', '\uDBFF\uDBFF', 'e\u0301', '\u0300'.repeat(64), 'a' + '\u0308\u0301\u0323'.repeat(40), '\u200d',
    '👩‍👩‍👧‍👦', '🏳️‍🌈', '한국어', 'ﬁ', 'Ⅻ', '\u0000', '\t\n\r', '  ', '[MASK]', '[CLS] [SEP]', '<s>', '▁', 'Ġ', '\uFEFF', '\u3000', 'İ', 'ß'),
);
const text = fc.array(pieces, { maxLength: 40 }).map((p) => p.join('').slice(0, 1500));

/** Any text tokenizes to ids in the vocabulary with offsets inside the text. */
async function anyText() {
  const tokenizers = await Promise.all(KINDS.map((k) => AutoTokenizer.fromPretrained(join(FIXTURES, k))));
  return fc.property(fc.nat({ max: tokenizers.length - 1 }), text, fc.option(text, { nil: null }), (which, a, b) => {
    const tok = tokenizers[which]!;
    const limit = Math.max(tok.vocabSize, ...tok.allSpecialIds) + 1;
    const r = tok.encodeBatch([[a, b]], { returnOffsets: true });
    const ids = r.inputIds[0]!;
    assert.equal(r.attentionMask[0]!.length, ids.length);
    for (const id of ids) assert.ok(Number.isSafeInteger(id) && id >= 0 && id < limit, `id ${id} of ${limit}`);
    const offsets = r.offsets![0]!;
    assert.equal(offsets.length, ids.length);
    const seqLen = (i: number) => ((r.sequenceIds?.[0]?.[i] ?? 0) === 1 ? b!.length : a.length);
    offsets.forEach(([s, e], i) => assert.ok(s >= 0 && s <= e && e <= Math.max(a.length, b?.length ?? 0, seqLen(i)), `offset [${s}, ${e}]`));
    assert.equal(typeof tok.decode(ids), 'string');
  });
}

export async function tokenizerProperties() {
  return { tokenizerJson, spmModel, anyText: await anyText() };
}
