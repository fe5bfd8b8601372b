// The embedded tokenizer (models/deberta-v3-brown-small) on emoji, zero-width joiners, lone surrogates and
// combining-mark storms, against the references. transformers.js differs from all of them on these texts
// (it turns a ZWJ into a space and a lone surrogate into U+FFFD before normalising, and applies NFKC for the
// precompiled charsmap): these ids pin what Hugging Face gives.
// Reference ids and offsets (code points) from Hugging Face `tokenizers` 0.23.2 (the Rust library, through
// its Node binding) reading the same tokenizer.json; SentencePiece ids from the sentencepiece library 0.1.97
// reading the same spm.model, a lone surrogate given to it as U+FFFD (what encoding the text as UTF-8 makes
// of it; Python cannot encode it otherwise). SentencePiece agrees with `tokenizers` except where a grapheme
// of 6 UTF-8 bytes or more carries marks: `tokenizers`' Precompiled normaliser then looks up its characters
// one by one, SentencePiece the longest match; there its ids are given (null: the same as `tokenizers`').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AutoTokenizer } from '../src/tokenizers/index.ts';

const DIR = join(import.meta.dirname, '..', 'models', 'deberta-v3-brown-small');

// [text, ids, offsets (Hugging Face tokenizers), ids (SentencePiece) where they differ]
const CASES: [string, number[], [number, number][], number[] | null][] = [
  ["Party \ud83c\udf89 tonight \ud83d\ude00!", [3090,76,3,1339,76,3,135], [[0,5],[5,6],[6,7],[7,15],[15,16],[16,17],[17,18]], null],
  ["\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 family", [76,3,560], [[0,1],[0,5],[5,12]], null],
  ["\ud83c\udff3\ufe0f\u200d\ud83c\udf08 flag", [76,3,3997], [[0,1],[0,4],[4,9]], null],
  ["\ud83d\udc4d\ud83c\udffd ok", [76,3,4049], [[0,1],[0,2],[2,5]], null],
  ["\ud83c\uddeb\ud83c\uddf7\ud83c\uddef\ud83c\uddf5 trip", [76,3,1536], [[0,1],[0,4],[4,9]], null],
  ["\u2764\ufe0f love", [76,3,247], [[0,1],[0,2],[2,7]], null],
  ["1\ufe0f\u20e3 first", [353,3,126], [[0,1],[1,3],[3,9]], null],
  ["a\u200db", [11,3,107], [[0,1],[1,2],[2,3]], null],
  ["x\u200d y", [4690,3,1697], [[0,1],[1,2],[2,4]], null],
  ["zero\u200dwidth joiner", [5428,3,337,345,120,1909,42], [[0,4],[4,5],[5,6],[6,8],[8,10],[10,15],[15,17]], null],
  ["ab\ud83dc", [11,107,250], [[0,1],[1,2],[2,4]], null],
  ["x\ud800y", [4690,1697], [[0,1],[1,3]], null],
  ["\udfff\ud800 z", [3499], [[3,4]], null],
  ["end\ud83d", [270], [[0,3]], null],
  ["\ude00start", [534], [[1,6]], null],
  ["pair \ud83d\ude00 and half \ud83d done", [2840,76,3,10,573,576], [[0,4],[4,5],[5,6],[6,10],[10,15],[17,22]], null],
  ["e\u0301", [76,3047], [[0,1],[0,1]], null],
  ["cafe\u0301 noe\u0308l", [1590,235,3047,94,3,136], [[0,2],[2,3],[3,4],[5,8],[8,9],[10,11]], null],
  ["a\u0300\u0301", [76,3], [[0,1],[0,1]], null],
  ["a\u0300\u0301\u0302\u0303\u0308\u030a\u0323\u0327\u0345", [11,3], [[0,1],[1,10]], [76,3]],
  ["x\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300\u0300 y", [4690,3,1697], [[0,1],[1,21],[21,23]], null],
  ["o\u20d7\u1dc0", [569,3], [[0,1],[1,3]], null],
  ["\u05e9\u05b4\u05bc", [76,3], [[0,1],[0,3]], null],
  ["\u0915\u093c\u094d", [76,3], [[0,1],[0,3]], null],
  ["the e\u0301\u0323e\u0301\u0323e\u0301\u0323e\u0301\u0323e\u0301\u0323 end", [4,76,3047,3047,3047,3047,3047,270], [[0,3],[3,4],[4,5],[7,8],[10,11],[13,14],[16,17],[19,23]], [4,76,3047,3,3047,3,3047,3,3047,3,3047,3,270]],
];

test('embedded tokenizer: emoji, ZWJ, lone surrogates and mark storms give the ids and offsets of Hugging Face tokenizers', async () => {
  const tok = await AutoTokenizer.fromPretrained(DIR, { use: 'tokenizer.json' });
  for (const [text, ids, offsets] of CASES) {
    const r = tok([text], { addSpecialTokens: false, returnOffsets: true });
    assert.deepEqual(r.inputIds[0], ids, JSON.stringify(text));
    assert.deepEqual(r.offsets![0], offsets, JSON.stringify(text));
  }
});

test('embedded tokenizer: SentencePiece\'s ids wherever its normaliser agrees with tokenizers\' (graphemes under 6 bytes)', async () => {
  const tok = await AutoTokenizer.fromPretrained(DIR, { use: 'tokenizer.json' });
  let agree = 0;
  for (const [text, ids, , spm] of CASES) {
    const got = tok.encode(text, null, { addSpecialTokens: false });
    if (spm === null) {
      agree++;
      assert.deepEqual(got, ids, JSON.stringify(text));
    } else assert.notDeepEqual(got, spm, `${JSON.stringify(text)}: SentencePiece's longest-match normalisation, not tokenizers'`);
  }
  assert.equal(agree, CASES.length - 2);
});
