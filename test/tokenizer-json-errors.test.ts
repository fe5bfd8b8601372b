// Malformed tokenizer.json files: each is refused with an Error naming the file, the JSON path of the field
// at fault and what was expected there (not a TypeError from inside a builder, nor the last-resort
// "not a valid tokenizer.json"). The cases are those the fuzz suite found and those written by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineFromTokenizerJson } from '../src/tokenizers/tokenizer-json.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'tokenizers');
const FILE = 'T/tokenizer.json';
type Json = Record<string, unknown>;
const base = (kind: string): Json => JSON.parse(readFileSync(join(FIXTURES, kind, 'tokenizer.json'), 'utf8')) as Json;
const UNIGRAM = base('deberta-v3-unigram');
/** deberta-v3-bpe's tokenizer.json is a Unigram model (transformers converts the spm.model); GPT2 is the BPE one. */
const BPE = base('deberta-v3-bpe');
const GPT2 = base('deberta-v1-gpt2bpe');
const UNIGRAM_SIZE = (UNIGRAM.model as { vocab: unknown[] }).vocab.length;

/** A deep copy of `json` with the value at `path` set (undefined: removed). */
function withField(json: Json, path: (string | number)[], value: unknown): Json {
  const copy = structuredClone(json);
  let node = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const cases: [string, Json, string][] = [
  // model
  ['model without a type', withField(UNIGRAM, ['model', 'type'], undefined), 'model.type: expected a string naming the model, got nothing'],
  ['model of unknown type', withField(UNIGRAM, ['model', 'type'], 'Bigram'), 'model: unsupported model "Bigram"'],
  ['Unigram vocab as an object', withField(UNIGRAM, ['model', 'vocab'], { a: 1 }), 'model.vocab: expected a list, got an object'],
  ['Unigram vocab entry not a pair', withField(UNIGRAM, ['model', 'vocab', 109], [null]), 'model.vocab[109]: expected a [piece, score] pair, got a list of 1'],
  ['Unigram vocab entry null', withField(UNIGRAM, ['model', 'vocab', 3], null), 'model.vocab[3]: expected a [piece, score] pair, got null'],
  ['Unigram score not a number', withField(UNIGRAM, ['model', 'vocab', 7, 1], 'x'), 'model.vocab[7][1]: expected a finite number, got the string "x"'],
  ['Unigram unk_id past the vocabulary', withField(UNIGRAM, ['model', 'unk_id'], 1e308), 'model.unk_id: expected an integer from 0 to 4294967295, got the number 1e+308'],
  ['Unigram unk_id not in the vocabulary', withField(UNIGRAM, ['model', 'unk_id'], UNIGRAM_SIZE), `model.unk_id: expected an index into the vocabulary of ${UNIGRAM_SIZE} (or null), got the number ${UNIGRAM_SIZE}`],
  ['Unigram byte_fallback not a boolean', withField(UNIGRAM, ['model', 'byte_fallback'], 'yes'), 'model.byte_fallback: expected true or false, got the string "yes"'],
  ['BPE vocab as a list', withField(GPT2, ['model', 'vocab'], ['a', 'b']), 'model.vocab: expected an object, got a list of 2'],
  ['BPE vocab id negative', withField(GPT2, ['model', 'vocab', '¢'], -1), 'model.vocab["¢"]: expected an integer from 0 to 4294967295, got the number -1'],
  ['BPE merges as an object', withField(GPT2, ['model', 'merges'], {}), 'model.merges: expected a list, got an object'],
  ['BPE merge as an object', withField(GPT2, ['model', 'merges', 3], { a: 'b' }), 'model.merges[3]: expected a pair of strings or "a b", got an object'],
  ['BPE merge null', withField(GPT2, ['model', 'merges', 6], null), 'model.merges[6]: expected a pair of strings or "a b", got null'],
  ['BPE merge pair of three', withField(GPT2, ['model', 'merges', 0], ['a', 'b', 'c']), 'model.merges[0]: expected a pair of strings or "a b", got a list of 3'],
  ['BPE unk_token a number', withField(GPT2, ['model', 'unk_token'], 5), 'model.unk_token: expected a string or null, got the number 5'],
  ['BPE dropout a string', withField(GPT2, ['model', 'dropout'], 'x'), 'model.dropout: expected a finite number, got the string "x"'],
  // added tokens
  ['added_tokens as an object', withField(UNIGRAM, ['added_tokens'], { a: 1 }), 'added_tokens: expected a list, got an object'],
  ['added token null', withField(BPE, ['added_tokens', 3], null), 'added_tokens[3]: expected an object, got null'],
  ['added token id negative', withField(UNIGRAM, ['added_tokens', 0, 'id'], -1), 'added_tokens[0].id: expected an integer from 0 to 4294967295, got the number -1'],
  ['added token id fractional', withField(UNIGRAM, ['added_tokens', 1, 'id'], 1.5), 'added_tokens[1].id: expected an integer from 0 to 4294967295, got the number 1.5'],
  ['added token id as text', withField(UNIGRAM, ['added_tokens', 2, 'id'], '2'), 'added_tokens[2].id: expected an integer from 0 to 4294967295, got the string "2"'],
  ['added token without content', withField(UNIGRAM, ['added_tokens', 4, 'content'], undefined), 'added_tokens[4].content: expected a string, got nothing'],
  ['added token special flag a string', withField(UNIGRAM, ['added_tokens', 0, 'special'], 'true'), 'added_tokens[0].special: expected true or false, got the string "true"'],
  // normalizer
  ['normalizer a number', withField(GPT2, ['normalizer'], -1), 'normalizer: expected an object, got the number -1'],
  ['normalizer of unknown type', withField(UNIGRAM, ['normalizer', 'type'], 'Uppercase'), 'normalizer: unsupported normalizer "Uppercase"'],
  ['Sequence children a string', withField(BPE, ['normalizer', 'normalizers'], '\\-A'), 'normalizer.normalizers: expected a list, got the string "\\\\-A"'],
  ['Sequence child null', withField(UNIGRAM, ['normalizer', 'normalizers', 1], null), 'normalizer.normalizers[1]: expected an object, got null'],
  ['Sequence child without a type', withField(UNIGRAM, ['normalizer', 'normalizers', 1], { form: 'NFC' }), 'normalizer.normalizers[1].type: expected a string naming the normalizer, got nothing'],
  ['nested Sequence with a wrong child', withField(UNIGRAM, ['normalizer', 'normalizers', 1], { type: 'Sequence', normalizers: [{ type: 'NFC' }, 7] }), 'normalizer.normalizers[1].normalizers[1]: expected an object, got the number 7'],
  ['Replace without a pattern', withField(UNIGRAM, ['normalizer', 'normalizers', 0, 'pattern'], undefined), 'normalizer.normalizers[0].pattern: expected an object, got nothing'],
  ['Replace pattern of neither kind', withField(UNIGRAM, ['normalizer', 'normalizers', 0, 'pattern'], { Glob: '*' }), 'normalizer.normalizers[0].pattern: expected { "String": text } or { "Regex": pattern }, got an object with "Glob"'],
  ['Strip flag a number', withField(UNIGRAM, ['normalizer', 'normalizers', 2, 'strip_right'], 1), 'normalizer.normalizers[2].strip_right: expected true or false, got the number 1'],
  // pre_tokenizer
  ['pre_tokenizer a string', withField(BPE, ['pre_tokenizer'], 'BPE'), 'pre_tokenizer: expected an object, got the string "BPE"'],
  ['pre_tokenizer children a string', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers'], 'toString'), 'pre_tokenizer.pretokenizers: expected a list, got the string "toString"'],
  ['pre_tokenizer child a number', withField(BPE, ['pre_tokenizer', 'pretokenizers', 0], 632430714045.509), 'pre_tokenizer.pretokenizers[0]: expected an object, got the number 632430714045.509'],
  ['Metaspace replacement of two characters', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers', 0, 'replacement'], '__'), 'pre_tokenizer.pretokenizers[0].replacement: expected one character, got the string "__"'],
  ['Metaspace prepend_scheme unknown', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers', 0, 'prepend_scheme'], 'sometimes'), 'pre_tokenizer.pretokenizers[0].prepend_scheme: expected one of "always", "first", "never", got the string "sometimes"'],
  ['Metaspace split a string', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers', 0, 'split'], 'yes'), 'pre_tokenizer.pretokenizers[0].split: expected true or false, got the string "yes"'],
  ['Split without a pattern', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers', 0], { type: 'Split', behavior: 'Isolated' }), 'pre_tokenizer.pretokenizers[0].pattern: expected an object, got nothing'],
  ['Split behaviour unknown', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers', 0], { type: 'Split', pattern: { String: ' ' }, behavior: 'Dropped' }), 'pre_tokenizer.pretokenizers[0].behavior: expected one of "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous", got the string "Dropped"'],
  ['CharDelimiterSplit without a delimiter', withField(UNIGRAM, ['pre_tokenizer', 'pretokenizers', 0], { type: 'CharDelimiterSplit' }), 'pre_tokenizer.pretokenizers[0].delimiter: expected one character, got nothing'],
  // post_processor
  ['post_processor without a type', withField(GPT2, ['post_processor'], {}), 'post_processor.type: expected a string naming the post_processor, got nothing'],
  ['special_tokens a list', withField(BPE, ['post_processor', 'special_tokens'], [null, '%']), 'post_processor.special_tokens: expected an object, got a list of 2'],
  ['special token entry null', withField(BPE, ['post_processor', 'special_tokens', '[CLS]'], null), 'post_processor.special_tokens["[CLS]"]: expected an object, got null'],
  ['special token ids not a list', withField(BPE, ['post_processor', 'special_tokens', '[SEP]', 'ids'], 2), 'post_processor.special_tokens["[SEP]"].ids: expected a list, got the number 2'],
  ['special token id negative', withField(BPE, ['post_processor', 'special_tokens', '[SEP]', 'ids'], [-2]), 'post_processor.special_tokens["[SEP]"].ids[0]: expected an integer from 0 to 4294967295, got the number -2'],
  ['template piece without an id', withField(UNIGRAM, ['post_processor', 'single', 2, 'SpecialToken'], { type_id: 0 }), 'post_processor.single[2].SpecialToken.id: expected a string, got nothing'],
  ['template piece null', withField(GPT2, ['post_processor', 'pair', 2], null), 'post_processor.pair[2]: expected an object, got null'],
  ['template piece of neither kind', withField(GPT2, ['post_processor', 'pair', 1], { Seq: {} }), 'post_processor.pair[1]: expected "Sequence" or "SpecialToken", got an object with "Seq"'],
  ['template sequence C', withField(UNIGRAM, ['post_processor', 'pair', 3, 'Sequence', 'id'], 'C'), 'post_processor.pair[3].Sequence.id: expected one of "A", "B", got the string "C"'],
  ['template type id negative', withField(UNIGRAM, ['post_processor', 'pair', 4, 'SpecialToken', 'type_id'], -1), 'post_processor.pair[4].SpecialToken.type_id: expected an integer from 0 to 4294967295, got the number -1'],
  ['template a number', withField(UNIGRAM, ['post_processor', 'single'], 9007199254740992), 'post_processor.single: expected a list, got the number 9007199254740992'],
  ['BertProcessing sep a string', withField(UNIGRAM, ['post_processor'], { type: 'BertProcessing', sep: '[SEP]', cls: ['[CLS]', 1] }), 'post_processor.sep: expected a [token, id] pair, got the string "[SEP]"'],
  // decoder
  ['decoder a number', withField(UNIGRAM, ['decoder'], 9007199254740992), 'decoder: expected an object, got the number 9007199254740992'],
  ['decoder type an object', withField(BPE, ['decoder', 'type'], { a: 1 }), 'decoder.type: expected a string naming the decoder, got an object'],
  ['decoder children a number', withField(GPT2, ['decoder'], { type: 'Sequence', decoders: 3 }), 'decoder.decoders: expected a list, got the number 3'],
  ['Strip decoder start negative', withField(GPT2, ['decoder'], { type: 'Strip', content: ' ', start: -1, stop: 0 }), 'decoder.start: expected an integer from 0 to 4294967295, got the number -1'],
];

test(`${cases.length} malformed tokenizer.json files: an Error naming the file and the JSON path of the field at fault`, () => {
  for (const [name, json, message] of cases) {
    assert.throws(() => pipelineFromTokenizerJson(json, FILE), (err: unknown) => {
      assert.ok(err instanceof Error && err.constructor === Error, `${name}: ${String(err)}`);
      assert.equal(err.message, `${FILE}: ${message}`, name);
      return true;
    }, name);
  }
});

test('the fixture files themselves still load', () => {
  for (const json of [UNIGRAM, BPE, GPT2]) assert.ok(pipelineFromTokenizerJson(json, FILE).encodeSequence('Hello world', 0).length > 0);
});
