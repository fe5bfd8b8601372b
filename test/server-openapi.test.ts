// /openapi.json against what the server really answers, as a client generated from the document would
// meet it: real requests on 127.0.0.1 to every route and task (small random checkpoints on the fixture
// tokenizer) and the error statuses, each answer checked with ajv (fastify's) against the schema declared
// for its route, status and content type, with no undeclared field; also the headers a status declares,
// the document's examples, and that every status declared for a task route is one the server gave.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TASKS, type Task } from '../src/pipelines/tasks.ts';
import { createServer, shutdown } from '../src/server/app.ts';
import { loadServedModel } from '../src/server/pipeline-runner.ts';
import { EXAMPLES } from '../src/server/tasks.ts';
import type { ServedModel } from '../src/server/types.ts';
import { fakeRunner } from './helpers/fake-runner.ts';
import { writeTinyCheckpoint } from './helpers/tiny-checkpoint.ts';

type Json = Record<string, unknown>;
interface Validator { (data: unknown): boolean; errors?: unknown[] | null }
interface AjvLike { addSchema(s: object, key: string): void; getSchema(ref: string): Validator | undefined; errorsText(e: unknown): string }
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'));
const { Ajv } = fastifyRequire('ajv') as { Ajv: new (o: object) => AjvLike };

const root = mkdtempSync(join(tmpdir(), 'deberta-openapi-'));
const TOKEN = { authorization: 'Bearer tok' };
const CONTEXT = 'The home team won the match by two goals in the rain.';
const WAIT_MS = 10_000;

/** An answer as a client reads it. */
interface Answer { status: number; headers: Record<string, string>; text: string }

/** The document of a running server, compiled for checking answers. */
class Spec {
  readonly ajv: AjvLike;
  constructor(readonly doc: { paths: Record<string, Record<string, Json>> } & Json) {
    this.ajv = new Ajv({ strict: false, allErrors: true });
    this.ajv.addSchema(closed(structuredClone(doc)), 'doc');
  }

  operation(method: string, path: string): Json {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${path} is in the document`);
    return op;
  }

  validator(pointer: string[]): Validator {
    const v = this.ajv.getSchema(`doc#/${pointer.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`);
    assert.ok(v, `the schema at ${pointer.join(' ')} compiles`);
    return v;
  }

  /** Fails unless the answer's status, content type, headers and body are as the document declares. */
  check(what: string, method: string, path: string, res: Answer): void {
    const responses = this.operation(method, path).responses as Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
    const declared = responses[String(res.status)];
    assert.ok(declared, `${what}: ${method} ${path} answered ${res.status}, which the document does not declare (${Object.keys(responses).join(', ')}): ${res.text}`);
    for (const [header, mentioned] of [['retry-after', 'Retry-After'], ['www-authenticate', 'WWW-Authenticate']] as const) {
      if (res.headers[header] !== undefined) {
        assert.ok(declared.headers?.[mentioned], `${what}: the ${res.status} answer sends ${mentioned}, which the document does not declare`);
      }
    }
    if (declared.headers?.['Retry-After'] && res.headers['retry-after'] !== undefined) {
      assert.match(res.headers['retry-after'], /^\d+$/, `${what}: Retry-After is an integer`);
    }
    const media = (t: string) => t.split(';')[0]!.trim().toLowerCase();
    const type = Object.keys(declared.content ?? {}).find((t) => media(t) === media(res.headers['content-type'] ?? ''));
    assert.ok(type, `${what}: ${res.status} came as ${res.headers['content-type']}; declared: ${Object.keys(declared.content ?? {}).join(', ')}`);
    const v = this.validator(['paths', path, method.toLowerCase(), 'responses', String(res.status), 'content', type, 'schema']);
    const body = media(type) === 'application/json' ? JSON.parse(res.text) : res.text;
    assert.ok(v(body), `${what}: the ${res.status} answer does not match its schema: ${this.ajv.errorsText(v.errors)}\n${res.text.slice(0, 500)}`);
  }

  /** Whether a request body matches the operation's declared request schema. */
  acceptsBody(path: string, body: unknown): boolean {
    return this.validator(['paths', path, 'post', 'requestBody', 'content', 'application/json', 'schema'])(body);
  }
}

/** Every object schema that names its properties is closed: a field the document omits fails the check. */
function closed<T>(x: T): T {
  if (Array.isArray(x)) x.forEach(closed);
  else if (x && typeof x === 'object') {
    const o = x as Json;
    if (o.properties && typeof o.properties === 'object' && o.additionalProperties === undefined) o.additionalProperties = false;
    Object.values(o).forEach(closed);
  }
  return x;
}

async function send(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const raw = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${base}${path}`, {
    method, body: raw, signal: AbortSignal.timeout(WAIT_MS),
    headers: { ...(raw !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
  });
  return { status: res.status, headers: Object.fromEntries(res.headers), text: await res.text() };
}

/** A request on a connection opened (kept alive) before, over node:http: the one a load balancer would reuse. */
function sendOn(agent: Agent, base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, agent, timeout: WAIT_MS, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers as Record<string, string>, text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in ${WAIT_MS} ms`)));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The route a task is documented under. */
const route = (task: Task) => `/v1/${task}`;

describe('/openapi.json declares what the server answers', () => {
  let app: FastifyInstance;
  let base: string;
  let spec: Spec;
  /** Statuses the server gave, by documented route. */
  const seen = new Map<string, Set<number>>();

  before(async () => {
    const tiny = (name: string, architecture: string, labels?: string[]) => writeTinyCheckpoint(join(root, name), { architecture, labels, seed: 3 });
    const models = await Promise.all([
      loadServedModel({ name: 'mlm', dir: tiny('mlm', 'DebertaV2ForMaskedLM'), tasks: ['fill-mask', 'feature-extraction'] }),
      loadServedModel({ name: 'cls', dir: tiny('cls', 'DebertaV2ForSequenceClassification', ['ham', 'spam']) }),
      loadServedModel({ name: 'ner', dir: tiny('ner', 'DebertaV2ForTokenClassification', ['O', 'B-X', 'I-X']) }),
      loadServedModel({ name: 'qa', dir: tiny('qa', 'DebertaV2ForQuestionAnswering') }),
      loadServedModel({ name: 'nli', dir: tiny('nli', 'DebertaV2ForSequenceClassification', ['entailment', 'neutral', 'contradiction']) }),
      loadServedModel({ name: 'ce', dir: tiny('ce', 'DebertaV2ForSequenceClassification', ['relevance']), tasks: ['rerank'] }),
    ]);
    app = createServer({ models, token: 'tok', maxItems: 4, maxTextLength: 200, bodyLimit: 4000 });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    const doc = await send(base, 'GET', '/openapi.json');
    assert.equal(doc.status, 200);
    spec = new Spec(JSON.parse(doc.text));
  });
  after(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function expect(what: string, status: number, method: string, path: string, body?: unknown, headers: Record<string, string> = TOKEN): Promise<Json> {
    const res = await send(base, method, path, body, headers);
    assert.equal(res.status, status, `${what}: ${res.text}`);
    spec.check(what, method, path, res);
    const statuses = seen.get(path) ?? new Set();
    seen.set(path, statuses.add(res.status));
    return res.headers['content-type']?.startsWith('application/json') ? JSON.parse(res.text) as Json : { text: res.text };
  }

  it('documents every task served, and each request example is a valid request answered 200', async () => {
    assert.deepEqual(Object.keys(spec.doc.paths).filter((p) => p.startsWith('/v1/') && p !== '/v1/models').sort(), TASKS.map(route).sort());
    for (const task of TASKS) {
      const media = (spec.operation('POST', route(task)).requestBody as { content: Record<string, { example?: unknown }> }).content['application/json']!;
      assert.deepEqual(media.example, EXAMPLES[task], `${task} has its example`);
      assert.ok(spec.acceptsBody(route(task), media.example), `${task}'s example matches its request schema`);
      const answer = await expect(`${task} example`, 200, 'POST', route(task), media.example);
      assert.equal(answer.task, task);
      assert.equal((answer.results as unknown[]).length, (EXAMPLES[task].inputs as unknown[]).length, `${task}: one result per input`);
    }
  });

  it('every example in the document matches the schema beside it', () => {
    const checked: string[] = [];
    const walk = (x: unknown, at: string[]) => {
      if (!x || typeof x !== 'object') return;
      const o = x as Json;
      if ('example' in o && 'schema' in o) {
        const v = spec.validator([...at, 'schema']);
        assert.ok(v(o.example), `the example at ${at.join(' ')} matches its schema: ${spec.ajv.errorsText(v.errors)}`);
        checked.push(at[1]!);
      }
      for (const [k, v] of Object.entries(o)) walk(v, [...at, k]);
    };
    walk(spec.doc.paths, ['paths']);
    assert.deepEqual(checked.sort(), TASKS.map(route).sort());
  });

  it('200 answers of every task and option shape', async () => {
    const ok = async (task: Task, body: Json) => {
      assert.ok(spec.acceptsBody(route(task), body), `${task}: the request matches its schema`);
      return expect(`${task} ${JSON.stringify(body.options ?? {})}`, 200, 'POST', route(task), body);
    };
    const all = await ok('text-classification', { inputs: 'Free entry!', options: { top_k: null, function_to_apply: 'sigmoid' } });
    assert.deepEqual(((all.results as Json[][])[0]!).map((r) => r.label).sort(), ['ham', 'spam']);
    const masks = await ok('fill-mask', { inputs: ['The [MASK] was [MASK].'], options: { top_k: 2, targets: ['cat', 'dog'] } });
    assert.equal((masks.results as unknown[][][])[0]!.length, 2, 'one list per mask');
    const tokens = await ok('feature-extraction', { inputs: ['hello world'], options: { pooling: 'none', normalize: true } });
    assert.ok(Array.isArray((tokens.results as unknown[][])[0]![0]), 'a vector per token');
    await ok('feature-extraction', { inputs: 'hello', options: { pooling: 'cls' } });
    await ok('token-classification', { inputs: ['The dog ran home.'], options: { aggregation_strategy: 'simple', ignore_labels: [] } });
    await ok('token-classification', { inputs: ['The dog ran home.'], options: { ignore_labels: [] } });
    const two = await ok('question-answering', { inputs: { question: 'Who won?', context: CONTEXT }, options: { top_k: 2, handle_impossible_answer: true } });
    assert.equal((two.results as unknown[][])[0]!.length, 2, 'top_k 2: a list');
    await ok('zero-shot-classification', { inputs: ['The match ended 2-1.'], options: { candidate_labels: ['sport', 'politics'], multi_label: true } });
    const ranked = await ok('rerank', { inputs: [{ query: 'weather', documents: ['rain', 'stocks'] }, { query: 'q', documents: ['d'] }], options: { activation: 'none' } });
    assert.deepEqual((ranked.results as Json[][]).map((r) => r.length), [2, 1]);
  });

  it('/health, /ready, /metrics and /v1/models', async () => {
    const health = await expect('health', 200, 'GET', '/health', undefined, {});
    assert.equal(health.status, 'ok');
    assert.equal(health.queued, 0);
    assert.equal((await expect('ready', 200, 'GET', '/ready', undefined, {})).status, 'ready');
    assert.match(String((await expect('metrics', 200, 'GET', '/metrics')).text), /# TYPE deberta_http_requests_total counter\n/);
    const models = await expect('models', 200, 'GET', '/v1/models');
    assert.deepEqual(models.limits, { maxItems: 4, maxTextLength: 200, bodyLimit: 4000, maxBatch: 16, timeoutMs: 30_000 });
    assert.equal((await expect('metrics without a token', 401, 'GET', '/metrics', undefined, {})).statusCode, 401);
    assert.equal((await expect('models without a token', 401, 'GET', '/v1/models', undefined, {})).statusCode, 401);
  });

  it('4xx answers', async () => {
    const cls = route('text-classification');
    const cases: [string, number, string, unknown, Record<string, string>, RegExp][] = [
      ['schema', 400, cls, { inputs: 5 }, TOKEN, /^body\.inputs must be a string or an object/],
      ['malformed JSON', 400, cls, '{"inputs": [', { ...TOKEN, 'content-type': 'application/json' }, /not valid JSON/],
      ['no token', 401, cls, { inputs: ['x'] }, {}, /^missing bearer token/],
      ['unknown model', 404, cls, { model: 'big', inputs: ['x'] }, TOKEN, /^unknown model 'big'/],
      ['body too large', 413, cls, { inputs: ['x'.repeat(5000)] }, TOKEN, /^request body is larger than the limit of 4000 bytes$/],
      ['XML', 415, cls, '<inputs/>', { ...TOKEN, 'content-type': 'application/xml' }, /^unsupported Content-Type 'application\/xml': send the body as JSON/],
      ['JSON sent as text/plain', 415, cls, '{"inputs":"x"}', { ...TOKEN, 'content-type': 'text/plain;charset=UTF-8' }, /^unsupported Content-Type 'text\/plain;charset=UTF-8'/],
      ['too many inputs', 422, cls, { inputs: ['a', 'b', 'c', 'd', 'e'] }, TOKEN, /^too many inputs: 5 in one request; the limit is 4$/],
      ['no mask', 422, route('fill-mask'), { inputs: ['no mask here'] }, TOKEN, /^inputs\[0\] has no \[MASK\] token/],
      ['question too long for the window', 422, route('question-answering'), { inputs: [{ question: 'who '.repeat(40), context: CONTEXT }], options: { max_seq_len: 32 } }, TOKEN,
        /^inputs\[0\]\.question has \d+ tokens/],
    ];
    for (const [what, status, path, body, headers, message] of cases) {
      const answer = await expect(what, status, 'POST', path, body, headers);
      assert.equal(answer.statusCode, status);
      assert.match(String(answer.message), message, what);
    }
    for (const task of TASKS) {
      if (task === 'text-classification') continue;
      await expect(`${task}: schema`, 400, 'POST', route(task), { inputs: [] });
      await expect(`${task}: no token`, 401, 'POST', route(task), EXAMPLES[task], {});
      await expect(`${task}: unknown model`, 404, 'POST', route(task), { ...EXAMPLES[task], model: 'big' });
    }
  });

  describe('5xx, a full queue, loading, and shutdown (fake runners)', () => {
    it('answers each as declared, with Retry-After where it applies', { timeout: 60_000 }, async () => {
      const held = fakeRunner('text-classification');
      let finish!: (m: ServedModel) => void;
      const fake = createServer({
        models: [
          { name: 'tiny', runners: [held] },
          { name: 'later', tasks: ['fill-mask'], loaded: new Promise<ServedModel>((r) => { finish = r; }) },
          { name: 'bad', tasks: ['rerank'], loaded: Promise.reject(new Error('no such folder')) },
        ],
        maxBatch: 1, maxQueue: 1, maxWaitMs: 1, timeoutMs: 1000, shutdownGraceMs: 1000,
      });
      const agents = [0, 1, 2].map(() => new Agent({ keepAlive: true, maxSockets: 1 }));
      let stopped = false;
      try {
        const fbase = await fake.listen({ port: 0, host: '127.0.0.1' });
        const fspec = new Spec(JSON.parse((await send(fbase, 'GET', '/openapi.json')).text));
        const got = async (what: string, status: number, method: string, path: string, body?: unknown, res?: Answer) => {
          const answer = res ?? await send(fbase, method, path, body);
          assert.equal(answer.status, status, `${what}: ${answer.text}`);
          fspec.check(what, method, path, answer);
          const statuses = seen.get(path) ?? new Set();
          seen.set(path, statuses.add(answer.status));
          return { ...answer, json: JSON.parse(answer.text) as Json };
        };
        const cls = route('text-classification');
        await new Promise((r) => setImmediate(r)); // the failed load has been seen
        const ready = await got('ready while loading', 503, 'GET', '/ready');
        assert.deepEqual(ready.json.failed, [{ model: 'bad', message: 'no such folder' }]);
        assert.deepEqual(ready.json.loading, ['later']);
        const loading = await got('model loading', 503, 'POST', route('fill-mask'), { inputs: ['a [MASK]'] });
        assert.equal(loading.headers['retry-after'], '1');
        assert.equal((await got('model failed to load', 503, 'POST', route('rerank'), { inputs: [{ query: 'q', documents: ['d'] }] })).json.message,
          "model 'bad' failed to load: no such folder");
        assert.equal((await got('model run failed', 500, 'POST', cls, { inputs: ['boom'] })).json.message, "inference failed: cannot classify 'boom'");
        // One batch held running (the model's one slot), one input queued (the queue's one place): the next
        // request is refused at once, and the two waiting time out.
        held.hold();
        const running = send(fbase, 'POST', cls, { inputs: ['a'] });
        await until(() => held.batches.length === 2, 'the held batch runs');
        const queued = send(fbase, 'POST', cls, { inputs: ['b'] });
        await until(async () => JSON.parse((await send(fbase, 'GET', '/health')).text).queued === 1, 'the queue fills');
        const busy = await got('queue full', 503, 'POST', cls, { inputs: ['c'] });
        assert.match(String(busy.json.message), /^server busy: 1 items already queued; retry after \d+ s$/);
        assert.ok(Number(busy.headers['retry-after']) >= 1);
        for (const [what, answer] of [['timeout running', await running], ['timeout queued', await queued]] as const) {
          assert.equal((await got(what, 504, 'POST', cls, undefined, answer)).json.message, 'request timed out: no result within 1000 ms');
        }
        held.release();
        finish({ name: 'later', runners: [fakeRunner('fill-mask')] });
        await until(async () => (await send(fbase, 'POST', route('fill-mask'), { inputs: ['a [MASK]'] })).status === 200, 'the loading model serves');
        // Connections a load balancer keeps open get their answers while the server stops.
        for (const agent of agents) assert.equal((await sendOn(agent, fbase, 'GET', '/health')).status, 200);
        const stopping = shutdown(fake);
        await until(() => !fake.server.listening, 'the server stops listening');
        const health = await got('health while shutting down', 503, 'GET', '/health', undefined, await sendOn(agents[0]!, fbase, 'GET', '/health'));
        assert.equal(health.json.message, 'server is shutting down; retry on another replica');
        const notReady = await got('ready while shutting down', 503, 'GET', '/ready', undefined, await sendOn(agents[1]!, fbase, 'GET', '/ready'));
        assert.equal(notReady.json.status, 'not ready');
        assert.equal(notReady.headers.connection, 'close');
        await got('task while shutting down', 503, 'POST', cls, undefined, await sendOn(agents[2]!, fbase, 'POST', cls, { inputs: ['x'] }));
        await stopping;
        stopped = true;
      } finally {
        held.release();
        finish({ name: 'later', runners: [fakeRunner('fill-mask')] }); // close() waits for a model still loading
        for (const agent of agents) agent.destroy();
        if (!stopped) await fake.close();
      }
    });
  });

  it('every status declared for a task route is one the server gave', () => {
    for (const task of TASKS) {
      const declared = Object.keys(spec.operation('POST', route(task)).responses as Json).map(Number).sort();
      const given = [...(seen.get(route(task)) ?? [])].sort();
      assert.ok(given.includes(200) && given.includes(400) && given.includes(401) && given.includes(404), `${task}: ${given}`);
      if (task === 'text-classification') assert.deepEqual(given, declared, 'text-classification got each status it declares');
    }
    for (const path of ['/health', '/ready', '/metrics', '/v1/models']) {
      const declared = Object.keys(spec.operation('GET', path).responses as Json).map(Number).filter((s) => s !== 503 || path === '/health' || path === '/ready');
      for (const s of declared) assert.ok(seen.get(path)?.has(s), `${path}: ${s} was given`);
    }
  });
});
