// Tokenizer training against SentencePiece itself, on the Brown corpus (the full-size check, scaled to the
// test suite): the reference models test/fixtures/tokenizers/deberta-v3-{unigram,bpe}/spm.model were
// trained by SentencePiece on all 500 Brown files with 8000 pieces, so we train on the same text with
// the same settings (read once, shared by both trainers; about 10 s of CPU in all) and compare:
//  - BPE: the algorithm is deterministic, and ours reproduces SentencePiece's vocabulary exactly;
//  - unigram: EM and pruning leave room for small differences (float32 vs float64, seed substrings), so
//    we compare average tokens per word on the held-out files (every tenth file): the target was 3 %; we
//    measure -0.027 % and hold it within 0.08 % (3×). (bench/tokenizer-train.ts also trains on the 450
//    training files only and reports the held-out figures then.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readSentencePieceModel, type SentencePieceModel } from '../src/tokenizers/sentencepiece-proto.ts';
import { brownFiles, brownLineToText, brownSplit, loadCorpus, SpmEncoder, tokensPerWord, trainTokenizer } from '../src/tokenizers/train/index.ts';

const fixture = (type: string): SentencePieceModel =>
  readSentencePieceModel(new Uint8Array(readFileSync(`test/fixtures/tokenizers/deberta-v3-${type}/spm.model`)), `deberta-v3-${type}/spm.model`);

const heldOut = brownSplit().heldOut.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .map(brownLineToText)
    .filter((s): s is string => s !== null),
);

const request = { inputFormat: 'brown' as const, vocabSize: 8000, modelType: 'bpe' as const };
const corpus = loadCorpus({ files: brownFiles() }, request);

test('Brown corpus as the reference models saw it: 500 files, 57340 sentences, 75 characters', async () => {
  const c = await corpus;
  assert.equal(brownFiles().length, 500);
  assert.equal(c.stats.sentences, 57340);
  assert.equal(c.words.chars.length, 75); // as in both reference models (X and Z fall outside the coverage)
  assert.equal(heldOut.length, 5642);
});

test('BPE, 8000 pieces on all of Brown: the same vocabulary, in the same order, as SentencePiece', async () => {
  const ours = (await trainTokenizer(await corpus, request)).model;
  const ref = fixture('bpe');
  assert.equal(ours.pieces.length, ref.pieces.length);
  let differing = 0;
  ours.pieces.forEach((p, i) => {
    const r = ref.pieces[i]!;
    if (p.piece !== r.piece || Math.fround(p.score) !== r.score || p.type !== r.type) differing++;
  });
  assert.equal(differing, 0);
  assert.equal(tokensPerWord(new SpmEncoder(ours), heldOut).tokens, tokensPerWord(new SpmEncoder(ref), heldOut).tokens);
});

test('unigram, 8000 pieces on all of Brown: tokens per word on the held-out files within 0.08 % of SentencePiece', async () => {
  const ours = (await trainTokenizer(await corpus, { ...request, modelType: 'unigram' })).model;
  const ref = fixture('unigram');
  const a = tokensPerWord(new SpmEncoder(ours), heldOut);
  const b = tokensPerWord(new SpmEncoder(ref), heldOut);
  assert.equal(b.words, 103460);
  assert.equal(b.tokens, 145146); // the reference: 1.4029 tokens per word
  const rel = a.ratio / b.ratio - 1;
  assert.ok(Math.abs(rel) < 8e-4, `ours ${a.ratio.toFixed(4)} vs SentencePiece ${b.ratio.toFixed(4)} tokens/word (${(100 * rel).toFixed(2)} %)`);
  // Most of the vocabulary is the same.
  const refPieces = new Set(ref.pieces.map((p) => p.piece));
  const shared = ours.pieces.filter((p) => refPieces.has(p.piece)).length;
  assert.ok(shared > 7900, `${shared} pieces shared with SentencePiece's`); // measured 7,946; 46 below
});
