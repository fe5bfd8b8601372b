// The HTTP JSON API on fastify: `POST /v1/<task>`, `GET /v1/models`, `GET /health`, `GET /metrics`,
// and optionally a static folder (the browser demo). `createServer` returns the app without listening.
import { existsSync, statSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { bearerAuth } from './auth.ts';
import { CONTENT_TYPE, Gauge, serverMetrics, type ServerMetrics } from './metrics.ts';
import { Lock, MicroBatcher, QueueFullError, TimeoutError } from './queue.ts';
import { formatSchemaErrors } from './schema-errors.ts';
import { bodySchema, TASKS, type TaskSpec } from './tasks.ts';
import { HttpError, type ServedModel, type TaskRunner } from './types.ts';

export interface ServerOptions {
  models: ServedModel[];
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
} as const;

interface RequestBody {
  model?: string;
  inputs: unknown[];
  options?: Record<string, unknown>;
}

interface Queue {
  model: ServedModel;
  task: string;
  runner: TaskRunner;
  batcher: MicroBatcher;
}

type Options = ServerOptions & { -readonly [K in keyof typeof DEFAULTS]: number };

export function createServer(options: ServerOptions): FastifyInstance {
  const o: Options = { ...DEFAULTS, ...definedOnly(options), models: options.models };
  checkModels(o.models);
  const metrics = serverMetrics();
  const queues = buildQueues(o, metrics);
  const app = Fastify({
    logger: o.logger ?? false,
    bodyLimit: o.bodyLimit,
    // The socket-level limit on receiving a request (slow clients); inference has its own timeout.
    requestTimeout: 60_000,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, verbose: true } },
    schemaErrorFormatter: formatSchemaErrors,
  });

  if (o.token) app.addHook('onRequest', bearerAuth(o.token));
  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    let status = err.statusCode ?? 500;
    if (status < 400 || status > 599) status = 500;
    let message = err.message;
    if ((err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `request body is larger than the limit of ${o.bodyLimit} bytes`;
    if (status >= 500 && !(err instanceof HttpError)) request.log.error(err);
    if (err instanceof HttpError) reply.headers(err.headers);
    return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status], message });
  });
  app.setNotFoundHandler((request, reply) => {
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

  const served = [...new Set(queues.map((q) => q.task))];
  const auth = { auth: true };

  app.get('/health', async () => ({
    status: 'ok',
    models: o.models.map((m) => ({ name: m.name, tasks: m.runners.map((r) => r.task) })),
    queued: queues.reduce((n, q) => n + q.batcher.queuedItems, 0),
  }));

  app.get('/metrics', { config: auth }, async (_request, reply) => {
    return reply.type(CONTENT_TYPE).send(metrics.registry.render());
  });

  app.get('/v1/models', { config: auth }, async () => ({
    models: o.models.map((m) => ({ name: m.name, tasks: m.runners.map((r) => r.task) })),
    limits: { maxItems: o.maxItems, maxTextLength: o.maxTextLength, bodyLimit: o.bodyLimit, maxBatch: o.maxBatch, timeoutMs: o.timeoutMs },
  }));

  for (const task of served) {
    const spec = TASKS[task]!;
    app.post<{ Body: RequestBody }>(`/v1/${task}`, { config: auth, schema: { body: bodySchema(spec) } }, async (request) => {
      const { inputs, options: taskOptions } = request.body;
      const queue = pickQueue(queues, task, request.body.model);
      checkLimits(o, spec, inputs, taskOptions);
      try {
        queue.runner.validate?.(inputs, taskOptions);
      } catch (err) {
        throw new HttpError(422, (err as Error).message);
      }
      const labels = { model: queue.model.name, task };
      try {
        const results = await queue.batcher.submit(inputs, taskOptions, o.timeoutMs);
        return { model: queue.model.name, task, results };
      } catch (err) {
        if (err instanceof QueueFullError) metrics.rejected.inc(labels);
        else if (err instanceof TimeoutError) metrics.timeouts.inc(labels);
        else if (!(err instanceof HttpError)) {
          request.log.error({ err }, 'inference failed');
          throw new HttpError(500, `inference failed: ${(err as Error).message}`);
        }
        throw err;
      }
    });
  }
  app.post('/v1/:task', { config: auth }, async (request) => {
    const { task } = request.params as { task: string };
    const what = TASKS[task] ? `no model here serves '${task}'` : `unknown task '${task}'`;
    throw new HttpError(404, `${what}: this server serves ${served.join(', ')}`);
  });

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
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onClose', async () => {
    // fastify has waited for in-flight requests; whatever still runs (timed-out work) finishes first.
    await Promise.all(queues.map((q) => q.batcher.drain()));
    for (const m of o.models) {
      for (const r of m.runners) await r.dispose?.();
      await m.dispose?.();
    }
  });
  return app;
}

function checkModels(models: ServedModel[]): void {
  if (models.length === 0) throw new Error('the server needs at least one model');
  const names = new Set<string>();
  for (const m of models) {
    if (names.has(m.name)) throw new Error(`two models are named '${m.name}'`);
    names.add(m.name);
    if (m.runners.length === 0) throw new Error(`model '${m.name}' serves no task`);
    const tasks = new Set<string>();
    for (const r of m.runners) {
      if (!TASKS[r.task]) throw new Error(`model '${m.name}': unknown task '${r.task}' (known: ${Object.keys(TASKS).join(', ')})`);
      if (tasks.has(r.task)) throw new Error(`model '${m.name}' has two runners for '${r.task}'`);
      tasks.add(r.task);
    }
  }
}

function buildQueues(o: Options, metrics: ServerMetrics): Queue[] {
  const queues: Queue[] = [];
  for (const model of o.models) {
    const lock = new Lock(); // one model runs one batch at a time, whatever the task
    for (const runner of model.runners) {
      const labels = { model: model.name, task: runner.task };
      const batcher = new MicroBatcher({
        run: (items, options) => runner.run(items, options),
        maxBatch: o.maxBatch,
        maxWaitMs: o.maxWaitMs,
        maxQueue: o.maxQueue,
        lock,
        onBatch: ({ size, seconds, ok }) => {
          metrics.batchSize.observe(labels, size);
          metrics.batchSeconds.observe(labels, seconds);
          if (!ok) metrics.batchFailures.inc(labels);
        },
      });
      queues.push({ model, task: runner.task, runner, batcher });
    }
  }
  return queues;
}

function addGauges(metrics: ServerMetrics, queues: Queue[]): void {
  const per = (read: (q: Queue) => number) => () => queues.map((q) => ({ labels: { model: q.model.name, task: q.task }, value: read(q) }));
  metrics.registry.add(new Gauge('deberta_queue_items', 'Items waiting to run, by model and task', per((q) => q.batcher.queuedItems)));
  metrics.registry.add(new Gauge('deberta_batches_running', 'Model runs in progress, by model and task', per((q) => q.batcher.runningBatches)));
  metrics.registry.add(new Gauge('process_resident_memory_bytes', 'Resident set size of the server process', () => [{ labels: {}, value: process.memoryUsage.rss() }]));
  metrics.registry.add(new Gauge('nodejs_heap_used_bytes', 'V8 heap in use', () => [{ labels: {}, value: process.memoryUsage().heapUsed }]));
}

/** The queue of the named model for this task, or of the first model serving it. */
function pickQueue(queues: Queue[], task: string, model: string | undefined): Queue {
  if (model === undefined) return queues.find((q) => q.task === task)!;
  const q = queues.find((x) => x.task === task && x.model.name === model);
  if (q) return q;
  const models = [...new Set(queues.map((x) => x.model.name))];
  if (!models.includes(model)) throw new HttpError(404, `unknown model '${model}': this server has ${models.join(', ')}`);
  const serving = queues.filter((x) => x.task === task).map((x) => x.model.name);
  throw new HttpError(404, `model '${model}' does not serve ${task}; models that do: ${serving.join(', ')}`);
}

function checkLimits(o: Options, spec: TaskSpec, inputs: unknown[], options: Record<string, unknown> | undefined): void {
  if (inputs.length > o.maxItems) {
    throw new HttpError(422, `too many inputs: ${inputs.length} in one request; the limit is ${o.maxItems}`);
  }
  inputs.forEach((item, i) => {
    const rows = spec.rows?.(item);
    if (rows && rows.count > o.maxItems) {
      throw new HttpError(422, `inputs[${i}] has ${rows.count} ${rows.what}; the limit is ${o.maxItems}`);
    }
    for (const t of spec.texts(item)) {
      if (t.length > o.maxTextLength) {
        throw new HttpError(422, `inputs[${i}] has a text of ${t.length} characters; the limit is ${o.maxTextLength}`);
      }
    }
  });
  for (const t of (options && spec.optionTexts?.(options)) ?? []) {
    if (t.length > o.maxTextLength) throw new HttpError(422, `options has a text of ${t.length} characters; the limit is ${o.maxTextLength}`);
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
