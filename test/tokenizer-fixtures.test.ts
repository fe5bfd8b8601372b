// Every fixture tokenizer, loaded from its model files alone (spm.model, or vocab.json + merges.txt) and
// from tokenizer.json alone, against what transformers 5.17 returned (test/fixtures/tokenizers/*/expected.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoTokenizer, type PreTrainedTokenizer, type TokenizerSource } from '../src/tokenizers/index.ts';

const ROOT = 'test/fixtures/tokenizers';

interface Case { text: string; input_ids: number[]; tokens: string[]; decoded: string; offsets?: [number, number][] }
interface Pair { a: string; b: string; input_ids: number[]; token_type_ids: number[]; attention_mask: number[] }
interface Expected {
  vocab_size: number;
  mask_token_id?: number;
  cases: Case[];
  pairs: Pair[];
  truncation?: { text: string; max_length: number; input_ids: number[] }[];
  padded_batch?: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
}

const SETUPS: [string, TokenizerSource[]][] = [
  ['deberta-v3-unigram', ['spm.model', 'tokenizer.json']],
  ['deberta-v3-bpe', ['spm.model', 'tokenizer.json']],
  ['deberta-v1-gpt2bpe', ['vocab.json', 'tokenizer.json']],
];

function expected(name: string): Expected {
  return JSON.parse(readFileSync(join(ROOT, name, 'expected.json'), 'utf8')) as Expected;
}

for (const [name, sources] of SETUPS) {
  const exp = expected(name);
  for (const use of sources) {
    test(`${name} from ${use}: all 430 cases give transformers' ids, tokens, offsets and decoded text`, async () => {
      const tok = await AutoTokenizer.fromPretrained(join(ROOT, name), { use });
      assert.equal(exp.cases.length, 430);
      const failures: string[] = [];
      for (const c of exp.cases) {
        const r = tok(c.text, { returnOffsets: true, returnTokens: true });
        const ids = r.inputIds[0]!;
        const wrong: string[] = [];
        if (JSON.stringify(ids) !== JSON.stringify(c.input_ids)) wrong.push('input_ids');
        if (JSON.stringify(r.tokens![0]) !== JSON.stringify(c.tokens)) wrong.push('tokens');
        if (JSON.stringify(tok.convertIdsToTokens(ids)) !== JSON.stringify(c.tokens)) wrong.push('convertIdsToTokens');
        if (c.offsets && JSON.stringify(r.offsets![0]) !== JSON.stringify(c.offsets)) wrong.push('offsets');
        if (tok.decode(ids, { skipSpecialTokens: true }) !== c.decoded) wrong.push('decoded');
        if (JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.input_ids)) wrong.push('encode()');
        if (wrong.length) failures.push(`${JSON.stringify(c.text).slice(0, 60)}: ${wrong.join(', ')}`);
      }
      assert.deepEqual(failures, []);
      if (name !== 'deberta-v1-gpt2bpe') assert.equal(exp.cases.filter((c) => c.offsets).length, 430);
    });

    test(`${name} from ${use}: pairs give transformers' ids, token_type_ids and attention_mask`, async () => {
      const tok = await AutoTokenizer.fromPretrained(join(ROOT, name), { use });
      assert.equal(exp.pairs.length, 4);
      for (const p of exp.pairs) {
        const r = tok(p.a, p.b);
        assert.deepEqual(r.inputIds, [p.input_ids], `${p.a} / ${p.b}`);
        assert.deepEqual(r.tokenTypeIds, [p.token_type_ids], `${p.a} / ${p.b}`);
        assert.deepEqual(r.attentionMask, [p.attention_mask], `${p.a} / ${p.b}`);
        // The other pair spellings give the same rows.
        assert.deepEqual(tok([[p.a, p.b]]).inputIds, [p.input_ids]);
        assert.deepEqual(tok([p.a], [p.b]).tokenTypeIds, [p.token_type_ids]);
        assert.deepEqual(tok.encode(p.a, p.b), p.input_ids);
      }
    });

    test(`${name} from ${use}: vocabulary size and special ids`, async () => {
      const tok = await AutoTokenizer.fromPretrained(join(ROOT, name), { use });
      assert.equal(tok.vocabSize, name === 'deberta-v1-gpt2bpe' ? 4000 : 8001);
      assert.equal(tok.vocabSize, exp.vocab_size);
      assert.equal(tok.maskTokenId, exp.mask_token_id ?? 4);
      assert.deepEqual([tok.padTokenId, tok.clsTokenId, tok.sepTokenId, tok.unkTokenId], [0, 1, 2, 3]);
      assert.deepEqual([tok.bosTokenId, tok.eosTokenId], [1, 2]);
      assert.deepEqual(tok.allSpecialIds.sort((a, b) => a - b), [0, 1, 2, 3, exp.mask_token_id ?? 4]);
    });

    if (exp.truncation && exp.padded_batch) {
      const truncation = exp.truncation;
      const padded = exp.padded_batch;
      test(`${name} from ${use}: truncation to max_length 12 and the padded batch`, async () => {
        const tok: PreTrainedTokenizer = await AutoTokenizer.fromPretrained(join(ROOT, name), { use });
        assert.equal(truncation.length, 20);
        for (const t of truncation) {
          assert.deepEqual(tok(t.text, { truncation: true, maxLength: t.max_length }).inputIds, [t.input_ids], t.text);
        }
        // The padded batch is the first six truncation texts, padded to the longest (202 tokens).
        const r = tok(truncation.slice(0, 6).map((t) => t.text), { padding: true });
        assert.equal(r.inputIds[0]!.length, 202);
        assert.deepEqual(r.inputIds, padded.input_ids);
        assert.deepEqual(r.tokenTypeIds, padded.token_type_ids);
        assert.deepEqual(r.attentionMask, padded.attention_mask);
      });
    }
  }
}
