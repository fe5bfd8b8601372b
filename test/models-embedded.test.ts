// The committed embedded models (models/, built by `npm run train:models`, docs/models.md): F16 weights
// within the size budget, their held-out metrics re-measured here (spam, POS, masked tokens), a known spam and
// POS example, and `npm start`'s main.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensors } from '../src/io/safetensors.ts';
import { pipeline } from '../src/pipelines/index.ts';
import { MODELS_DIR } from '../src/platform/node.ts';
import type { ClassificationResult } from '../src/pipelines/text-classification.ts';
import type { EntityGroup, TokenEntity } from '../src/pipelines/token-classification.ts';
import { brownPosSplit, UNIVERSAL_TAGS } from '../src/datasets/brown-pos.ts';
import { loadModel } from '../src/models/auto.ts';
import { maskedBatch, maskVocabulary, packCorpus } from '../src/pretrain/data.ts';
import { MLM_MASKING } from '../src/pretrain/masking.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { brownLineToText, brownSplit } from '../src/tokenizers/train/brown.ts';
import { spamSplit } from '../src/datasets/spam.ts';
import { main } from '../scripts/start.ts';
import { SETTINGS, spamHeldOut } from '../scripts/train-models.ts';

const NAMES = ['deberta-v3-brown-small', 'deberta-v3-brown-small-spam', 'deberta-v3-brown-small-pos'];
const metrics = JSON.parse(readFileSync(join(MODELS_DIR, 'metrics.json'), 'utf8')) as Record<string, number>;

test('the three models are committed as F16 safetensors with config and tokenizer, 30 MB in all at most', () => {
  let total = 0;
  for (const name of NAMES) {
    const dir = join(MODELS_DIR, name);
    for (const f of ['config.json', 'model.safetensors', 'spm.model', 'tokenizer.json', 'tokenizer_config.json']) {
      assert.ok(existsSync(join(dir, f)), `${name}/${f}`);
    }
    assert.ok(!existsSync(join(dir, 'optimizer.safetensors')), `${name}: no optimizer state`);
    const st = readSafetensors(join(dir, 'model.safetensors'));
    for (const [k, t] of st.tensors) assert.equal(t.dtype, 'float16', `${name}: ${k}`);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.relative_attention, true);
    assert.equal(cfg.position_biased_input, false);
    assert.equal(cfg.share_att_key, true);
    for (const f of readdirSync(dir)) total += statSync(join(dir, f)).size;
  }
  for (const f of readdirSync(MODELS_DIR)) if (statSync(join(MODELS_DIR, f)).isFile()) total += statSync(join(MODELS_DIR, f)).size;
  assert.ok(total <= 30e6, `models/ holds ${total} bytes`);
  const base = readSafetensors(join(MODELS_DIR, NAMES[0]!, 'model.safetensors'));
  assert.ok(base.tensors.has('lm_predictions.lm_head.dense.weight') && base.tensors.has('deberta.embeddings.position_embeddings.weight'), 'the masked LM keeps its EMD layout');
});

/** docs/models.md, where the held-out figures are documented. */
const DOCS = readFileSync(join(import.meta.dirname, '..', 'docs', 'models.md'), 'utf8');

/** The percentages docs/models.md gives right after `label` (on the same line), as fractions. */
function documented(label: string, count = 1): number[] {
  const at = DOCS.indexOf(label);
  assert.ok(at >= 0, `docs/models.md no longer says '${label}'`);
  const rest = DOCS.slice(at + label.length).split('\n')[0]!;
  const found = [...rest.matchAll(/([+−-]?\d+\.\d+) (%|points)/g)].slice(0, count).map((m) => Number(m[1]!.replace('−', '-')) / 100);
  assert.equal(found.length, count, `docs/models.md: ${count} figure(s) after '${label}', found '${rest}'`);
  return found;
}

test('docs/models.md states the held-out figures models/metrics.json recorded for the committed run', () => {
  // Each documented figure against the one field of metrics.json it reports, to the docs' two decimals.
  const pairs: [string, number, number][] = [
    ['masked-token accuracy, held-out Brown text', documented('masked-token accuracy, held-out Brown text')[0]!, metrics.masked_token_accuracy!],
    ['spam accuracy, 1,209 held-out emails', documented('spam accuracy, 1,209 held-out emails')[0]!, metrics.spam_accuracy!],
    ['spam accuracy, short views', documented('spam accuracy, short views of the 1,209 held-out emails')[0]!, metrics.spam_short_accuracy!],
    ['plain sentences taken as ham', documented('held-out plain sentences (1,000 from nlp-corpus) taken as ham')[0]!, metrics.spam_plain_ham!],
    ['POS token accuracy, 115,803 held-out words', documented('POS token accuracy, 115,803 held-out words')[0]!, metrics.pos_token_accuracy!],
    ['from random initialisation', documented('same model and run from random initialisation')[0]!, metrics.pos_random_init_token_accuracy!],
    ['margin of pretraining (POS)', documented('**margin of pretraining (POS)**')[0]!, metrics.pos_margin_over_random_init!],
    ['1,014 sentences, pretrained', documented('POS, 1,014 training sentences: pretrained / random initialisation', 2)[0]!, metrics.pos_lowres_token_accuracy!],
    ['1,014 sentences, random initialisation', documented('POS, 1,014 training sentences: pretrained / random initialisation', 2)[1]!, metrics.pos_lowres_random_init_token_accuracy!],
    ['margin of pretraining, 1,014 sentences', documented('**margin of pretraining, 1,014 sentences**')[0]!, metrics.pos_lowres_margin_over_random_init!],
  ];
  for (const [what, doc, recorded] of pairs) assert.ok(Math.abs(doc - recorded) <= 0.00005 + 1e-12, `${what}: docs/models.md ${doc}, models/metrics.json ${recorded}`);
  assert.equal(metrics.quick, false, 'metrics.json is from a full run, not --quick');
});

test('the spam model flags an obvious spam and passes an obvious ham; the POS model tags a plain sentence', async () => {
  const spam = await pipeline('text-classification', join(MODELS_DIR, NAMES[1]!), { threads: 1 });
  try {
    const got = (await spam.run([
      'Subject: Make money fast! Earn $5000 a week from home. Click here now to claim your FREE offer, limited time only!!!',
      'Subject: Re: patch for the build script. The attached patch fixes the failing test on Linux; can you review it?',
    ])) as ClassificationResult[][];
    assert.deepEqual(got.map((r) => r[0]!.label), ['spam', 'ham']);
    // What people type, not only whole emails.
    const short = (await spam.run(['Are we still meeting for lunch tomorrow?', 'Can you send me the report by Friday?', 'WIN a FREE cruise! Reply now to claim your prize'])) as ClassificationResult[][];
    assert.deepEqual(short.map((r) => r[0]!.label), ['ham', 'ham', 'spam']);
  } finally {
    await spam.dispose();
  }
  const pos = await pipeline('token-classification', join(MODELS_DIR, NAMES[2]!), { threads: 1 });
  try {
    assert.deepEqual(Object.values(pos.model.config.id2label).sort(), [...UNIVERSAL_TAGS].sort());
    const words = (await pos('The old man walked slowly to the river.', { aggregationStrategy: 'first', ignoreLabels: [] })) as EntityGroup[];
    assert.deepEqual(words.map((w) => w.entity_group), ['DET', 'ADJ', 'NOUN', 'VERB', 'ADV', 'ADP', 'DET', 'NOUN']);
  } finally {
    await pos.dispose();
  }
});

test("npm start's main: fill-mask, spam and POS tables, then the CLI and server how-to", async () => {
  let printed = '';
  const r = await main((s) => { printed += s; }, { threads: 1 });
  assert.equal(r.fillMask.length, 3);
  for (const f of r.fillMask) assert.equal(f.candidates.length, 5);
  assert.deepEqual(r.spam.map((s) => s.label), ['spam', 'ham', 'spam', 'ham']);
  assert.deepEqual(r.pos[0]!.words.map((w) => w.tag), ['DET', 'ADJ', 'NOUN', 'VERB', 'ADV', 'ADP', 'DET', 'NOUN']);
  for (const s of ['Fill-mask', 'Spam classification', 'Part-of-speech', 'bin/deberta.js serve', 'bin/deberta.js fill-mask']) {
    assert.ok(printed.includes(s), s);
  }
});

// Held-out re-measurements of the committed (F16) models through the inference path, held to the figures
// docs/models.md documents: the full held-out figure of the training run (within the sample's spread) and the
// figure of the very sample measured here (within a few items, for another CPU's rounding).

test('the committed F16 spam model, measured here on all 1,209 held-out emails, their short views and 1,000 plain sentences: the documented figures, within 3 items', async (t) => {
  // The measure train-models' metrics stage takes, on the committed model rather than its float32 run.
  assert.equal((await spamSplit(1200)).heldOut.length, 1209);
  const m = await spamHeldOut(join(MODELS_DIR, NAMES[1]!));
  t.diagnostic(`spam accuracy ${(100 * m.accuracy).toFixed(2)} %, short views ${(100 * m.short_accuracy).toFixed(2)} %, plain sentences as ham ${(100 * m.plain_ham).toFixed(2)} %`);
  const checks: [string, number, number][] = [
    ['spam accuracy, 1,209 held-out emails', m.accuracy, 1209],
    ['spam accuracy, short views of the 1,209 held-out emails', m.short_accuracy, 1209],
    ['held-out plain sentences (1,000 from nlp-corpus) taken as ham', m.plain_ham, SETTINGS.spamPlain.heldOut[1]],
  ];
  for (const [label, measured, n] of checks) {
    const [doc] = documented(label);
    assert.ok(Math.abs(measured - doc!) <= 3 / n, `${label}: ${measured} vs docs/models.md ${doc}`);
  }
  // The documented targets: 97.5 % of whole emails, 95 % of their short views, 95 % of plain sentences as ham.
  assert.ok(m.accuracy >= 0.975 && m.short_accuracy >= 0.95 && m.plain_ham >= 0.95, `${JSON.stringify(m)}: below the documented targets`);
});

test('the committed POS model, measured here on the first 400 held-out Brown sentences: the documented accuracy', async (t) => {
  const sentences = brownPosSplit().heldOut.slice(0, 400);
  const pos = await pipeline('token-classification', join(MODELS_DIR, NAMES[2]!), { threads: 2 });
  let right = 0, words = 0;
  try {
    const got = (await pos(sentences.map((s) => s.tokens.join(' ')), { ignoreLabels: [], batchSize: 16 })) as TokenEntity[][];
    got.forEach((entities, i) => {
      const { tokens, tags } = sentences[i]!;
      // Each word's tag is its first sub-token's, as training labelled them.
      const starts: number[] = [];
      tokens.reduce((at, w) => { starts.push(at); return at + w.length + 1; }, 0);
      const tagged = new Array<string | undefined>(tokens.length);
      for (const e of entities) {
        const w = starts.findLastIndex((st) => st <= e.start!);
        if (w >= 0 && tagged[w] === undefined) tagged[w] = e.entity;
      }
      assert.equal(tagged.filter((x) => x === undefined).length, 0, `sentence ${i}: words without a tag`);
      tagged.forEach((tag, k) => { if (tag === tags[k]) right++; });
      words += tokens.length;
    });
  } finally {
    await pos.dispose();
  }
  const accuracy = right / words;
  t.diagnostic(`POS accuracy ${(100 * accuracy).toFixed(2)} % (${right} of ${words} words)`);
  assert.equal(words, 8784);
  // Measured 97.44 % at 1 and 2 threads. The sample's own documented figure within 0.2 points (18 words), and the
  // full held-out figure (115,803 words) within 1 point: this sample reads 0.41 points above it, and one standard
  // error of 8,784 words is 0.17 points.
  const [sample] = documented('POS token accuracy, first 400 held-out sentences');
  const [full] = documented('POS token accuracy, 115,803 held-out words');
  assert.ok(Math.abs(accuracy - sample!) <= 0.002, `POS accuracy ${accuracy} vs docs/models.md ${sample} for this sample`);
  assert.ok(Math.abs(accuracy - full!) <= 0.01, `POS accuracy ${accuracy} vs docs/models.md ${full} on all held-out words`);
});

test('the committed masked LM, measured here on held-out Brown text masked as in pretraining: the documented accuracy', async (t) => {
  const dir = join(MODELS_DIR, NAMES[0]!);
  const tok = await AutoTokenizer.fromPretrained(dir);
  const vocab = maskVocabulary(tok);
  const work = mkdtempSync(join(tmpdir(), 'deberta-mlm-heldout-'));
  const model = await loadModel(dir, 'masked-lm', { threads: 2 });
  try {
    const text = join(work, 'heldout.txt');
    const lines = brownSplit().heldOut.slice(0, 12).flatMap((f) => readFileSync(f, 'utf8').split('\n').map(brownLineToText).filter((x): x is string => !!x));
    writeFileSync(text, lines.join('\n'));
    const corpus = packCorpus([text], tok, vocab, { maxLength: 128, format: 'text' });
    let right = 0, masked = 0;
    for (let s = 0; s < Math.min(corpus.count, 192); s += 16) {
      const idx = Array.from({ length: Math.min(16, corpus.count - s) }, (_, i) => s + i);
      const batch = maskedBatch(corpus, idx, vocab, MLM_MASKING, tok.padTokenId, 1, -1);
      const { logits } = await model({ inputIds: batch.inputIds, attentionMask: batch.attentionMask });
      const V = logits!.dims[2]!;
      const where = batch.maskedIndex.data as BigInt64Array, labels = batch.maskedLabels.data as BigInt64Array;
      where.forEach((flat, j) => {
        let best = 0;
        const row = logits!.data.subarray(Number(flat) * V, Number(flat) * V + V);
        for (let v = 1; v < V; v++) if (row[v]! > row[best]!) best = v;
        if (best === Number(labels[j])) right++;
        masked++;
      });
    }
    const accuracy = right / masked;
    t.diagnostic(`masked-token accuracy ${(100 * accuracy).toFixed(2)} % (${right} of ${masked} masked tokens)`);
    assert.equal(masked, 3618);
    // Measured 27.47 % at 1 and 2 threads. The sample's own documented figure within 0.5 points (18 tokens), and the
    // full held-out figure (float32, during pretraining, other masks) within 2 points: this sample reads 0.73 points
    // below it, and one standard error of 3,618 tokens is 0.74 points.
    const [sample] = documented('masked-token accuracy, first 12 held-out files');
    const [full] = documented('masked-token accuracy, held-out Brown text');
    assert.ok(Math.abs(accuracy - sample!) <= 0.005, `masked-token accuracy ${accuracy} vs docs/models.md ${sample} for this sample`);
    assert.ok(Math.abs(accuracy - full!) <= 0.02, `masked-token accuracy ${accuracy} vs docs/models.md ${full} on all held-out text`);
  } finally {
    await model.dispose();
    rmSync(work, { recursive: true, force: true });
  }
});
