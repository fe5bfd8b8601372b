// Client mistakes over real pipelines (small random checkpoints on the fixture tokenizer): each is a 4xx
// naming the field, before the request is queued or, for what needs the tokenizer, in the worker thread;
// a bad input batched with good ones fails only its own request. Also: 405 with Allow, task aliases in
// the URL, a single input instead of an array, /ready and /openapi.json.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServer } from '../src/server/app.ts';
import { loadServedModel } from '../src/server/pipeline-runner.ts';
import { loadPooledModel } from '../src/server/worker-pool.ts';
import { writeTinyCheckpoint } from './helpers/tiny-checkpoint.ts';

const root = mkdtempSync(join(tmpdir(), 'deberta-validate-'));
const MLM = join(root, 'mlm');
const NER = join(root, 'ner');
const QA = join(root, 'qa');
let app: FastifyInstance;

before(async () => {
  writeTinyCheckpoint(MLM, { architecture: 'DebertaV2ForMaskedLM', seed: 3 });
  writeTinyCheckpoint(NER, { architecture: 'DebertaV2ForTokenClassification', labels: ['O', 'B-X', 'I-X'], seed: 4 });
  writeTinyCheckpoint(QA, { architecture: 'DebertaV2ForQuestionAnswering', seed: 5 });
  app = createServer({
    models: [
      await loadServedModel({ name: 'mlm', dir: MLM }),
      await loadServedModel({ name: 'ner', dir: NER }),
      // QA on a worker thread: the checks that need the tokenizer run there.
      await loadPooledModel({ name: 'qa', dir: QA, tasks: ['question-answering'] }, { workers: 1, threads: 1 }),
    ],
    maxWaitMs: 300, // concurrent requests below share a batch
  });
});
after(async () => {
  await app?.close();
  rmSync(root, { recursive: true, force: true });
});

async function post(url: string, body: unknown) {
  const res = await app.inject({ method: 'POST', url, payload: body as object });
  return { status: res.statusCode, body: res.json() as { message: string; results: unknown[]; task: string } };
}

const CONTEXT = 'The home team won the match by two goals in the rain.';

describe('client mistakes are 4xx, naming the field', () => {
  const cases: [string, string, unknown, number, RegExp][] = [
    ['fill-mask targets [""]', '/v1/fill-mask', { inputs: ['The [MASK] won.'], options: { targets: [''] } }, 422, /^options\.targets\[0\] is empty/],
    ['token-classification stride 511', '/v1/token-classification', { inputs: ['a b c'], options: { stride: 511 } }, 422, /^options\.stride must be smaller than 510 .*got 511$/],
    ['token-classification stride 4000', '/v1/token-classification', { inputs: ['a b c'], options: { stride: 4000 } }, 422, /^options\.stride must be smaller than 510/],
    ['token-classification stride 4096', '/v1/token-classification', { inputs: ['a b c'], options: { stride: 4096 } }, 422, /^options\.stride must be smaller than 510/],
    ['qa empty question', '/v1/question-answering', { inputs: [{ question: ' ', context: CONTEXT }] }, 422, /^inputs\[0\]\.question is empty$/],
    ['qa empty context', '/v1/question-answering', { inputs: [{ question: 'Who won?', context: '' }] }, 422, /^inputs\[0\]\.context is empty$/],
    ['qa doc_stride = max_seq_len', '/v1/question-answering', { inputs: [{ question: 'Who won?', context: CONTEXT }], options: { max_seq_len: 64, doc_stride: 64 } }, 422, /^options\.doc_stride must be at most 59 with max_seq_len 64, got 64$/],
    ['qa max_seq_len 1', '/v1/question-answering', { inputs: [{ question: 'Who won?', context: CONTEXT }], options: { max_seq_len: 1 } }, 422, /^options\.max_seq_len must be at least 5/],
    ['qa a 10,000-character question', '/v1/question-answering', { inputs: [{ question: 'who '.repeat(2500), context: CONTEXT }] }, 422, /^inputs\[0\]\.question has \d+ tokens; with max_seq_len 384 and doc_stride 128 a question may have at most 252$/],
  ];
  for (const [name, url, body, status, message] of cases) {
    it(name, async () => {
      const r = await post(url, body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(r.body.message, message);
    });
  }

  it('nothing above counted as a failed batch', async () => {
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.doesNotMatch(metrics, /deberta_batch_failures_total\{/);
  });
});

describe('a bad input batched with good ones', () => {
  it('fails only its own request', async () => {
    const runs = async () => Number(/deberta_batch_size_count\{model="qa",task="question-answering"\} (\d+)\n/
      .exec((await app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
    const before = await runs();
    const good = { question: 'Who won?', context: CONTEXT };
    const [a, bad, b] = await Promise.all([
      post('/v1/question-answering', { inputs: [good] }),
      post('/v1/question-answering', { inputs: [good, { question: 'who '.repeat(2500), context: CONTEXT }] }),
      post('/v1/question-answering', { inputs: [good, good] }),
    ]);
    assert.equal(bad.status, 422);
    assert.match(bad.body.message, /^inputs\[1\]\.question has \d+ tokens/);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const answer = a.body.results[0] as { answer: string; start: number; end: number };
    assert.equal(CONTEXT.slice(answer.start, answer.end), answer.answer);
    assert.deepEqual(b.body.results, [answer, answer]);
    assert.equal(await runs(), before + 1, 'the three requests shared one model run');
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /deberta_input_failures_total\{model="qa",task="question-answering",status="422"\} 2\n/); // this one and the 10,000-character question above
    assert.doesNotMatch(metrics, /deberta_batch_failures_total\{/);
  });
});

describe('routes', () => {
  it('405 with Allow for a wrong method', async () => {
    for (const [method, url, allow] of [['GET', '/v1/fill-mask', 'POST'], ['POST', '/health', 'GET, HEAD'], ['DELETE', '/v1/models', 'GET, HEAD'], ['GET', '/v1/ner', 'POST']] as const) {
      const res = await app.inject({ method, url });
      assert.equal(res.statusCode, 405, `${method} ${url}`);
      assert.equal(res.headers.allow, allow);
      assert.equal((res.json() as { message: string }).message, `${method} is not allowed on ${url}; use ${allow}`);
    }
  });

  it('task aliases in the URL answer as their task', async () => {
    const r = await post('/v1/ner', { inputs: ['a b c'] });
    assert.equal(r.status, 200);
    assert.equal(r.body.task, 'token-classification');
    const direct = await post('/v1/token-classification', { inputs: ['a b c'] });
    assert.deepEqual(r.body.results, direct.body.results);
    assert.equal((await post('/v1/qa', { inputs: { question: 'Who won?', context: CONTEXT } })).status, 200);
  });

  it('one input instead of an array gives the one-element answer', async () => {
    const one = await post('/v1/fill-mask', { inputs: 'The [MASK] won.', options: { top_k: 2 } });
    const list = await post('/v1/fill-mask', { inputs: ['The [MASK] won.'], options: { top_k: 2 } });
    assert.equal(one.status, 200);
    assert.equal((one.body.results[0] as unknown[]).length, 2);
    assert.deepEqual(one.body.results, list.body.results);
  });

  it('/ready once every model and worker is up; /openapi.json from the route schemas', async () => {
    const ready = await app.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 200);
    assert.equal((ready.json() as { status: string }).status, 'ready');
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      openapi: string; paths: Record<string, { post?: { requestBody: { content: Record<string, { schema: { required: string[] } }> } } }>;
    };
    assert.equal(doc.openapi, '3.0.3');
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/') && doc.paths[p]!.post).sort(),
      ['/v1/fill-mask', '/v1/question-answering', '/v1/token-classification']);
    assert.deepEqual(doc.paths['/v1/fill-mask']!.post!.requestBody.content['application/json']!.schema.required, ['inputs']);
    assert.equal((await app.inject({ method: 'GET', url: '/docs' })).statusCode < 400, true);
  });
});

describe("npm start's printed example", () => {
  it('works verbatim against the embedded spam model', async () => {
    const source = readFileSync('scripts/start.ts', 'utf8');
    const m = /curl -s localhost:8080(\/v1\/[a-z-]+) -H 'content-type: application\/json' -d '([^']+)'/.exec(source);
    assert.ok(m, 'scripts/start.ts prints a curl example');
    const spam = createServer({ models: [await loadServedModel({ name: 'spam', dir: 'models/deberta-v3-brown-small-spam' })] });
    try {
      const res = await spam.inject({ method: 'POST', url: m[1]!, headers: { 'content-type': 'application/json' }, payload: m[2]! });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { task: string; results: { label: string; score: number }[][] };
      assert.equal(body.task, 'text-classification');
      assert.equal(body.results.length, 1);
      assert.equal(body.results[0]![0]!.label, 'spam');
    } finally {
      await spam.close();
    }
  });
});
