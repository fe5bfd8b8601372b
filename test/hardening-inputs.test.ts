// Model inputs a caller gets wrong: ids outside the vocabulary, empty batches, ragged rows, sequences
// longer than the model takes. Each is an error naming the input (and the row and column) before ONNX
// Runtime sees it, so its own log lines never reach the terminal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/models/auto.ts';
import { writeSafetensors } from '../src/io/safetensors.ts';
import { tensor } from '../src/tensor.ts';

const V3 = 'test/fixtures/models/v3-buckets-seqcls'; // vocab 128, relative positions with log buckets
const ABS = 'test/fixtures/models/v2-absolute-seqcls'; // absolute positions
const model = await loadModel(V3);
const small = await loadModel(V3, 'auto', { maxLength: 8 });
after(async () => { await model.dispose(); await small.dispose(); });

test('ids outside [0, vocab_size) are errors naming the row and column', async () => {
  await assert.rejects(model({ inputIds: [[1, 2, 3], [4, -1, 6]] }), { message: 'inputIds[1][1]: id -1 is outside [0, 128) (vocab_size in config.json)' });
  await assert.rejects(model({ inputIds: [[1, 99999]] }), { message: 'inputIds[0][1]: id 99999 is outside [0, 128) (vocab_size in config.json)' });
  await assert.rejects(model({ inputIds: [[128]] }), { message: 'inputIds[0][0]: id 128 is outside [0, 128) (vocab_size in config.json)' });
  const big = new BigInt64Array([1n, 2n, 3n, 2n ** 63n - 1n]);
  await assert.rejects(model({ inputIds: { data: big, dims: [2, 2] } }), { message: 'inputIds[1][1]: id 9223372036854775807 is outside [0, 128) (vocab_size in config.json)' });
  await assert.rejects(model({ inputIds: { data: new Int32Array([5, -7]), dims: [1, 2] } }), { message: 'inputIds[0][1]: id -7 is outside [0, 128) (vocab_size in config.json)' });
  await assert.rejects(model({ inputIds: [[1, 2.5]] }), { message: 'inputIds[0][1]: 2.5 is not an integer' });
  await assert.rejects(model({ inputIds: { data: [1, 2 ** 63], dims: [1, 2] } }), { message: 'inputIds[0][1]: 9223372036854776000 is not an integer' });
  // The edges of the range are fine, and give the same logits as the same ids one row at a time.
  const both = await model({ inputIds: [[0, 127], [5, 9]] });
  const one = await model({ inputIds: [[0, 127]] });
  assert.deepEqual(both.logits!.dims, [2, 3]);
  // Measured exactly equal: a floor of 4 float32 ulp at the logits' scale.
  assert.ok([...one.logits!.data].every((x, i) => Math.abs(x - both.logits!.data[i]!) <= 4 * 2 ** -23 * Math.max(1, Math.abs(x))));
});

test('empty batches and empty sequences are clear errors', async () => {
  const empty = /^Error: inputIds: dims \[(0, 0|1, 0|0, 3)\] are empty; a batch needs at least one sequence of at least one token$/;
  await assert.rejects(model({ inputIds: [] }), empty);
  await assert.rejects(model({ inputIds: [[]] }), empty);
  await assert.rejects(model({ inputIds: { data: new BigInt64Array(0), dims: [0, 0] } }), empty);
  await assert.rejects(model({ inputIds: { data: new BigInt64Array(0), dims: [1, 0] } }), empty);
  await assert.rejects(model({ inputIds: { data: new BigInt64Array(0), dims: [0, 3] } }), empty);
  await assert.rejects(model({ inputIds: { data: new BigInt64Array(2), dims: [1, -2] } }), { message: 'inputIds: dims must be a list of non-negative integers, got an array of 2' });
});

test('ragged rows are errors even when their lengths add up', async () => {
  await assert.rejects(model({ inputIds: [[1, 2], [3], [4, 5, 6]] }), { message: "inputIds[1]: rows differ in length (1 entries, the first row 2); pad them (the tokenizer's padding option does this)" });
  await assert.rejects(model({ inputIds: [[1, 2], [3, 4]], attentionMask: [[1, 1], [1]] }), /^Error: attentionMask\[1\]: rows differ in length \(1 entries, the first row 2\)/);
  await assert.rejects(model({ inputIds: [[1, 2]], attentionMask: [[1, 1, 1]] }), { message: 'model input: attention_mask has dims [1,3], inputIds [1,2]' });
});

test("inputs in transformers' spelling too; a misspelt or unknown input is an error, a tokenizer's extras are passed over", async () => {
  const inputIds = [[1, 5, 9, 2], [1, 7, 2, 0]], attentionMask = [[1, 1, 1, 1], [1, 1, 1, 0]];
  const want = (await model({ inputIds, attentionMask })).logits!.data;
  const unmasked = (await model({ inputIds })).logits!.data;
  assert.notDeepEqual(unmasked, want); // the mask matters for the second row
  const call = model as unknown as (i: unknown) => ReturnType<typeof model>;
  assert.deepEqual((await model({ input_ids: inputIds, attention_mask: attentionMask })).logits!.data, want); // typed too
  assert.deepEqual((await call({ inputIds, attentionMask, offsets: [[[0, 0]]], special_tokens_mask: [[1]], overflowToSampleMapping: [0, 1] })).logits!.data, want);
  await assert.rejects(call({ inputIds, attentionMasks: attentionMask }), {
    name: 'TypeError',
    message: "model input: unknown input 'attentionMasks' (accepted: inputIds (input_ids), attentionMask (attention_mask), tokenTypeIds (token_type_ids), "
      + 'offsets, tokens, specialTokensMask (special_tokens_mask), sequenceIds (sequence_ids), overflowToSampleMapping (overflow_to_sample_mapping))',
  });
  await assert.rejects(call({ inputIds, labels: [0, 1] }), /^TypeError: model input: unknown input 'labels'/);
  await assert.rejects(call({ inputIds, input_ids: inputIds }), { name: 'TypeError', message: "model input: 'input_ids' and 'inputIds' are one input; give it once" });
  await assert.rejects(call({ attention_mask: attentionMask }), { message: 'model input: inputIds is required' });
  await assert.rejects(call([[1, 2]]), { name: 'TypeError', message: 'model input: expected { inputIds, attentionMask?, tokenTypeIds? }, got an array of 1' });
});

test('sequences longer than the relative-position tables or the absolute positions are clear errors', async () => {
  const long = (n: number) => [Array.from({ length: n }, (_, i) => 1 + (i % 100))];
  await assert.rejects(model({ inputIds: long(4097) }), {
    message: "inputIds: sequences of 4097 tokens are longer than the 4096 this model accepts (the relative-position tables; load with { maxLength } for longer); truncate them (the tokenizer's truncation and maxLength options)",
  });
  await assert.rejects(small({ inputIds: long(9) }), /^Error: inputIds: sequences of 9 tokens are longer than the 8 this model accepts/);
  // Within the tables, the same model built with short tables gives the default model's numbers.
  const a = await small({ inputIds: long(8) });
  const b = await model({ inputIds: long(8) });
  assert.ok([...a.logits!.data].every((x, i) => Math.abs(x - b.logits!.data[i]!) <= 4 * 2 ** -23 * Math.max(1, Math.abs(x)))); // measured 0: a float32 floor
  const abs = await loadModel(ABS);
  try {
    const max = abs.config.max_position_embeddings;
    await assert.rejects(abs({ inputIds: long(max + 1) }), new RegExp(`^Error: inputIds: sequences of ${max + 1} tokens are longer than the ${max} this model accepts \\(max_position_embeddings in config.json\\)`));
    assert.equal((await abs({ inputIds: long(max) })).logits!.dims.join(), '1,3');
  } finally {
    await abs.dispose();
  }
});

test('deberta forward with an id of -1 prints one line naming it, and nothing from ONNX Runtime', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hardening-inputs-'));
  try {
    const inputs = join(dir, 'in.safetensors');
    writeSafetensors(inputs, { 'input.input_ids': tensor('int64', [1, 3], new BigInt64Array([1n, -1n, 8191n])) });
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'forward', '--model', V3, '--inputs', inputs, '--out', join(dir, 'out.safetensors')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'deberta: inputIds[0][1]: id -1 is outside [0, 128) (vocab_size in config.json)\n');
    // deberta grad reads its ids from a file too: the same check, naming the file and the tensor.
    writeSafetensors(inputs, { 'input.input_ids': tensor('int64', [1, 3], new BigInt64Array([1n, 2n, 99999n])), 'label.labels': tensor('int64', [1], new BigInt64Array([1n])) });
    const g = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'grad', '--model', V3, '--inputs', inputs, '--out', join(dir, 'grad.safetensors')], { encoding: 'utf8' });
    assert.equal(g.stderr, `deberta: ${inputs}: input.input_ids[0][2]: id 99999 is outside [0, 128) (vocab_size in config.json)\n`);
    assert.equal(g.status, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
