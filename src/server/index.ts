// The HTTP server as a library: `createServer({ models })` returns a fastify app (not yet listening).
export { createServer, shutdown, DEFAULTS, type ServerOptions, type LoadingModel } from './app.ts';
export { loadServedModel, parseModelSpec, pipelineRunner, defaultTask, type ModelSpec } from './pipeline-runner.ts';
export { loadPooledModel, WorkerPool, type PoolOptions } from './worker-pool.ts';
export { MicroBatcher, QueueFullError, TimeoutError, ClientGoneError, Slots } from './queue.ts';
export { bodySchema } from './tasks.ts';
export { describeRunner, runTask, type RunnerInfo } from './task-runtime.ts';
export { validateRequest } from './validate.ts';
export { HttpError, ItemFailure, type ServedModel, type TaskRunner } from './types.ts';
