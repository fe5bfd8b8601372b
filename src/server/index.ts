// The HTTP server as a library: `createServer({ models })` returns a fastify app (not yet listening).
export { createServer, DEFAULTS, type ServerOptions } from './app.ts';
export { loadServedModel, parseModelSpec, pipelineRunner, defaultTask, type ModelSpec } from './pipeline-runner.ts';
export { MicroBatcher, QueueFullError, TimeoutError } from './queue.ts';
export { TASKS as SERVER_TASKS, type TaskSpec } from './tasks.ts';
export { HttpError, type ServedModel, type TaskRunner } from './types.ts';
