// Fuzzing the HTTP API's request bodies with fast-check, seeded: random JSON, random `inputs` and `options`
// shaped like (and unlike) each task's, and bytes that are not JSON, to every task's route. Each answer is a
// result (200) or a client error (400, 404 for an unknown model, 413, 415, 422) whose message names the part of the request at fault;
// never a 500, never a message with `undefined` or `NaN` in it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createServer } from '../src/server/app.ts';
import { fakeRunner } from './helpers/fake-runner.ts';

const TASKS = ['text-classification', 'fill-mask', 'zero-shot-classification', 'token-classification', 'question-answering', 'feature-extraction', 'rerank'];
const app = createServer({ models: [{ name: 'm', runners: TASKS.map((t) => fakeRunner(t)) }], logLevel: 'silent', bodyLimit: 65_536 } as never);
after(() => app.close());

const OPTION_NAMES = ['top_k', 'targets', 'candidate_labels', 'hypothesis_template', 'multi_label', 'function_to_apply', 'aggregation_strategy',
  'ignore_labels', 'stride', 'pooling', 'normalize', 'max_seq_len', 'doc_stride', 'max_answer_len', 'handle_impossible_answer',
  'return_documents', 'activation', 'topK', '__proto__', 'constructor'];
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant(''), fc.constant('a [MASK] b'));
const some = <T>(x: fc.Arbitrary<T>) => fc.oneof(x, fc.array(x, { minLength: 1, maxLength: 5 }));
const smallInt = fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constant(5000));
// Requests shaped as each task takes them (most accepted, some refused by a value), then anything at all.
const SHAPED: Record<string, fc.Arbitrary<unknown>> = {
  'text-classification': fc.record({ inputs: some(fc.oneof(text, fc.record({ text, text_pair: text }))),
    options: fc.record({ top_k: fc.oneof(smallInt, fc.constant(null)), function_to_apply: fc.constantFrom('softmax', 'sigmoid', 'none', 'tanh') }, { requiredKeys: [] }) }, { requiredKeys: ['inputs'] }),
  'fill-mask': fc.record({ inputs: some(fc.oneof(fc.constant('the [MASK] ran'), text)), options: fc.record({ top_k: smallInt, targets: fc.array(text, { maxLength: 3 }) }, { requiredKeys: [] }) }, { requiredKeys: ['inputs'] }),
  'zero-shot-classification': fc.record({ inputs: some(text), options: fc.record({ candidate_labels: fc.array(text, { maxLength: 4 }),
    hypothesis_template: fc.oneof(fc.constant('It is {}.'), text), multi_label: fc.boolean() }, { requiredKeys: ['candidate_labels'] }) }),
  'token-classification': fc.record({ inputs: some(text), options: fc.record({ aggregation_strategy: fc.constantFrom('none', 'simple', 'first', 'max', 'best'),
    ignore_labels: fc.array(text, { maxLength: 3 }), stride: smallInt }, { requiredKeys: [] }) }, { requiredKeys: ['inputs'] }),
  'question-answering': fc.record({ inputs: some(fc.record({ question: text, context: text })), options: fc.record({ top_k: smallInt, max_answer_len: smallInt,
    max_seq_len: smallInt, doc_stride: smallInt, handle_impossible_answer: fc.boolean() }, { requiredKeys: [] }) }, { requiredKeys: ['inputs'] }),
  'feature-extraction': fc.record({ inputs: some(text), options: fc.record({ pooling: fc.constantFrom('mean', 'cls', 'none', 'max'), normalize: fc.boolean() }, { requiredKeys: [] }) }, { requiredKeys: ['inputs'] }),
  rerank: fc.record({ inputs: some(fc.record({ query: text, documents: fc.array(text, { maxLength: 4 }) })),
    options: fc.record({ top_k: smallInt, return_documents: fc.boolean(), activation: fc.constantFrom('sigmoid', 'none', 'relu') }, { requiredKeys: [] }) }, { requiredKeys: ['inputs'] }),
};
const item = fc.oneof(text, fc.record({ text, text_pair: text }, { requiredKeys: [] }), fc.record({ question: text, context: text }, { requiredKeys: [] }),
  fc.record({ query: text, documents: fc.array(text, { maxLength: 4 }) }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 3 }));
const anything = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({
    inputs: fc.oneof(item, fc.array(item, { maxLength: 6 })),
    options: fc.oneof(fc.dictionary(fc.constantFrom(...OPTION_NAMES), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
    model: fc.oneof(fc.constant('m'), fc.string({ maxLength: 5 })),
  }, { requiredKeys: [] }),
);
const request = fc.constantFrom(...TASKS).chain((task) => fc.tuple(fc.constant(task), fc.oneof({ arbitrary: SHAPED[task]!, weight: 3 }, { arbitrary: anything, weight: 1 })));
// Where fastify's schema check or the task's own check places the fault.
const NAMES_A_PART = /\b(body|inputs|options|model|task|request|JSON|content-type|Content-Type)\b/;

const statuses = new Map<number, number>();

async function check(task: string, payload: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/v1/${task}`, payload, headers: { 'content-type': 'application/json' } });
  statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
  assert.ok([200, 400, 404, 413, 415, 422].includes(res.statusCode), `${task} ${payload.slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 200)}`);
  if (res.statusCode === 200) return;
  const message = (JSON.parse(res.body) as { message?: unknown }).message;
  assert.equal(typeof message, 'string', res.body);
  assert.match(message as string, NAMES_A_PART, `${task} ${payload.slice(0, 120)} → ${res.body.slice(0, 200)}`);
  assert.doesNotMatch(message as string, /\bundefined\b|\bNaN\b|\[object Object\]/, res.body);
}

test('fuzz: request bodies get a result or a client error naming the part at fault', async (t) => {
  await fc.assert(fc.asyncProperty(request, ([task, b]) => check(task, JSON.stringify(b) ?? 'null')),
    { numRuns: 1500, seed: 20261203, interruptAfterTimeLimit: 30_000 });
  // The generator reaches both sides: accepted requests and refused ones.
  assert.ok((statuses.get(200) ?? 0) > 50 && (statuses.get(400) ?? 0) + (statuses.get(422) ?? 0) > 50, JSON.stringify([...statuses]));
  t.diagnostic(`answers by status: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
});

test('fuzz: bytes that are not JSON get a 400 naming the body', async () => {
  const notJson = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }))
    .filter((s) => { try { JSON.parse(s); return false; } catch { return true; } });
  await fc.assert(fc.asyncProperty(fc.constantFrom(...TASKS), notJson, async (task, s) => {
    const res = await app.inject({ method: 'POST', url: `/v1/${task}`, payload: s, headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 400, `${JSON.stringify(s)} → ${res.statusCode} ${res.body}`);
    assert.match((JSON.parse(res.body) as { message: string }).message, /body|JSON/i);
  }), { numRuns: 400, seed: 7, interruptAfterTimeLimit: 15_000 });
});
