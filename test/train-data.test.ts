// Data loading for training: CSV/JSONL parsing with located errors, examples per task, label maps,
// features through the project tokenizer, and padded batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildLabelMap, relabelNotice, collate, countTokens, encoderFromTokenizer, featurize, labelNames, lossWeight, parseCsv, parseJsonl,
  readRecords, toExamples, type QaExample,
} from '../src/train/data.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';

const tokDir = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');

test('CSV: quotes, doubled quotes, newlines in fields, CRLF; errors name file and line', () => {
  const rows = parseCsv('text,label\r\n"hello, world",pos\r\n"say ""hi""\nagain",neg\nplain,pos\n', 'd.csv');
  assert.deepEqual(rows.map((r) => [r.line, r.values.text, r.values.label]), [
    [2, 'hello, world', 'pos'], [3, 'say "hi"\nagain', 'neg'], [5, 'plain', 'pos'],
  ]);
  assert.throws(() => parseCsv('a,b\n1,2\n3\n', 'd.csv'), /^Error: d\.csv:3: 1 fields, but the header has 2 columns$/);
  assert.throws(() => parseCsv('a,b\n1,"2\n3,4\n', 'd.csv'), /d\.csv:2: quoted field never closed/);
  assert.throws(() => parseCsv('a,a\n1,2\n', 'd.csv'), /d\.csv:1: column 'a' appears twice/);
  assert.deepEqual(parseCsv('a\tb\nx\ty\n', 'd.tsv', '\t')[0]!.values, { a: 'x', b: 'y' });
});

test('JSONL: blank lines skipped, errors give line and column', () => {
  const rows = parseJsonl('{"text":"a","label":1}\n\n{"text":"b","label":0}\n', 'd.jsonl');
  assert.deepEqual(rows.map((r) => r.line), [1, 3]);
  assert.throws(() => parseJsonl('{"a":1}\n{"a": 1,, }\n', 'd.jsonl'), /^Error: d\.jsonl:2:9: invalid JSON \(Expected double-quoted property name\)$/);
  assert.throws(() => parseJsonl('[1,2]\n', 'd.jsonl'), /d\.jsonl:1: each line must be a JSON object/);
});

test('examples: default and flagged columns, located errors', () => {
  const rows = parseJsonl('{"sentence1":"a","sentence2":"b","label":"yes"}\n{"sentence1":"c","sentence2":"d","label":"no"}\n', 'p.jsonl');
  const ex = toExamples('sequence-classification', rows, 'p.jsonl');
  assert.deepEqual(ex[0], { task: 'sequence-classification', line: 1, text: 'a', pair: 'b', label: 'yes' });
  assert.throws(() => toExamples('sequence-classification', rows, 'p.jsonl', { text: 'body' }), /--text-column: column 'body' not found in p\.jsonl/);
  const noLabel = parseJsonl('{"text":"a"}\n', 'n.jsonl');
  assert.throws(() => toExamples('sequence-classification', noLabel, 'n.jsonl'), /n\.jsonl: no label column \(looked for 'label'.*--label-column\)/);
  const tok = parseJsonl('{"tokens":["a","b"],"ner_tags":["O"]}\n', 't.jsonl');
  assert.throws(() => toExamples('token-classification', tok, 't.jsonl'), /t\.jsonl:1: 2 tokens but 1 tags/);
  const qa = parseJsonl('{"question":"q","context":"the cat sat","answers":{"text":["dog"],"answer_start":[4]}}\n', 'q.jsonl');
  assert.throws(() => toExamples('question-answering', qa, 'q.jsonl'), /q\.jsonl:1: answer "dog" is not in the context at 4/);
  const mc = parseCsv('sent1,sent2,ending0,ending1,label\nA man,He,runs,sleeps,1\n', 'm.csv');
  assert.deepEqual(toExamples('multiple-choice', mc, 'm.csv')[0], { task: 'multiple-choice', line: 2, context: 'A man', endings: ['He runs', 'He sleeps'], label: 1 });
});

test('label maps: sorted data labels, numeric order for integers, the model\'s own names kept', () => {
  assert.deepEqual(buildLabelMap(['spam', 'ham']).id2label, { 0: 'ham', 1: 'spam' });
  assert.deepEqual(buildLabelMap(['10', '2', '1']).label2id, { 1: 0, 2: 1, 10: 2 });
  const own = { id2label: { 0: 'neg', 1: 'pos' }, label2id: { neg: 0, pos: 1 } };
  assert.deepEqual(buildLabelMap(['pos', 'neg'], own), own);
  assert.deepEqual(buildLabelMap(['b', 'a'], { id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, label2id: { LABEL_0: 0, LABEL_1: 1 } }).id2label, { 0: 'a', 1: 'b' });
  // The log's notice when the model's names give way to the data's; none when they stay or were defaults.
  const spam = { id2label: { 0: 'ham', 1: 'spam' }, label2id: { ham: 0, spam: 1 } };
  assert.equal(relabelNotice(spam, buildLabelMap(['spam', 'ham'], spam), 't.csv'), undefined);
  assert.equal(relabelNotice({ id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, label2id: { LABEL_0: 0, LABEL_1: 1 } }, buildLabelMap(['b', 'a']), 't.csv'), undefined);
  assert.equal(relabelNotice(spam, buildLabelMap(['positive', 'negative'], spam), 't.csv'),
    "note: the model's labels (ham, spam) do not name every label in t.csv, so training uses the data's (negative, positive); the classifier keeps its weights under the new names");
  const many = buildLabelMap(Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`), spam);
  assert.equal(relabelNotice(spam, many, 't.csv'),
    "note: the model's labels (ham, spam) do not name every label in t.csv, so training uses the data's (c00, c01, c02, c03, c04, c05, c06, c07, … 12 in all); the classifier starts from new weights");
});

test('features and batches through the project tokenizer', async () => {
  const tok = await AutoTokenizer.fromPretrained(tokDir);
  const enc = encoderFromTokenizer(tok);

  // Token classification: the first token of each word carries the word's label, the rest -100.
  const tokRows = parseJsonl('{"tokens":["John","lives","in","New-York"],"ner_tags":["B-PER","O","O","B-LOC"]}\n', 't.jsonl');
  const tokEx = toExamples('token-classification', tokRows, 't.jsonl');
  const tokLabels = buildLabelMap(labelNames(tokEx));
  const [tf] = featurize('token-classification', tokEx, enc, { maxLength: 32, labels: tokLabels, file: 't.jsonl' });
  // [CLS] ▁John ▁lives ▁in ▁New - Y or k [SEP]
  const L = tokLabels.label2id;
  assert.deepEqual(tf!.labels, [-100, L['B-PER'], L.O, L.O, L['B-LOC'], -100, -100, -100, -100, -100]);

  // Question answering: start/end token positions of the answer inside the context.
  const qaRows = parseJsonl('{"question":"Who won?","context":"The Denver Broncos won the game.","answers":{"text":["Denver Broncos"],"answer_start":[4]}}\n', 'q.jsonl');
  const qaEx = toExamples('question-answering', qaRows, 'q.jsonl') as QaExample[];
  const [qf] = featurize('question-answering', qaEx, enc, { maxLength: 64, file: 'q.jsonl' });
  const ids = qf!.inputIds as number[];
  assert.equal(tok.decode(ids.slice(qf!.startPosition!, qf!.endPosition! + 1)), 'Denver Broncos');
  const [cut] = featurize('question-answering', qaEx, enc, { maxLength: 8, file: 'q.jsonl' });
  assert.deepEqual([cut!.startPosition, cut!.endPosition], [0, 0], 'answer truncated away: points at [CLS]');

  // Sequence classification batch: padded to the longest with the pad id, mask and labels.
  const scRows = parseJsonl('{"text":"a short one","label":"x"}\n{"text":"a rather longer sentence than that","label":"y"}\n', 's.jsonl');
  const scEx = toExamples('sequence-classification', scRows, 's.jsonl');
  const feats = featurize('sequence-classification', scEx, enc, { maxLength: 6, labels: buildLabelMap(labelNames(scEx)), file: 's.jsonl' });
  assert.equal((feats[1]!.inputIds as number[]).length, 6, 'truncated to maxLength');
  const b = collate('sequence-classification', feats, enc.padId, true);
  assert.deepEqual(b.inputIds.dims, [2, 6]);
  assert.deepEqual(Array.from(b.labels!.data as BigInt64Array), [0n, 1n]);
  const n0 = (feats[0]!.inputIds as number[]).length;
  assert.equal(countTokens(b), n0 + 6);
  assert.equal((b.inputIds.data as BigInt64Array)[5], BigInt(tok.padTokenId));
  assert.equal(lossWeight('sequence-classification', b), 2);
  const tb = collate('token-classification', [tf!], enc.padId, false);
  assert.equal(lossWeight('token-classification', tb), 4);
  assert.equal(tb.tokenTypeIds, undefined);

  // Multiple choice: [batch, choices, length].
  const mcEx = toExamples('multiple-choice', parseCsv('sent1,ending0,ending1,ending2,label\nA man,runs,sleeps far away,eats,2\n', 'm.csv'), 'm.csv');
  const mb = collate('multiple-choice', featurize('multiple-choice', mcEx, enc, { maxLength: 16, file: 'm.csv' }), enc.padId, true);
  assert.equal(mb.inputIds.dims.length, 3);
  assert.deepEqual(mb.inputIds.dims.slice(0, 2), [1, 3]);
  assert.deepEqual(Array.from(mb.labels!.data as BigInt64Array), [2n]);
});

test('readRecords: format from the extension, with a clear error otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-data-'));
  try {
    writeFileSync(join(dir, 'a.tsv'), 'text\tlabel\nhi\t1\n');
    assert.equal(readRecords(join(dir, 'a.tsv'))[0]!.values.label, '1');
    writeFileSync(join(dir, 'a.txt'), 'x');
    assert.throws(() => readRecords(join(dir, 'a.txt')), /a\.txt: unknown data format '\.txt'/);
    writeFileSync(join(dir, 'e.jsonl'), '\n');
    assert.throws(() => readRecords(join(dir, 'e.jsonl')), /e\.jsonl: holds no records/);
    assert.throws(() => readRecords(join(dir, 'missing.csv')), /missing\.csv: cannot read the data/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
