// The HTTP API's answers, one status at a time, with a fake runner (results = text lengths).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createServer, type ServerOptions } from '../src/server/app.ts';
import { fakeRunner } from './helpers/fake-runner.ts';

const apps: FastifyInstance[] = [];
after(async () => {
  await Promise.all(apps.map((a) => a.close()));
});

function app(opts: Partial<ServerOptions> = {}): FastifyInstance {
  const a = createServer({
    models: opts.models ?? [{ name: 'tiny', runners: [fakeRunner('text-classification'), fakeRunner('fill-mask')] }],
    ...opts,
  });
  apps.push(a);
  return a;
}

async function post(a: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await a.inject({ method: 'POST', url, payload: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.statusCode, headers: res.headers, body: res.json() as { message?: string; error?: string; results?: unknown[]; model?: string; task?: string } };
}

describe('server: 200', () => {
  it('answers each input in order, naming model and task', async () => {
    const r = await post(app(), '/v1/text-classification', { inputs: ['abc', { text: 'hello', text_pair: 'xy' }] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { model: 'tiny', task: 'text-classification', results: [{ label: 'len3', score: 3 }, { label: 'len7', score: 7 }] });
  });

  it('GET /health lists models and tasks; GET /v1/models the limits', async () => {
    const a = app({ maxItems: 7 });
    const h = await a.inject({ method: 'GET', url: '/health' });
    assert.equal(h.statusCode, 200);
    assert.deepEqual(h.json(), { status: 'ok', models: [{ name: 'tiny', tasks: ['text-classification', 'fill-mask'] }], queued: 0 });
    const m = (await a.inject({ method: 'GET', url: '/v1/models' })).json() as { limits: { maxItems: number } };
    assert.equal(m.limits.maxItems, 7);
  });

  it('routes to the named model', async () => {
    const a = app({ models: [{ name: 'a', runners: [fakeRunner()] }, { name: 'b', runners: [fakeRunner()] }] });
    assert.equal((await post(a, '/v1/text-classification', { inputs: ['x'] })).body.model, 'a');
    assert.equal((await post(a, '/v1/text-classification', { model: 'b', inputs: ['x'] })).body.model, 'b');
  });
});

describe('server: 400 schema errors', () => {
  const cases: [string, unknown, string][] = [
    ['unknown property', { inputs: ['x'], input: ['y'] }, "body has unknown property 'input'"],
    ['inputs absent', { input: ['x'] }, "body must have required property 'inputs'"],
    ['inputs neither an input nor an array', { inputs: 5 }, 'body.inputs must be a string or an object {"text": string, "text_pair"?: string}'],
    ['a single input of the wrong shape', { inputs: { text: 'x', pair: 'y' } }, 'body.inputs must be a string or an object {"text": string, "text_pair"?: string}'],
    ['inputs empty', { inputs: [] }, 'body.inputs must NOT have fewer than 1 items'],
    ['item of the wrong type', { inputs: ['ok', 5] }, 'body.inputs[1] must be a string or an object {"text": string, "text_pair"?: string}'],
    ['object item without text', { inputs: [{ text_pair: 'x' }] }, 'body.inputs[0] must be a string or an object {"text": string, "text_pair"?: string}'],
    ['bad option value', { inputs: ['x'], options: { function_to_apply: 'relu' } }, 'body.options.function_to_apply must be one of "softmax", "sigmoid", "none"'],
    ['bad option value (anyOf)', { inputs: ['x'], options: { top_k: 0 } }, 'body.options.top_k must be a positive integer, or null for every label'],
    ['unknown option', { inputs: ['x'], options: { topk: 2 } }, "body.options has unknown property 'topk'"],
    ['model not a string', { inputs: ['x'], model: 3 }, 'body.model must be string'],
    ['body not an object', [1, 2], 'body must be object'],
  ];
  for (const [name, body, message] of cases) {
    it(name, async () => {
      const r = await post(app(), '/v1/text-classification', body);
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'Bad Request');
      assert.equal(r.body.message, message);
    });
  }

  it('a number out of range', async () => {
    const r = await post(app(), '/v1/fill-mask', { inputs: ['x'], options: { top_k: 0 } });
    assert.equal(r.status, 400);
    assert.equal(r.body.message, 'body.options.top_k must be >= 1');
  });

  it('zero-shot requires candidate labels', async () => {
    const a = app({ models: [{ name: 'nli', runners: [fakeRunner('zero-shot-classification')] }] });
    const r = await post(a, '/v1/zero-shot-classification', { inputs: ['x'] });
    assert.equal(r.status, 400);
    assert.equal(r.body.message, "body must have required property 'options'");
    const r2 = await post(a, '/v1/zero-shot-classification', { inputs: ['x'], options: {} });
    assert.equal(r2.body.message, "body.options must have required property 'candidate_labels'");
  });

  it('malformed JSON', async () => {
    const r = await post(app(), '/v1/text-classification', '{"inputs": [');
    assert.equal(r.status, 400);
    assert.match(r.body.message!, /not valid JSON/);
  });
});

describe('server: 401 bearer auth', () => {
  const a = () => app({ token: 's3cret' });
  it('refuses a request without a token, and says how to send one', async () => {
    const r = await post(a(), '/v1/text-classification', { inputs: ['x'] });
    assert.equal(r.status, 401);
    assert.equal(r.body.message, 'missing bearer token: send "Authorization: Bearer <token>"');
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="deberta"');
  });
  it('refuses a wrong or malformed token', async () => {
    const s = a();
    const wrong = await post(s, '/v1/text-classification', { inputs: ['x'] }, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.message, 'invalid bearer token');
    const basic = await post(s, '/v1/text-classification', { inputs: ['x'] }, { authorization: 'Basic czNjcmV0' });
    assert.equal(basic.body.message, 'malformed Authorization header: expected "Bearer <token>"');
    const metrics = await s.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 401);
  });
  it('accepts the right token; /health stays open', async () => {
    const s = a();
    const ok = await post(s, '/v1/text-classification', { inputs: ['x'] }, { authorization: 'Bearer s3cret' });
    assert.equal(ok.status, 200);
    assert.equal((await s.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  });
});

describe('server: 404', () => {
  it('unknown task', async () => {
    const r = await post(app(), '/v1/translate', { inputs: ['x'] });
    assert.equal(r.status, 404);
    assert.equal(r.body.message, "unknown task 'translate': this server serves text-classification, fill-mask");
  });
  it('a known task no model here serves', async () => {
    const r = await post(app(), '/v1/question-answering', { inputs: [{ question: 'q', context: 'c' }] });
    assert.equal(r.status, 404);
    assert.equal(r.body.message, "no model here serves 'question-answering': this server serves text-classification, fill-mask");
  });
  it('unknown model, and a model that does not serve the task', async () => {
    const a = app({ models: [{ name: 'cls', runners: [fakeRunner()] }, { name: 'mlm', runners: [fakeRunner('fill-mask')] }] });
    const r = await post(a, '/v1/text-classification', { model: 'big', inputs: ['x'] });
    assert.equal(r.status, 404);
    assert.equal(r.body.message, "unknown model 'big': this server has cls, mlm");
    const r2 = await post(a, '/v1/text-classification', { model: 'mlm', inputs: ['x'] });
    assert.equal(r2.status, 404);
    assert.equal(r2.body.message, 'model \'mlm\' does not serve text-classification; models that do: cls');
  });
  it('unknown route', async () => {
    const r = await app().inject({ method: 'GET', url: '/nope' });
    assert.equal(r.statusCode, 404);
    assert.equal((r.json() as { message: string }).message, 'no route GET /nope');
  });
});

describe('server: 413 and 422 limits', () => {
  it('413 for a body over the limit', async () => {
    const r = await post(app({ bodyLimit: 100 }), '/v1/text-classification', { inputs: ['x'.repeat(200)] });
    assert.equal(r.status, 413);
    assert.equal(r.body.error, 'Payload Too Large');
    assert.equal(r.body.message, 'request body is larger than the limit of 100 bytes');
  });
  it('422 for too many inputs', async () => {
    const r = await post(app({ maxItems: 3 }), '/v1/text-classification', { inputs: ['a', 'b', 'c', 'd'] });
    assert.equal(r.status, 422);
    assert.equal(r.body.error, 'Unprocessable Entity');
    assert.equal(r.body.message, 'too many inputs: 4 in one request; the limit is 3');
  });
  it('422 for a text over the length limit, naming the input', async () => {
    const r = await post(app({ maxTextLength: 10 }), '/v1/text-classification', { inputs: ['short', { text: 'ok', text_pair: 'x'.repeat(11) }] });
    assert.equal(r.status, 422);
    assert.equal(r.body.message, 'inputs[1] has a text of 11 characters; the limit is 10');
  });
  it('422 for a candidate label over the length limit', async () => {
    const a = app({ maxTextLength: 5, models: [{ name: 'nli', runners: [fakeRunner('zero-shot-classification')] }] });
    const r = await post(a, '/v1/zero-shot-classification', { inputs: ['x'], options: { candidate_labels: ['sport', 'politics'] } });
    assert.equal(r.status, 422);
    assert.equal(r.body.message, 'options has a text of 8 characters; the limit is 5');
  });
});

describe('server: 503, 504 and 500', () => {
  it('503 with Retry-After when the queue is full', async () => {
    const runner = fakeRunner();
    const a = app({ models: [{ name: 'tiny', runners: [runner] }], maxBatch: 2, maxQueue: 3, maxWaitMs: 1 });
    runner.hold();
    const running = post(a, '/v1/text-classification', { inputs: ['a', 'b'] }); // takes the whole first batch
    await until(async () => runner.batches.length === 1);
    const queued = post(a, '/v1/text-classification', { inputs: ['c', 'd', 'e'] }); // fills the queue (3)
    await until(async () => ((await a.inject({ method: 'GET', url: '/health' })).json() as { queued: number }).queued === 3);
    const refused = await post(a, '/v1/text-classification', { inputs: ['f'] });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error, 'Service Unavailable');
    assert.match(refused.body.message!, /^server busy: 3 items already queued; retry after \d+ s$/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    runner.release();
    assert.deepEqual((await running).body.results, [{ label: 'len1', score: 1 }, { label: 'len1', score: 1 }]);
    assert.equal((await queued).body.results!.length, 3);
    const metrics = (await a.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /deberta_queue_rejections_total\{model="tiny",task="text-classification"\} 1\n/);
  });

  it('504 when no result comes within the timeout', async () => {
    const runner = fakeRunner();
    const a = app({ models: [{ name: 'tiny', runners: [runner] }], timeoutMs: 50 });
    runner.hold();
    const r = await post(a, '/v1/text-classification', { inputs: ['a'] });
    runner.release();
    assert.equal(r.status, 504);
    assert.equal(r.body.error, 'Gateway Timeout');
    assert.equal(r.body.message, 'request timed out: no result within 50 ms');
  });

  it('500 when the runner fails, without failing requests batched with it', async () => {
    const runner = fakeRunner();
    const a = app({ models: [{ name: 'tiny', runners: [runner] }], maxWaitMs: 200 });
    const [bad, good] = await Promise.all([
      post(a, '/v1/text-classification', { inputs: ['boom'] }),
      post(a, '/v1/text-classification', { inputs: ['fine'] }),
    ]);
    assert.equal(bad.status, 500);
    assert.equal(bad.body.message, "inference failed: cannot classify 'boom'");
    assert.equal(good.status, 200);
    assert.deepEqual(good.body.results, [{ label: 'len4', score: 4 }]);
    assert.equal(runner.batches[0]!.length, 2, 'both were in one batch first');
  });
});

describe('server: /metrics', () => {
  it('counts requests, errors, latency and batch sizes in Prometheus text', async () => {
    const a = app();
    await post(a, '/v1/text-classification', { inputs: ['a', 'b', 'c'] });
    await post(a, '/v1/text-classification', { inputs: [] });
    const r = await a.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const text = r.body;
    assert.match(text, /# TYPE deberta_http_requests_total counter\n/);
    assert.match(text, /deberta_http_requests_total\{route="\/v1\/text-classification",method="POST",status="200"\} 1\n/);
    assert.match(text, /deberta_http_errors_total\{route="\/v1\/text-classification",status="400"\} 1\n/);
    assert.match(text, /deberta_http_request_duration_seconds_count\{route="\/v1\/text-classification"\} 2\n/);
    assert.match(text, /deberta_batch_size_bucket\{model="tiny",task="text-classification",le="2"\} 0\n/);
    assert.match(text, /deberta_batch_size_bucket\{model="tiny",task="text-classification",le="4"\} 1\n/);
    assert.match(text, /deberta_batch_size_sum\{model="tiny",task="text-classification"\} 3\n/);
    assert.match(text, /deberta_queue_items\{model="tiny",task="text-classification"\} 0\n/);
    assert.match(text, /process_resident_memory_bytes \d+\n/);
  });
});

describe('server: static files', () => {
  it('serves a folder at / with the headers ONNX Runtime Web needs for threads, without a token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deberta-static-'));
    try {
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>demo</title>');
      const a = app({ staticDir: dir, token: 't' });
      const r = await a.inject({ method: 'GET', url: '/' });
      assert.equal(r.statusCode, 200);
      assert.equal(r.body, '<!doctype html><title>demo</title>');
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.equal((await a.inject({ method: 'GET', url: '/missing.js' })).statusCode, 404);
      assert.equal((await post(a, '/v1/text-classification', { inputs: ['x'] })).status, 401, 'the API still needs the token');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('refuses a static folder that does not exist', () => {
    assert.throws(() => app({ staticDir: '/no/such/folder' }), { message: 'static folder /no/such/folder does not exist' });
  });
});

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}
