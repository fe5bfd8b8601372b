// Multi-label sequence classification (problem_type "multi_label_classification", BCE-with-logits over
// 0/1 targets): labels as lists of names or 0/1 vectors, label maps from the data, micro / macro F1 and
// exact match at sigmoid 0.5, and a checkpoint whose config makes the pipeline apply a sigmoid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { loadModel } from '../src/models/auto.ts';
import { textClassificationPipeline } from '../src/pipelines/text-classification.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { collate, encoderFromTokenizer, featurize, parseCsv, parseJsonl, toExamples, type SeqClsExample } from '../src/train/data.ts';
import { inferProblemType, sequenceLabelMap } from '../src/train/labels.ts';
import { multiLabelScores } from '../src/train/metrics.ts';
import { Rng } from '../src/util/random.ts';
import { train } from '../src/train/trainer.ts';

const tokenizerDir = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');
// The metric checks measured exactly 0 (plain JavaScript arithmetic): by default a floor of 4 float64 ulp at 1.
const close = (a: number, b: number, tol = 4 * Number.EPSILON) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const none = { id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, label2id: { LABEL_0: 0, LABEL_1: 1 } };

test('multi-label scores as scikit-learn: micro and macro F1, exact match', () => {
  const gold = [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]];
  const pred = [[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]];
  const s = multiLabelScores(pred, gold);
  // Cells: tp 3, fp 1, fn 2 -> micro 6 / 9. Labels: 0 (tp 2) 1; 1 (tp 1, fn 1) 2/3; 2 (fp 1, fn 1) 0.
  close(s.microF1, 6 / 9);
  close(s.macroF1, (1 + 2 / 3 + 0) / 3);
  close(s.exactMatch, 2 / 4);
  // A label never gold nor predicted counts 0 in the macro mean (zero_division's default).
  close(multiLabelScores([[1, 0]], [[1, 0]]).macroF1, 0.5);
});

test('multi-label data: names or 0/1 vectors, in JSONL and CSV; label maps; located errors', async () => {
  const seq = (rows: ReturnType<typeof parseJsonl>, file: string) => toExamples('sequence-classification', rows, file) as SeqClsExample[];
  const named = seq(parseJsonl('{"text":"a","labels":["sport","food"]}\n{"text":"b","labels":[]}\n{"text":"c","labels":["music"]}\n', 'n.jsonl'), 'n.jsonl');
  assert.deepEqual(named.map((e) => e.label), [['sport', 'food'], [], ['music']]);
  assert.deepEqual(inferProblemType(named, 2), { problemType: 'multi_label_classification', why: 'the labels are lists' });
  const map = sequenceLabelMap('multi_label_classification', named, none, 'n.jsonl');
  assert.deepEqual(map.id2label, { 0: 'food', 1: 'music', 2: 'sport' });

  // CSV: a JSON list in the field, or names separated by spaces or commas.
  const csv = seq(parseCsv('text,labels\na,"[""sport"", ""food""]"\nb,music sport\nc,"food,music"\n', 'n.csv'), 'n.csv');
  assert.deepEqual(csv.map((e) => e.label), [['sport', 'food'], 'music sport', 'food,music']);
  const enc = encoderFromTokenizer(await AutoTokenizer.fromPretrained(tokenizerDir));
  const opts = { maxLength: 16, labels: map, problemType: 'multi_label_classification' as const };
  assert.deepEqual(featurize('sequence-classification', csv, enc, { ...opts, file: 'n.csv' }).map((f) => f.multiHot), [[1, 0, 1], [0, 1, 1], [1, 1, 0]]);

  // 0/1 vectors (booleans too): LABEL_i names unless the model already has as many labels.
  const vec = seq(parseJsonl('{"text":"a","label":[1,0,1]}\n{"text":"b","label":[false,true,false]}\n', 'v.jsonl'), 'v.jsonl');
  const vmap = sequenceLabelMap('multi_label_classification', vec, none, 'v.jsonl');
  assert.deepEqual(vmap.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  const three = { id2label: { 0: 'x', 1: 'y', 2: 'z' }, label2id: { x: 0, y: 1, z: 2 } };
  assert.deepEqual(sequenceLabelMap('multi_label_classification', vec, three, 'v.jsonl'), three);
  const feats = featurize('sequence-classification', vec, enc, { ...opts, labels: vmap, file: 'v.jsonl' });
  const batch = collate('sequence-classification', feats, enc.padId, false);
  assert.deepEqual(batch.labels!.dims, [2, 3]);
  assert.deepEqual(Array.from(batch.labels!.data as Float64Array), [1, 0, 1, 0, 1, 0]);

  const fails = (text: string, re: RegExp, problem = 'multi_label_classification' as const) => assert.throws(() => {
    const ex = seq(parseJsonl(text, 'e.jsonl'), 'e.jsonl');
    const m = sequenceLabelMap(problem, ex, none, 'e.jsonl');
    featurize('sequence-classification', ex, enc, { maxLength: 16, labels: m, problemType: problem, file: 'e.jsonl' });
  }, re);
  fails('{"text":"a","label":[1,0]}\n{"text":"b","label":[1,0,0]}\n', /^Error: e\.jsonl:2: a 0\/1 vector of 3 labels, but line 1 has 2$/);
  fails('{"text":"a","label":[1,0]}\n{"text":"b","label":["x"]}\n', /^Error: e\.jsonl:2: label names, but line 1 has a 0\/1 vector; use one form for the whole file$/);
  fails('{"text":"a","label":[1,2]}\n', /^Error: e\.jsonl:1: column 'label' holds a list that is neither label names \(text\) nor a 0\/1 vector/);
  assert.throws(() => sequenceLabelMap('single_label_classification', named, none, 'n.jsonl'),
    /^Error: n\.jsonl:1: the label is a list; for several labels per text use --problem-type multi_label_classification$/);
});

const TOPICS: Record<string, string[]> = {
  sport: ['football', 'game'], food: ['bread', 'food'], music: ['guitar', 'song'], weather: ['rain', 'snow'],
};
const FILLER = ['the', 'a', 'we', 'talked', 'about', 'and', 'then', 'later', 'some', 'with', 'friends', 'today'];

/** Sentences that mention each topic with probability 0.35, labelled with the topics they mention. */
function topical(n: number, seed: number): { text: string; labels: string[] }[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const words = Array.from({ length: 3 + rng.int(4) }, () => FILLER[rng.int(FILLER.length)]!);
    const labels: string[] = [];
    for (const [topic, cues] of Object.entries(TOPICS)) {
      if (rng.uniform() >= 0.35) continue;
      labels.push(topic);
      words.splice(rng.int(words.length + 1), 0, cues[rng.int(cues.length)]!);
    }
    return { text: words.join(' '), labels };
  });
}

function tinyModel(dir: string): string {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
    intermediate_size: 128, max_position_embeddings: 64, relative_attention: true, position_buckets: 16,
    pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true, position_biased_input: false,
    hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
  }));
  initCheckpoint({ config: join(dir, 'config.json'), out: join(dir, 'init'), seed: 1, head: 'sequence-classification', tokenizer: tokenizerDir });
  return join(dir, 'init');
}

test('multi-label: F1 well above chance; config says multi_label_classification; the pipeline applies a sigmoid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-multilabel-'));
  try {
    const jsonl = (name: string, rows: unknown[]) => {
      writeFileSync(join(dir, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return join(dir, name);
    };
    const evalRows = topical(40, 2);
    const r = await train({
      model: tinyModel(dir), task: 'sequence-classification', train: jsonl('train.jsonl', topical(240, 1)),
      eval: jsonl('eval.jsonl', evalRows), out: join(dir, 'out'),
      maxLength: 24, batchSize: 16, epochs: 10, lr: 2e-3, seed: 1, threads: 2, progress: false, log: () => {},
    });
    assert.equal(r.problemType, 'multi_label_classification');
    assert.equal(r.metricName, 'micro_f1');
    assert.deepEqual(r.labels.id2label, { 0: 'food', 1: 'music', 2: 'sport', 3: 'weather' });

    // Chance: predicting every label for every text (the best constant guess for micro F1), and the
    // most common label set for exact match.
    const names = ['food', 'music', 'sport', 'weather'];
    const gold = evalRows.map((e) => names.map((n) => (e.labels.includes(n) ? 1 : 0)));
    const allOn = multiLabelScores(gold.map(() => [1, 1, 1, 1]), gold);
    const sets = new Map<string, number>();
    for (const g of gold) sets.set(g.join(), (sets.get(g.join()) ?? 0) + 1);
    const commonest = Math.max(...sets.values()) / gold.length;
    const m = r.bestEval!.metrics;
    process.stderr.write(`multi-label: micro F1 ${m.micro_f1!.toFixed(3)} (all-on ${allOn.microF1.toFixed(3)}), macro F1 ${m.macro_f1!.toFixed(3)}, ` +
      `exact match ${m.exact_match!.toFixed(3)} (commonest set ${commonest.toFixed(3)})\n`);
    // Measured with training seeds 1, 2 and 3 (seed 1 alike at 1 and 2 threads): micro F1 0.991, 0.898, 0.904; macro F1 0.991, 0.821, 0.921; exact match 0.975,
    // 0.750, 0.725. Bounds about 0.05 below the worst seed (only seed 1 met the earlier 0.9 / 0.9 / 0.75).
    assert.ok(m.micro_f1! > 0.85 && m.micro_f1! > allOn.microF1 + 0.3, `micro F1 ${m.micro_f1}`);
    assert.ok(m.macro_f1! > 0.78 && m.macro_f1! > allOn.macroF1 + 0.3, `macro F1 ${m.macro_f1}`);
    assert.ok(m.exact_match! > 0.68 && m.exact_match! > commonest + 0.4, `exact match ${m.exact_match}`);

    const cfg = JSON.parse(readFileSync(join(r.bestDir!, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.problem_type, 'multi_label_classification');
    assert.deepEqual(cfg.label2id, { food: 0, music: 1, sport: 2, weather: 3 });

    // The pipeline scores each label by its own sigmoid (they need not sum to 1), labels from id2label.
    const model = await loadModel(r.bestDir!, 'auto', { threads: 1 });
    const pipe = await textClassificationPipeline(r.bestDir!, { threads: 1 });
    try {
      const text = 'we talked about bread and football today';
      const tok = await AutoTokenizer.fromPretrained(r.bestDir!);
      const logits = (await model({ inputIds: [tok(text).inputIds[0]!] })).logits!.data;
      const scores = await pipe(text, { topK: null });
      // Measured 0: a floor of 4 float32 ulp.
      for (const { label, score } of scores) close(score, 1 / (1 + Math.exp(-logits[r.labels.label2id[label]!]!)), 4 * 2 ** -23);
      assert.deepEqual(scores.filter((s) => s.score > 0.5).map((s) => s.label).sort(), ['food', 'sport']);
    } finally {
      await model.dispose();
      await pipe.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('multi-label from a CSV of 0/1 vectors with --problem-type: LABEL_i names, a resumable checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-multilabel-csv-'));
  try {
    const rows = topical(24, 3).map((e) => `"${e.text}","[${Object.keys(TOPICS).map((t) => (e.labels.includes(t) ? 1 : 0)).join(',')}]"`);
    writeFileSync(join(dir, 'train.csv'), `text,target\n${rows.join('\n')}\n`);
    const r = await train({
      model: tinyModel(dir), problemType: 'multi_label_classification', train: join(dir, 'train.csv'), out: join(dir, 'out'),
      columns: { label: 'target' }, maxLength: 24, batchSize: 8, maxSteps: 2, lr: 1e-3, seed: 1, threads: 2, progress: false, log: () => {},
    });
    assert.equal(r.globalStep, 2);
    const cfg = JSON.parse(readFileSync(join(r.lastDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg.problem_type, 'multi_label_classification');
    assert.deepEqual(cfg.id2label, { 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2', 3: 'LABEL_3' });
    const state = JSON.parse(readFileSync(join(r.lastDir, 'trainer_state.json'), 'utf8')) as { args: Record<string, unknown> };
    assert.equal(state.args.problemType, 'multi_label_classification');
    await assert.rejects(train({
      model: join(dir, 'init'), problemType: 'regression', train: join(dir, 'train.csv'), out: join(dir, 'out'), resume: r.lastDir,
      columns: { label: 'target' }, maxLength: 24, batchSize: 8, maxSteps: 2, seed: 1, threads: 2, progress: false, log: () => {},
    }), /was trained with problemType "multi_label_classification", this run asks for "regression"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
