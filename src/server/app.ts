// The HTTP JSON API on fastify: `POST /v1/<task>` (and its aliases), `GET /v1/models`, `GET /health`,
// `GET /ready`, `GET /metrics`, `GET /openapi.json` with a docs page at `/docs`, and optionally a static
// folder (the browser demo). Routes, request schemas and per-task checks come from the task table
// (src/pipelines/tasks.ts). `createServer` returns the app without listening, and may be given models
// that are still loading (it answers /health at once, /ready and their tasks 503 until they are up);
// `shutdown(app)` is the graceful stop `deberta serve` runs on SIGTERM.
import { existsSync, statSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { Server as NetServer } from 'node:net';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { TASK_ALIASES, TASKS, type Task } from '../pipelines/tasks.ts';
import { bearerAuth } from './auth.ts';
import { CONTENT_TYPE, Gauge, serverMetrics, type ServerMetrics } from './metrics.ts';
import { ClientGoneError, MicroBatcher, QueueFullError, Slots, TimeoutError } from './queue.ts';
import { ERROR_SCHEMA, healthResponses, metricsResponses, modelsResponses, READINESS_SCHEMA, readyResponses, taskResponses } from './responses.ts';
import { formatSchemaErrors } from './schema-errors.ts';
import { bodySchema, inputRows, inputTexts, optionTexts } from './tasks.ts';
import { HttpError, type ServedModel, type TaskRunner } from './types.ts';
import { checkOptions } from './validate.ts';

/** A model still loading: its name and tasks are known; `loaded` gives the model once it can run. */
export interface LoadingModel {
  name: string;
  tasks: string[];
  /** Batches it will run at once (its worker threads; default 1). */
  concurrency?: number;
  loaded: Promise<ServedModel>;
}

export interface ServerOptions {
  /** Loaded models, or models still loading (the server answers before they are up). */
  models: (ServedModel | LoadingModel)[];
  /** Require `Authorization: Bearer <token>` on /v1/* and /metrics. */
  token?: string;
  /** Most items in one model run. */
  maxBatch?: number;
  /** How long a lone item waits for others to batch with (ms). */
  maxWaitMs?: number;
  /** Most items waiting per (model, task) before requests get 503. */
  maxQueue?: number;
  /** A request without its results after this long gets 504 (ms; 0: none). */
  timeoutMs?: number;
  /** Most inputs in one request (422 beyond). */
  maxItems?: number;
  /** Most characters in one input string (422 beyond). */
  maxTextLength?: number;
  /** Most bytes in a request body (413 beyond). */
  bodyLimit?: number;
  /** A folder served at / (index.html), e.g. the browser demo. */
  staticDir?: string;
  /**
   * On shutdown, after the last request in flight is answered, how long connections stay open so that a
   * request arriving on a kept-alive one gets 503 + `Connection: close` rather than a closed socket (ms).
   */
  shutdownGraceMs?: number;
  logger?: FastifyServerOptions['logger'];
}

export const DEFAULTS = {
  maxBatch: 16,
  maxWaitMs: 5,
  maxQueue: 256,
  timeoutMs: 30_000,
  maxItems: 64,
  maxTextLength: 10_000,
  bodyLimit: 1024 * 1024,
  shutdownGraceMs: 500,
} as const;

interface RequestBody {
  model?: string;
  /** One input, or an array of them. */
  inputs: unknown;
  options?: Record<string, unknown>;
}

/** A served model as the server tracks it: loading, up, or failed to load. */
interface Entry {
  name: string;
  tasks: string[];
  concurrency: number;
  state: 'loading' | 'loaded' | 'failed';
  model?: ServedModel;
  error?: string;
}

interface Queue {
  entry: Entry;
  task: string;
  /** Set once the model has loaded. */
  runner?: TaskRunner;
  batcher: MicroBatcher;
}

/** Retry-After (seconds) of a request that arrives while its model loads. */
const LOADING_RETRY_S = 1;

type Options = Omit<ServerOptions, 'models'> & { -readonly [K in keyof typeof DEFAULTS]: number };

/** What shutdown() needs of a server createServer made. */
interface ServerState {
  closing: boolean;
  /** Requests received and not yet answered. */
  inFlight: number;
  /** Called whenever inFlight drops. */
  onIdle: (() => void)[];
  graceMs: number;
}

const STATES = new WeakMap<FastifyInstance, ServerState>();

/** Every task name and alias a URL may use, with the task it stands for. */
const TASK_NAMES: Record<string, Task> = {
  ...Object.fromEntries(TASKS.map((t) => [t, t])),
  ...TASK_ALIASES,
};

export function createServer(options: ServerOptions): FastifyInstance {
  const { models, ...rest } = options;
  const o: Options = { ...DEFAULTS, ...definedOnly(rest) };
  const entries = checkModels(models);
  const metrics = serverMetrics();
  const queues = buildQueues(o, entries, metrics);
  for (const [i, m] of models.entries()) {
    if ('loaded' in m) {
      m.loaded.then((model) => loaded(entries[i]!, model, queues), (err: unknown) => {
        entries[i]!.state = 'failed';
        entries[i]!.error = err instanceof Error ? err.message : String(err);
      });
    }
  }
  const state: ServerState = { closing: false, inFlight: 0, onIdle: [], graceMs: o.shutdownGraceMs };
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit: o.bodyLimit,
    // The socket-level limit on receiving a request (slow clients); inference has its own timeout.
    requestTimeout: 60_000,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, verbose: true } },
    schemaErrorFormatter: formatSchemaErrors,
  });
  STATES.set(app, state);
  // The response schemas document the answers (/openapi.json); a schema compiled into the serializer
  // would instead drop the fields it does not name and coerce the rest.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addSchema(ERROR_SCHEMA);
  app.addSchema(READINESS_SCHEMA);
  // The API reads JSON only: a text/plain body (fetch's default for a string) is 415, not a 400 about its shape.
  app.removeContentTypeParser('text/plain');

  // Before anything else: a server shutting down answers new requests 503 and closes their connection.
  app.addHook('onRequest', async (request, reply) => {
    state.inFlight++;
    reply.raw.once('close', () => {
      state.inFlight--;
      for (const f of state.onIdle.splice(0)) f();
    });
    if (state.closing) {
      reply.header('connection', 'close');
      // /ready says 503 in its own shape, as it does whenever it is not ready.
      if (request.routeOptions.url === '/ready') return;
      throw new HttpError(503, 'server is shutting down; retry on another replica');
    }
  });
  if (o.token) app.addHook('onRequest', bearerAuth(o.token));
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    let status = err.statusCode ?? 500;
    if (status < 400 || status > 599) status = 500;
    let message = err.message;
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `request body is larger than the limit of ${o.bodyLimit} bytes`;
    if ((err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const type = request.headers['content-type'];
      message = `${type ? `unsupported Content-Type '${type}'` : 'no Content-Type'}: send the body as JSON with "Content-Type: application/json"`;
    }
    if (status >= 500 && !(err instanceof HttpError)) request.log.error(err);
    if (err instanceof HttpError) reply.headers(err.headers);
    return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status], message });
  });

  // Method and path of every route, for 405 answers with `Allow`.
  const allowed = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*') || route.url.includes(':')) return;
    const methods = allowed.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    allowed.set(route.url, methods);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const methods = allowed.get(path) ?? (path.startsWith('/v1/') && path.split('/').length === 3 && path !== '/v1/models' ? new Set(['POST']) : undefined);
    if (methods && !methods.has(request.method)) {
      const allow = [...methods].sort().join(', ');
      return reply.code(405).header('allow', allow).send({
        statusCode: 405, error: 'Method Not Allowed', message: `${request.method} is not allowed on ${path}; use ${allow}`,
      });
    }
    return reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${request.method} ${request.url}` });
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    metrics.requests.inc({ route, method: request.method, status });
    if (reply.statusCode >= 400) metrics.errors.inc({ route, status });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });
  addGauges(metrics, queues);

  app.register(fastifySwagger, {
    // Shared schemas keep their names (components/schemas/Error) rather than def-0, def-1.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: { title: 'deberta-ts server', description: 'DeBERTa pipelines over HTTP (docs/server.md)', version: '1' },
      ...(o.token ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } } } : {}),
    },
  });
  app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const served = [...new Set(queues.map((q) => q.task))];
  const auth = { auth: true };
  const security = o.token ? [{ bearer: [] }] : undefined;
  const modelList = () => entries.map((m) => ({ name: m.name, tasks: m.tasks, ...(m.model?.concurrency ? { workers: m.model.concurrency } : {}) }));

  app.register(async (api) => {
    api.get('/health', { schema: { summary: 'Liveness: the process answers (503 once shutdown has begun)', tags: ['probes'], response: healthResponses() } }, async () => ({
      status: 'ok',
      models: entries.map((m) => ({ name: m.name, tasks: m.tasks })),
      queued: queues.reduce((n, q) => n + q.batcher.queuedItems, 0),
    }));

    api.get('/ready', { schema: { summary: 'Readiness: every model loaded and its workers up', tags: ['probes'], response: readyResponses() } }, async (_request, reply) => {
      const loading = entries.filter((m) => m.state === 'loading').map((m) => m.name);
      const failed = entries.filter((m) => m.state === 'failed').map((m) => ({ model: m.name, message: m.error! }));
      const notReady = entries.filter((m) => m.model?.ready && !m.model.ready()).map((m) => m.name);
      const status = state.closing ? 'not ready' : failed.length ? 'failed' : loading.length ? 'loading' : notReady.length ? 'not ready' : 'ready';
      return reply.code(status === 'ready' ? 200 : 503).send({
        status, models: modelList(), ...(loading.length ? { loading } : {}), ...(failed.length ? { failed } : {}), ...(notReady.length ? { waiting: notReady } : {}),
      });
    });

    api.get('/metrics', { config: auth, schema: { summary: 'Prometheus metrics (text format 0.0.4)', tags: ['probes'], security, response: metricsResponses(!!o.token) } }, async (_request, reply) => {
      return reply.type(CONTENT_TYPE).send(metrics.registry.render());
    });

    api.get('/v1/models', { config: auth, schema: { summary: 'Models, their tasks and the request limits', tags: ['inference'], security, response: modelsResponses(!!o.token) } }, async () => ({
      models: modelList(),
      limits: { maxItems: o.maxItems, maxTextLength: o.maxTextLength, bodyLimit: o.bodyLimit, maxBatch: o.maxBatch, timeoutMs: o.timeoutMs },
    }));

    for (const [name, task] of Object.entries(TASK_NAMES)) {
      if (!served.includes(task)) continue;
      const alias = name !== task;
      api.post<{ Body: RequestBody }>(`/v1/${name}`, {
        config: auth,
        // An early 503 when the queue is full: the body is not even read.
        onRequest: async (_request, reply) => earlyBusy(queues, task, reply, metrics),
        schema: {
          summary: alias ? `${task} (alias)` : `Run ${task}`, tags: ['inference'], security, body: bodySchema(task), response: taskResponses(task, !!o.token),
          ...(alias ? { hide: true } : {}),
        },
      }, async (request, reply) => infer(request, reply, task));
    }
    api.post('/v1/:task', { config: auth, schema: { hide: true } }, async (request) => {
      const { task } = request.params as { task: string };
      const what = TASK_NAMES[task] ? `no model here serves '${task}'` : `unknown task '${task}'`;
      throw new HttpError(404, `${what}: this server serves ${served.join(', ')}`);
    });
    api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  });

  async function infer(request: FastifyRequest<{ Body: RequestBody }>, reply: FastifyReply, task: Task) {
    const { options: taskOptions } = request.body;
    const inputs = Array.isArray(request.body.inputs) ? request.body.inputs : [request.body.inputs];
    const queue = pickQueue(queues, task, request.body.model);
    const runner = usable(queue);
    checkLimits(o, task, inputs, taskOptions);
    checkOptions(task, taskOptions);
    try {
      runner.validate?.(inputs, taskOptions);
    } catch (err) {
      throw err instanceof HttpError ? err : new HttpError(422, (err as Error).message);
    }
    // A client that has gone takes its work out of the queue.
    const gone = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort();
    };
    if (request.raw.socket?.destroyed) gone.abort();
    else reply.raw.once('close', onClose);
    const labels = { model: queue.entry.name, task };
    try {
      const results = await queue.batcher.submit(inputs, taskOptions, o.timeoutMs, gone.signal);
      return { model: queue.entry.name, task, results };
    } catch (err) {
      if (err instanceof QueueFullError) metrics.rejected.inc(labels);
      else if (err instanceof TimeoutError) metrics.timeouts.inc(labels);
      else if (err instanceof ClientGoneError) metrics.cancelled.inc(labels);
      else if (!(err instanceof HttpError)) {
        request.log.error({ err }, 'inference failed');
        throw new HttpError(500, `inference failed: ${(err as Error).message}`);
      } else if (err.statusCode >= 500) request.log.warn({ message: err.message }, 'an input failed');
      throw err;
    } finally {
      reply.raw.off('close', onClose);
    }
  }

  if (o.staticDir) {
    const root = resolve(o.staticDir);
    if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`static folder ${root} does not exist`);
    app.register(fastifyStatic, {
      root, prefix: '/', index: 'index.html',
      // Cross-origin isolation lets ONNX Runtime Web use threads (SharedArrayBuffer) in the demo.
      setHeaders: (res) => {
        res.setHeader('cross-origin-opener-policy', 'same-origin');
        res.setHeader('cross-origin-embedder-policy', 'require-corp');
      },
    });
  }

  // Requests already in flight when close() starts are answered with `Connection: close`, so their
  // keep-alive sockets end with them and close() need not wait for the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing || state.closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onClose', async () => {
    // fastify has waited for in-flight requests; whatever still runs (timed-out work) finishes first.
    await Promise.all(queues.map((q) => q.batcher.drain()));
    // A model still loading is disposed once it has loaded.
    await Promise.all(models.map((m) => ('loaded' in m ? m.loaded.catch(() => undefined) : m)));
    for (const m of entries) {
      if (!m.model) continue;
      for (const r of m.model.runners) await r.dispose?.();
      await m.model.dispose?.();
    }
  });
  return app;
}

/**
 * The graceful stop: stop accepting connections; answer requests that still arrive (on kept-alive
 * connections) 503 with `Connection: close`; finish every request already received, queued ones
 * included; keep connections open `shutdownGraceMs` longer for late requests to get their 503; then
 * close, disposing the models.
 */
export async function shutdown(app: FastifyInstance): Promise<void> {
  const state = STATES.get(app);
  if (!state) throw new Error('shutdown() takes a server made by createServer()');
  state.closing = true;
  // net.Server's close stops accepting without closing idle keep-alive connections (http's would).
  if (app.server.listening) NetServer.prototype.close.call(app.server);
  while (state.inFlight > 0) await new Promise<void>((r) => state.onIdle.push(r));
  if (state.graceMs > 0) await new Promise((r) => setTimeout(r, state.graceMs));
  while (state.inFlight > 0) await new Promise<void>((r) => state.onIdle.push(r));
  await app.close();
}

/** 503 before the body is read when every queue of the task is full, or every model serving it still loading. */
function earlyBusy(queues: Queue[], task: string, reply: FastifyReply, metrics: ServerMetrics): void {
  const mine = queues.filter((q) => q.task === task);
  const up = mine.filter((q) => q.runner !== undefined);
  if (up.length === 0 && mine.every((q) => q.entry.state === 'loading')) throw loadingError(mine[0]!);
  if (up.length === 0 || !up.every((q) => q.batcher.wouldRefuse(1))) return;
  const q = up[0]!;
  metrics.rejected.inc({ model: q.entry.name, task });
  reply.header('connection', 'close');
  throw new QueueFullError(q.batcher.queuedItems, q.batcher.retryAfter(1));
}

function loadingError(q: Queue): HttpError {
  return new HttpError(503, `model '${q.entry.name}' is still loading; retry after ${LOADING_RETRY_S} s`, { 'retry-after': String(LOADING_RETRY_S) });
}

/** The queue's runner, or a 503 while its model loads (or after it failed to). */
function usable(q: Queue): TaskRunner {
  if (q.runner) return q.runner;
  if (q.entry.state === 'failed') throw new HttpError(503, `model '${q.entry.name}' failed to load: ${q.entry.error}`);
  throw loadingError(q);
}

function checkModels(models: (ServedModel | LoadingModel)[]): Entry[] {
  if (models.length === 0) throw new Error('the server needs at least one model');
  const names = new Set<string>();
  return models.map((m) => {
    if (names.has(m.name)) throw new Error(`two models are named '${m.name}'`);
    names.add(m.name);
    const tasks = 'loaded' in m ? m.tasks : m.runners.map((r) => r.task);
    if (tasks.length === 0) throw new Error(`model '${m.name}' serves no task`);
    const seen = new Set<string>();
    for (const t of tasks) {
      if (!(TASKS as string[]).includes(t)) throw new Error(`model '${m.name}': unknown task '${t}' (known: ${TASKS.join(', ')})`);
      if (seen.has(t)) throw new Error(`model '${m.name}' has two runners for '${t}'`);
      seen.add(t);
    }
    return 'loaded' in m
      ? { name: m.name, tasks, concurrency: m.concurrency ?? 1, state: 'loading' }
      : { name: m.name, tasks, concurrency: m.concurrency ?? 1, state: 'loaded', model: m };
  });
}

/** A model that has loaded takes its place: its runners serve the queues made for its tasks. */
function loaded(entry: Entry, model: ServedModel, queues: Queue[]): void {
  const mine = queues.filter((q) => q.entry === entry);
  const missing = mine.filter((q) => !model.runners.some((r) => r.task === q.task)).map((q) => q.task);
  if (model.name !== entry.name || missing.length > 0) {
    entry.state = 'failed';
    entry.error = `loaded as '${model.name}' serving ${model.runners.map((r) => r.task).join(', ')}, not ${missing.join(', ')}`;
    return;
  }
  for (const q of mine) q.runner = model.runners.find((r) => r.task === q.task);
  entry.model = model;
  entry.state = 'loaded';
}

function buildQueues(o: Options, entries: Entry[], metrics: ServerMetrics): Queue[] {
  const queues: Queue[] = [];
  for (const entry of entries) {
    const lock = new Slots(entry.concurrency); // a model runs as many batches at once as it has workers, whatever the task
    for (const task of entry.tasks) {
      const labels = { model: entry.name, task };
      const queue: Queue = { entry, task, runner: entry.model?.runners.find((r) => r.task === task), batcher: undefined as never };
      queue.batcher = new MicroBatcher({
        run: (items, options) => queue.runner!.run(items, options),
        maxBatch: o.maxBatch,
        maxWaitMs: o.maxWaitMs,
        maxQueue: o.maxQueue,
        lock,
        onBatch: ({ size, seconds, ok }) => {
          metrics.batchSize.observe(labels, size);
          metrics.batchSeconds.observe(labels, seconds);
          if (!ok) metrics.batchFailures.inc(labels);
        },
        onItemFailure: (status) => metrics.inputFailures.inc({ ...labels, status: String(status) }),
      });
      queues.push(queue);
    }
  }
  return queues;
}

function addGauges(metrics: ServerMetrics, queues: Queue[]): void {
  const per = (read: (q: Queue) => number) => () => queues.map((q) => ({ labels: { model: q.entry.name, task: q.task }, value: read(q) }));
  metrics.registry.add(new Gauge('deberta_queue_items', 'Items waiting to run, by model and task', per((q) => q.batcher.queuedItems)));
  metrics.registry.add(new Gauge('deberta_batches_running', 'Model runs in progress, by model and task', per((q) => q.batcher.runningBatches)));
  metrics.registry.add(new Gauge('process_resident_memory_bytes', 'Resident set size of the server process', () => [{ labels: {}, value: process.memoryUsage.rss() }]));
  metrics.registry.add(new Gauge('nodejs_heap_used_bytes', 'V8 heap in use', () => [{ labels: {}, value: process.memoryUsage().heapUsed }]));
}

/** The queue of the named model for this task, or of the first model serving it (the first loaded one while others load). */
function pickQueue(queues: Queue[], task: string, model: string | undefined): Queue {
  if (model === undefined) return queues.find((q) => q.task === task && q.runner) ?? queues.find((q) => q.task === task)!;
  const q = queues.find((x) => x.task === task && x.entry.name === model);
  if (q) return q;
  const models = [...new Set(queues.map((x) => x.entry.name))];
  if (!models.includes(model)) throw new HttpError(404, `unknown model '${model}': this server has ${models.join(', ')}`);
  const serving = queues.filter((x) => x.task === task).map((x) => x.entry.name);
  throw new HttpError(404, `model '${model}' does not serve ${task}; models that do: ${serving.join(', ')}`);
}

function checkLimits(o: Options, task: Task, inputs: unknown[], options: Record<string, unknown> | undefined): void {
  if (inputs.length > o.maxItems) {
    throw new HttpError(422, `too many inputs: ${inputs.length} in one request; the limit is ${o.maxItems}`);
  }
  inputs.forEach((item, i) => {
    const rows = inputRows(task, item);
    if (rows && rows.count > o.maxItems) {
      throw new HttpError(422, `inputs[${i}] has ${rows.count} ${rows.what}; the limit is ${o.maxItems}`);
    }
    for (const t of inputTexts(task, item)) {
      if (t.length > o.maxTextLength) {
        throw new HttpError(422, `inputs[${i}] has a text of ${t.length} characters; the limit is ${o.maxTextLength}`);
      }
    }
  });
  for (const t of options ? optionTexts(task, options) : []) {
    if (t.length > o.maxTextLength) throw new HttpError(422, `options has a text of ${t.length} characters; the limit is ${o.maxTextLength}`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
