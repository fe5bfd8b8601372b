import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  debertaConfigToJson, parseDebertaConfig, readDebertaConfig, writeDebertaConfig, type DebertaConfig,
} from '../src/models/deberta/config-file.ts';

const MODELS = 'test/fixtures/models';
const FIXTURE_DIRS = [
  ...readdirSync(MODELS).map((d) => join(MODELS, d)),
  ...readdirSync('test/fixtures/emd').map((d) => join('test/fixtures/emd', d)),
];

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'io-config-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// biome-ignore lint/suspicious/noExplicitAny: config.json as parsed, its fields compared one by one
function rawOf(dir: string): Record<string, any> {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
}

test('every fixture config parses, and each field it sets comes through unchanged', () => {
  assert.equal(FIXTURE_DIRS.length, 31);
  for (const dir of FIXTURE_DIRS) {
    const raw = rawOf(dir);
    const c = readDebertaConfig(dir);
    assert.deepEqual(c.raw, raw, dir);
    for (const [key, value] of Object.entries(raw)) {
      if (!(key in c) || key === 'id2label' || key === 'pos_att_type') continue; // normalised, checked below
      assert.deepEqual((c as unknown as Record<string, unknown>)[key], value, `${dir}: ${key}`);
    }
    assert.deepEqual(c.pos_att_type, raw.pos_att_type ?? [], dir);
    assert.equal(c.num_labels, raw.id2label ? Object.keys(raw.id2label).length : 2, dir);
    for (const [id, name] of Object.entries(raw.id2label ?? {})) assert.equal(c.id2label[Number(id)], name);
  }
});

test('fixture configs: the values each model variant relies on', () => {
  const v3 = readDebertaConfig(`${MODELS}/v3-buckets-seqcls`);
  assert.equal(v3.model_type, 'deberta-v2');
  assert.equal(v3.position_buckets, 16);
  assert.equal(v3.share_att_key, true);
  assert.equal(v3.norm_rel_ebd, 'layer_norm');
  assert.deepEqual(v3.pos_att_type, ['p2c', 'c2p']);
  assert.equal(v3.position_biased_input, false);
  assert.equal(v3.layer_norm_eps, 1e-7);
  assert.deepEqual(v3.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  assert.deepEqual(v3.label2id, { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 });
  assert.equal(v3.num_labels, 3);
  assert.equal(v3.problem_type, null);
  assert.deepEqual(v3.architectures, ['DebertaV2ForSequenceClassification']);
  // Absent from the file, so transformers' defaults apply:
  assert.equal(v3.conv_kernel_size, 0);
  assert.equal(v3.conv_act, 'tanh');
  assert.equal(v3.conv_groups, 1);
  assert.equal(v3.embedding_size, 32);
  assert.equal(v3.attention_head_size, undefined);

  const conv = readDebertaConfig(`${MODELS}/v2-conv-seqcls`);
  assert.equal(conv.conv_kernel_size, 3);
  assert.equal(conv.conv_act, 'gelu');
  assert.equal(conv.attention_head_size, 16);
  assert.equal(conv.num_attention_heads, 2);

  const clamp = readDebertaConfig(`${MODELS}/v1-clamp-abs-base`);
  assert.equal(clamp.model_type, 'deberta');
  assert.equal(clamp.max_relative_positions, 8);
  assert.deepEqual(clamp.pos_att_type, ['p2c']);
  assert.equal(clamp.position_biased_input, true);
  assert.equal(clamp.type_vocab_size, 2);
  assert.equal(clamp.position_buckets, -1);
  assert.equal(clamp.share_att_key, false);

  const absolute = readDebertaConfig(`${MODELS}/v2-absolute-base`);
  assert.equal(absolute.relative_attention, false);
  assert.deepEqual(absolute.pos_att_type, []); // null in the file

  assert.equal(readDebertaConfig(`${MODELS}/v3-embedsize-mlm`).embedding_size, 16);
  assert.equal(readDebertaConfig(`${MODELS}/v3-buckets-seqcls-regression`).num_labels, 1);
  const multi = readDebertaConfig(`${MODELS}/v3-buckets-seqcls-multilabel`);
  assert.equal(multi.problem_type, 'multi_label_classification');
  assert.equal(multi.num_labels, 4);
  assert.equal(readDebertaConfig(`${MODELS}/v3-buckets-tokcls`).num_labels, 5);
  assert.equal(readDebertaConfig(`${MODELS}/v3-buckets-mlm-lmhead`).legacy, false);

  // The EMD configs are hand-written and minimal: pooler, legacy and tying fields come from defaults.
  const emd = readDebertaConfig('test/fixtures/emd/emd-v1');
  assert.equal(emd.model_type, 'deberta');
  assert.equal(emd.num_hidden_layers, 3);
  assert.equal(emd.pooler_hidden_size, 32);
  assert.equal(emd.pooler_dropout, 0);
  assert.equal(emd.pooler_hidden_act, 'gelu');
  assert.equal(emd.legacy, true);
  assert.equal(emd.tie_word_embeddings, true);
  assert.equal(emd.num_labels, 2);
  assert.deepEqual(emd.id2label, { 0: 'LABEL_0', 1: 'LABEL_1' });
  assert.deepEqual(emd.pos_att_type, ['c2p', 'p2c']);
  const emd3 = readDebertaConfig('test/fixtures/emd/emd-v3');
  assert.equal(emd3.position_buckets, 16);
  assert.equal(emd3.norm_rel_ebd, 'layer_norm');
});

// Checked against transformers' DebertaConfig / DebertaV2Config constructors and the getattr()
// defaults in modeling_deberta(_v2).py.
const SHARED_DEFAULTS = {
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
  type_vocab_size: 0, initializer_range: 0.02, layer_norm_eps: 1e-7, relative_attention: false,
  max_relative_positions: -1, pad_token_id: 0, bos_token_id: null, eos_token_id: null, position_biased_input: true,
  pos_att_type: [], pooler_dropout: 0, pooler_hidden_act: 'gelu', legacy: true, position_buckets: -1,
  share_att_key: false, norm_rel_ebd: 'none', conv_kernel_size: 0, conv_act: 'tanh', conv_groups: 1,
  architectures: [], id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, label2id: { LABEL_0: 0, LABEL_1: 1 }, num_labels: 2,
  problem_type: null, tie_word_embeddings: true,
};

test('defaults for an otherwise empty deberta / deberta-v2 config', () => {
  const v1 = parseDebertaConfig({ model_type: 'deberta' }, 'v1.json');
  assert.deepEqual(v1, {
    model_type: 'deberta', vocab_size: 50265, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12,
    intermediate_size: 3072, pooler_hidden_size: 768, embedding_size: 768, ...SHARED_DEFAULTS,
    raw: { model_type: 'deberta' },
  } satisfies DebertaConfig);
  const v2 = parseDebertaConfig({ model_type: 'deberta-v2' }, 'v2.json');
  assert.deepEqual(v2, {
    model_type: 'deberta-v2', vocab_size: 128100, hidden_size: 1536, num_hidden_layers: 24, num_attention_heads: 24,
    intermediate_size: 6144, pooler_hidden_size: 1536, embedding_size: 1536, ...SHARED_DEFAULTS,
    raw: { model_type: 'deberta-v2' },
  } satisfies DebertaConfig);
  // pooler_hidden_size and embedding_size follow hidden_size when absent.
  const small = parseDebertaConfig({ model_type: 'deberta-v2', hidden_size: 64, num_attention_heads: 4 }, 's.json');
  assert.equal(small.pooler_hidden_size, 64);
  assert.equal(small.embedding_size, 64);
});

test('pos_att_type as a legacy string, labels from num_labels, label2id derived', () => {
  const c = parseDebertaConfig({ model_type: 'deberta', pos_att_type: 'P2C| c2p', num_labels: 3 }, 'c.json');
  assert.deepEqual(c.pos_att_type, ['p2c', 'c2p']);
  assert.equal(parseDebertaConfig({ model_type: 'deberta-v2', norm_rel_ebd: 'Layer_Norm ' }, 'n.json').norm_rel_ebd, 'layer_norm');
  assert.equal(c.num_labels, 3);
  assert.deepEqual(c.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  assert.deepEqual(c.label2id, { LABEL_0: 0, LABEL_1: 1, LABEL_2: 2 });
  // id2label decides when both are given, as in transformers.
  const d = parseDebertaConfig({ model_type: 'deberta', id2label: { 0: 'neg', 1: 'pos' }, num_labels: 5 }, 'd.json');
  assert.equal(d.num_labels, 2);
  assert.deepEqual(d.label2id, { neg: 0, pos: 1 });
});

test('unknown model_type and wrongly typed fields are errors naming the file and the field', () => {
  const bad = (json: unknown, re: RegExp) => assert.throws(() => parseDebertaConfig(json, 'models/x/config.json'), re);
  bad({ model_type: 'bert' }, /^Error: models\/x\/config\.json: unsupported model_type "bert" \(expected "deberta" or "deberta-v2"\)$/);
  bad({ hidden_size: 8 }, /^Error: models\/x\/config\.json: field 'model_type' is missing/);
  bad([], /models\/x\/config\.json: a config must be a JSON object/);
  bad({ model_type: 'deberta-v2', hidden_size: 'abc' }, /^Error: models\/x\/config\.json: field 'hidden_size' must be an integer, got "abc"$/);
  bad({ model_type: 'deberta-v2', hidden_size: 32.5 }, /field 'hidden_size' must be an integer, got 32\.5/);
  bad({ model_type: 'deberta-v2', num_attention_heads: 0 }, /field 'num_attention_heads' must be an integer >= 1, got 0/);
  bad({ model_type: 'deberta-v2', relative_attention: 'yes' }, /models\/x\/config\.json: field 'relative_attention' must be true or false, got "yes"/);
  bad({ model_type: 'deberta-v2', layer_norm_eps: null }, /field 'layer_norm_eps' must be a number, got null/);
  bad({ model_type: 'deberta-v2', hidden_dropout_prob: 1.5 }, /field 'hidden_dropout_prob' must be a probability between 0 and 1/);
  bad({ model_type: 'deberta-v2', hidden_act: 3 }, /field 'hidden_act' must be a string, got 3/);
  bad({ model_type: 'deberta-v2', pos_att_type: ['c2p', 1] }, /field 'pos_att_type' must be a list of strings/);
  bad({ model_type: 'deberta-v2', architectures: 'X' }, /field 'architectures' must be a list of strings/);
  bad({ model_type: 'deberta-v2', id2label: { a: 'x' } }, /field 'id2label' has key "a", which is not a label index/);
  bad({ model_type: 'deberta-v2', id2label: { 0: 5 } }, /field 'id2label\.0' must be a string, got 5/);
  bad({ model_type: 'deberta-v2', label2id: { x: 'a' } }, /field 'label2id\.x' must be an integer/);
  bad({ model_type: 'deberta-v2', num_labels: '3' }, /field 'num_labels' must be an integer/);
  bad({ model_type: 'deberta-v2', problem_type: 'ranking' }, /field 'problem_type' must be null or one of "regression"/);
  bad({ model_type: 'deberta-v2', hidden_size: 30, num_attention_heads: 4 }, /field 'hidden_size' \(30\) must be a multiple of 'num_attention_heads' \(4\)/);

  withDir((dir) => {
    writeFileSync(join(dir, 'config.json'), '{"model_type": "deberta",');
    assert.throws(() => readDebertaConfig(dir), new RegExp(`^Error: ${join(dir, 'config.json').replace(/[.\\/]/g, '\\$&')}: not valid JSON`));
    rmSync(join(dir, 'config.json'));
    assert.throws(() => readDebertaConfig(dir), /config\.json: cannot read the config/);
  });
});

test('writing back keeps every field of the original file', () => {
  for (const src of FIXTURE_DIRS) {
    withDir((dir) => {
      writeDebertaConfig(dir, readDebertaConfig(src));
      assert.deepEqual(rawOf(dir), rawOf(src), src);
      assert.deepEqual(readdirSync(dir), ['config.json']); // the temporary file was renamed away
    });
  }
});

test('writing back includes changes and fields that left their default', () => {
  withDir((dir) => {
    const c = readDebertaConfig(`${MODELS}/v3-buckets-seqcls`);
    c.hidden_dropout_prob = 0.1;
    c.conv_kernel_size = 3; // absent from the file, now set
    c.id2label = { 0: 'neg', 1: 'neutral', 2: 'pos' };
    c.label2id = { neg: 0, neutral: 1, pos: 2 };
    c.raw.pos_att_type = 'P2C|c2p'; // unchanged fields keep the file's own spelling
    writeDebertaConfig(dir, c);
    const out = rawOf(dir);
    assert.equal(out.hidden_dropout_prob, 0.1);
    assert.equal(out.conv_kernel_size, 3);
    assert.equal(out.transformers_version, '5.17.0'); // untyped fields survive
    assert.equal(out.dtype, 'float32');
    assert.deepEqual(out.id2label, { 0: 'neg', 1: 'neutral', 2: 'pos' });
    assert.equal(out.pos_att_type, 'P2C|c2p');
    assert.equal('conv_act' in out, false); // still at its default: not written
    assert.equal('num_labels' in out, false);
    const again = readDebertaConfig(dir);
    assert.equal(again.conv_kernel_size, 3);
    assert.equal(again.id2label[2], 'pos');

    c.pos_att_type = ['c2p']; // changed: written in list form
    assert.deepEqual(debertaConfigToJson(c).pos_att_type, ['c2p']);

    c.num_labels = 5;
    assert.throws(() => debertaConfigToJson(c, 'out/config.json'),
      /^Error: out\/config\.json: field 'num_labels' \(5\) disagrees with 'id2label' \(3 labels\)/);
  });
});
