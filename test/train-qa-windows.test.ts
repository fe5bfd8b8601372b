// Question answering over contexts longer than one sequence: the context is cut into windows that
// overlap by the doc stride, each labelled with the answer's tokens only when the whole answer lies in
// it (else [CLS], index 0), as transformers' run_qa does; evaluation takes each example's best span
// over all its windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { encoderFromTokenizer, featurize, parseJsonl, readRecords, toExamples, type QaExample } from '../src/train/data.ts';
import { answerTokens, qaPredictions } from '../src/train/qa.ts';
import { Rng } from '../src/util/random.ts';
import { train } from '../src/train/trainer.ts';

const tokenizerDir = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');

test('windows: the answer in the second window is labelled there, every other window points at [CLS]', async () => {
  const tok = await AutoTokenizer.fromPretrained(tokenizerDir);
  const enc = encoderFromTokenizer(tok);
  const question = 'What color is the boat?';
  const context = 'We met on friday and went to the park. Later the boat was green. Then we ate and walked home with a friend.';
  const answerStart = context.indexOf('green');
  const rows = parseJsonl(JSON.stringify({ question: `  ${question}`, context, answers: { text: ['green'], answer_start: [answerStart] } }), 'w.jsonl');
  const examples = toExamples('question-answering', rows, 'w.jsonl');
  const maxLength = 24, docStride = 6;
  const features = featurize('question-answering', examples, enc, { maxLength, docStride, file: 'w.jsonl' });

  // Independently: the question and the context tokenised alone, and the window arithmetic. Each window
  // is [CLS] question [SEP] context[k*step, k*step + room) [SEP]; the question loses its leading spaces.
  const alone = (text: string) => tok.encodeBatch([[text, null]], { addSpecialTokens: false, returnOffsets: true, offsetUnits: 'utf16' });
  const q = alone(question).inputIds[0]!.length;
  const ctx = alone(context);
  const ctxIds = ctx.inputIds[0]!, ctxOffsets = ctx.offsets![0]!;
  const room = maxLength - 3 - q, step = room - docStride;
  const windows = Math.ceil((ctxIds.length - room) / step) + 1;
  assert.equal(features.length, windows);
  // The answer's context tokens: the first token whose span ends after the answer's first character,
  // and the last that starts before its end.
  const aEnd = answerStart + 'green'.length;
  const first = ctxOffsets.findIndex(([, e]) => e > answerStart);
  const last = ctxOffsets.length - 1 - [...ctxOffsets].reverse().findIndex(([s]) => s < aEnd);
  features.forEach((f, k) => {
    const lo = k * step, hi = Math.min(lo + room, ctxIds.length);
    assert.deepEqual(f.inputIds, [tok.clsTokenId, ...alone(question).inputIds[0]!, tok.sepTokenId, ...ctxIds.slice(lo, hi), tok.sepTokenId], `window ${k}: tokens`);
    const inside = first >= lo && last < hi;
    const expected = inside ? [2 + q + first - lo, 2 + q + last - lo] : [0, 0];
    assert.deepEqual([f.startPosition, f.endPosition], expected, `window ${k}: answer tokens`);
    assert.equal(f.example, 0);
  });
  // The scenario this test is about: absent from the first window, present in the second only.
  assert.deepEqual(features.map((f) => f.startPosition !== 0), [false, true, ...Array(windows - 2).fill(false)]);
  const w = features[1]!;
  assert.equal(tok.decode((w.inputIds as number[]).slice(w.startPosition!, w.endPosition! + 1)).trim(), 'green');

  // Without a stride: one truncated window, as before.
  assert.equal(featurize('question-answering', examples, enc, { maxLength, file: 'w.jsonl' }).length, 1);
  // A stride the question leaves no room for names the line and the flags.
  assert.throws(() => featurize('question-answering', examples, enc, { maxLength: 16, docStride: 8, file: 'w.jsonl' }),
    /^Error: w\.jsonl:1: the question does not leave room for the context \(--max-length 16, --doc-stride 8\)/);
});

test('answer tokens: an answer cut by the window edge is not in the window; spans aggregate over windows', () => {
  // Context tokens at characters [0,4) [4,8) [8,12); the answer [6, 11).
  const offs: ([number, number] | null)[] = [null, null, [0, 4], [4, 8], [8, 12], null];
  assert.deepEqual(answerTokens(offs, { text: 'abcde', start: 6 }), [3, 4]);
  assert.deepEqual(answerTokens(offs, { text: 'ab', start: 11 }), [0, 0], 'runs past the last context token');
  assert.deepEqual(answerTokens([null, [4, 8], [8, 12], null], { text: 'ab', start: 2 }), [0, 0], 'starts before the first');
  assert.deepEqual(answerTokens(offs, undefined), [0, 0]);

  // One example, two windows of 'aa bb cc dd ee' (tokens with their leading space). The first window's
  // best is 'aa' (3 + 3); the second's 'cc dd ee' (5 + 4), three tokens: the best of all with answers of
  // up to 3 tokens; with up to 2, the second window offers only 'cc dd' (5 + 0), and 'aa' wins.
  const context = 'aa bb cc dd ee';
  const example: QaExample = { task: 'question-answering', line: 1, id: 'x', question: 'q', context, answers: [{ text: 'dd', start: 9 }] };
  const win = (spans: [number, number][]) => [null, ...spans, null] as ([number, number] | null)[];
  const features = [
    { example: 0, inputIds: [], typeIds: [], contextOffsets: win([[0, 2], [2, 5], [5, 8]]) },
    { example: 0, inputIds: [], typeIds: [], contextOffsets: win([[5, 8], [8, 11], [11, 14]]) },
  ];
  const starts = [[0, 3, 0, 0, 0], [0, 5, 0, -9, 0]];
  const ends = [[0, 3, 0, 0, 0], [0, -9, 0, 4, 0]];
  assert.deepEqual(qaPredictions(features, starts, ends, [example], 3), ['cc dd ee']);
  assert.deepEqual(qaPredictions(features, starts, ends, [example], 2), ['aa']);
});

const THINGS = ['car', 'house', 'door', 'bike', 'boat', 'shirt'];
const COLORS = ['red', 'blue', 'green', 'yellow', 'black', 'white'];
const FILLER = [
  'We met on friday and went to the park.', 'Later we saw a film in town.', 'Then we ate and walked home.',
  'The weather was cold all day.', 'My friend lives near the river.', 'They talked about work for hours.',
];

/**
 * Contexts of five or six sentences in random order: filler, the answer's, and a distractor colour
 * (the model has to learn that the answer is the colour after 'is', not any colour).
 */
function longExamples(n: number, seed: number) {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const thing = THINGS[rng.int(THINGS.length)]!, color = COLORS[rng.int(COLORS.length)]!;
    const sentences = rng.shuffle([...FILLER]).slice(0, 3 + rng.int(2));
    sentences.splice(rng.int(sentences.length + 1), 0, `We saw a ${COLORS[rng.int(COLORS.length)]} bird there.`);
    sentences.splice(rng.int(sentences.length + 1), 0, `The ${thing} is ${color}.`);
    const context = sentences.join(' ');
    const start = context.indexOf(`The ${thing} is `) + `The ${thing} is `.length;
    return { id: `q${i}`, question: `What color is the ${thing}?`, context, answers: { text: [color], answer_start: [start] } };
  });
}

test('training on windows: evaluation finds answers in any window of a long context', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-qa-windows-'));
  try {
    const jsonl = (name: string, rows: unknown[]) => {
      writeFileSync(join(dir, name), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      return join(dir, name);
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
      intermediate_size: 64, max_position_embeddings: 64, relative_attention: true, position_buckets: 16,
      pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true, position_biased_input: false,
      hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
    }));
    const model = join(dir, 'init');
    initCheckpoint({ config: join(dir, 'config.json'), out: model, seed: 1, head: 'base', tokenizer: tokenizerDir });
    const trainFile = jsonl('train.jsonl', longExamples(96, 1));
    const evalFile = jsonl('eval.jsonl', longExamples(30, 2));

    // The data needs windows: several per example, and answers beyond the first window.
    const enc = encoderFromTokenizer(await AutoTokenizer.fromPretrained(tokenizerDir));
    const evalEx = toExamples('question-answering', readRecords(evalFile), evalFile);
    const feats = featurize('question-answering', evalEx, enc, { maxLength: 32, docStride: 8, file: evalFile });
    const firstWindow = new Map<number, number>();
    feats.forEach((f, k) => { if (!firstWindow.has(f.example)) firstWindow.set(f.example, k); });
    const later = new Set(feats.filter((f, k) => f.startPosition !== 0 && k !== firstWindow.get(f.example)).map((f) => f.example));
    const onlyLater = [...later].filter((e) => feats[firstWindow.get(e)!]!.startPosition === 0).length;
    assert.ok(feats.length >= 2 * evalEx.length, `${feats.length} windows for ${evalEx.length} examples`);
    assert.ok(onlyLater >= 10, `${onlyLater} eval answers lie outside the first window only`);

    const r = await train({
      model, task: 'question-answering', train: trainFile, eval: evalFile, out: join(dir, 'out'),
      maxLength: 32, docStride: 8, batchSize: 16, epochs: 6, lr: 5e-3, seed: 1, threads: 2, progress: false, log: () => {},
    });
    const m = r.bestEval!.metrics;
    process.stderr.write(`qa windows: exact match ${m.exact_match!.toFixed(3)}, F1 ${m.f1!.toFixed(3)} (${feats.length} windows, 30 examples)\n`);
    // Measured 1.000 with training seeds 1, 2 and 3 (seed 1 alike at 1 and 2 threads); at most one of the 30 examples wrong.
    assert.ok(m.exact_match! >= 0.95, `exact match ${m.exact_match}`);
    assert.ok(m.f1! >= m.exact_match!);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
