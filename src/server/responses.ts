// What each route answers, as the response schemas of its fastify route: /openapi.json declares every
// status a client can get, with its body, content type and headers, so that a client generated from the
// document can read each answer. The schemas describe the answers; they do not make them (app.ts
// serializes with JSON.stringify), and test/server-openapi.test.ts checks real answers against them.
import type { Task } from '../pipelines/tasks.ts';
import type { JsonSchema } from '../pipelines/options.ts';

/** Every error answer: `{ statusCode, error, message }`. */
export const ERROR_SCHEMA = {
  $id: 'Error',
  type: 'object',
  description: 'An error; the message says what to change',
  properties: {
    statusCode: { type: 'integer', description: 'the HTTP status' },
    error: { type: 'string', description: 'its reason phrase' },
    message: { type: 'string' },
  },
  required: ['statusCode', 'error', 'message'],
};

const str = { type: 'string' } as const;
const strings = { type: 'array', items: str } as const;
const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const object = (properties: Record<string, JsonSchema>, required = Object.keys(properties), description?: string): JsonSchema => ({
  type: 'object', ...(description ? { description } : {}), properties, required,
});
const list = (items: JsonSchema, description?: string): JsonSchema => ({ type: 'array', items, ...(description ? { description } : {}) });

/** A model as /ready and /v1/models list it (`workers` once it runs on worker threads). */
const MODEL = object({ name: str, tasks: strings, workers: { ...int, description: 'worker threads (once loaded, on a pool)' } }, ['name', 'tasks']);

/** /ready, ready or not. */
export const READINESS_SCHEMA = {
  $id: 'Readiness',
  ...object({
    status: { type: 'string', enum: ['ready', 'loading', 'failed', 'not ready'] },
    models: list(MODEL),
    loading: { ...strings, description: 'models still loading' },
    failed: list(object({ model: str, message: str }), 'models that could not load'),
    waiting: { ...strings, description: 'models replacing a worker thread' },
  }, ['status', 'models']),
};

const ref = (id: string) => ({ $ref: `${id}#` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const error = (description: string, headers?: Record<string, JsonSchema>) => ({ description, ...(headers ? { headers } : {}), content: json(ref('Error')) });

const RETRY_AFTER = { 'Retry-After': { ...int, description: 'seconds to wait before retrying (a full queue, a model still loading)' } };
const AUTH = { 'WWW-Authenticate': { ...str, description: 'Bearer realm="deberta"' } };
const unauthorized = error('No bearer token, a malformed one, or a wrong one', AUTH);
const shuttingDown = error('The server is shutting down (with Connection: close)');

const FILL_CANDIDATE = object({ score: num, token: { ...int, description: 'token id' }, token_str: str, sequence: str });
const ENTITY = object({ entity: str, score: num, index: { ...int, description: "the token's position in its row" }, word: str, start: int, end: int });
const ENTITY_GROUP = object({ entity_group: str, score: num, word: str, start: int, end: int });
const ANSWER = object({ score: num, start: { ...int, description: 'character offset in the context' }, end: int, answer: str });

/** One result per input, per task (as its `run` gives it: src/pipelines/tasks.ts). */
const RESULTS: Record<Task, JsonSchema> = {
  'fill-mask': { anyOf: [list(FILL_CANDIDATE), list(list(FILL_CANDIDATE))], description: 'the candidates, best first (several masks: one list per mask)' },
  'text-classification': list(object({ label: str, score: num }), 'labels, best first'),
  'zero-shot-classification': object({ sequence: str, labels: { ...strings, description: 'best first' }, scores: list(num) }),
  'token-classification': list({ anyOf: [ENTITY, ENTITY_GROUP] }, 'tokens (aggregation_strategy none), or entity groups'),
  'question-answering': { anyOf: [ANSWER, list(ANSWER)], description: 'an answer (top_k > 1: a list, best first)' },
  'feature-extraction': { anyOf: [list(num), list(list(num))], description: 'a vector (pooling none: one per token)' },
  rerank: list(object({ index: { ...int, description: "the document's position in the input" }, score: num, document: str }, ['index', 'score']), 'best first'),
};

/** The responses of `POST /v1/<task>`. */
export function taskResponses(task: Task, withToken: boolean): Record<string, unknown> {
  return {
    200: {
      description: 'One result per input, in order',
      content: json(object({ model: str, task: { type: 'string', enum: [task] }, results: list(RESULTS[task], 'one per input, in order') })),
    },
    400: error('The body does not match the schema, or is not valid JSON'),
    ...(withToken ? { 401: unauthorized } : {}),
    404: error('Unknown model, or a model that does not serve the task'),
    413: error('The body is over the size limit'),
    415: error('The body is not sent as Content-Type: application/json'),
    422: error('Too many inputs, a text too long, or an option or input the model cannot take'),
    500: error('The model run failed for an input'),
    503: error('The queue is full, the model is still loading or failed to load, or the server is shutting down', RETRY_AFTER),
    504: error('No result within the timeout'),
  };
}

export function healthResponses(): Record<string, unknown> {
  return {
    200: { description: 'The process answers', content: json(object({ status: { type: 'string', enum: ['ok'] }, models: list(object({ name: str, tasks: strings })), queued: { ...int, description: 'inputs waiting' } })) },
    503: shuttingDown,
  };
}

export function readyResponses(): Record<string, unknown> {
  return {
    200: { description: 'Every model loaded and its workers up', content: json(ref('Readiness')) },
    503: { description: 'Models still loading, failed, replacing a worker, or the server shutting down', content: json(ref('Readiness')) },
  };
}

export function metricsResponses(withToken: boolean): Record<string, unknown> {
  return {
    200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain; version=0.0.4': { schema: str } } },
    ...(withToken ? { 401: unauthorized } : {}),
    503: shuttingDown,
  };
}

export function modelsResponses(withToken: boolean): Record<string, unknown> {
  const limits = object({ maxItems: int, maxTextLength: int, bodyLimit: int, maxBatch: int, timeoutMs: int });
  return {
    200: { description: 'The models and the request limits', content: json(object({ models: list(MODEL), limits })) },
    ...(withToken ? { 401: unauthorized } : {}),
    503: shuttingDown,
  };
}
