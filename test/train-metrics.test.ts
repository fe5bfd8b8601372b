// Metrics against values worked out by hand as scikit-learn, seqeval and the SQuAD script define them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, argmax, chunks, entityScores, macroF1, normalizeAnswer, squadScores, tokenAccuracy } from '../src/train/metrics.ts';

// Every comparison measured exactly 0 (plain JavaScript arithmetic): a floor of 4 float64 ulp at 1.
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 4 * Number.EPSILON, `${a} vs ${b}`);

test('accuracy and macro-F1 (sklearn: labels in gold or predictions, F1 0 where undefined)', () => {
  const gold = [0, 0, 1, 1, 2, 2];
  const pred = [0, 1, 1, 1, 2, 0];
  close(accuracy(pred, gold), 4 / 6);
  // class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 2, fp 1, fn 0 -> 0.8; class 2: tp 1, fp 0, fn 1 -> 2/3.
  close(macroF1(pred, gold), (0.5 + 0.8 + 2 / 3) / 3);
  // A predicted class absent from gold counts with F1 0 (sklearn's zero_division default).
  close(macroF1([0, 3], [0, 0]), (2 / 3 + 0) / 2);
  assert.equal(argmax([0.1, 3, -2, 3]), 1);
  assert.equal(argmax([9, 1, 5, 7], 2, 2), 1);
});

test('entity chunks and F1 as seqeval (IOB2, IOB1 and IOBES; type changes split)', () => {
  assert.deepEqual(chunks(['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC', 'I-ORG']), [
    { type: 'PER', start: 0, end: 2 }, { type: 'LOC', start: 3, end: 4 }, { type: 'LOC', start: 4, end: 5 }, { type: 'ORG', start: 5, end: 6 },
  ]);
  assert.deepEqual(chunks(['I-PER', 'I-PER', 'O', 'I-LOC']), [{ type: 'PER', start: 0, end: 2 }, { type: 'LOC', start: 3, end: 4 }]);
  assert.deepEqual(chunks(['S-PER', 'B-LOC', 'E-LOC', 'S-LOC']), [
    { type: 'PER', start: 0, end: 1 }, { type: 'LOC', start: 1, end: 3 }, { type: 'LOC', start: 3, end: 4 },
  ]);
  const gold = [['B-PER', 'I-PER', 'O', 'B-LOC'], ['B-ORG', 'O']];
  const pred = [['B-PER', 'I-PER', 'O', 'O'], ['B-ORG', 'B-MISC']];
  const s = entityScores(pred, gold); // 2 of 3 predicted right, 2 of 3 gold found
  close(s.precision, 2 / 3);
  close(s.recall, 2 / 3);
  close(s.f1, 2 / 3);
  close(tokenAccuracy(pred, gold), 4 / 6);
});

test('SQuAD exact match and F1', () => {
  assert.equal(normalizeAnswer('The  Eiffel-Tower!'), 'eiffeltower');
  assert.equal(normalizeAnswer('an apple, a pear'), 'apple pear');
  const s = squadScores(['Denver Broncos', 'in the park', 'nothing'], [['Denver Broncos', 'Broncos'], ['the big park'], ['x y']]);
  // 1) exact. 2) pred {in, park} vs gold {big, park}: P 1/2, R 1/2 -> 0.5. 3) 0.
  close(s.exactMatch, 1 / 3);
  close(s.f1, (1 + 0.5 + 0) / 3);
});
