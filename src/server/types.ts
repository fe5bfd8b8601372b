// What the server runs: one TaskRunner per (model, task). A runner takes a batch of items (already
// validated against the task's request schema) and returns one result per item, in input order.
import type { RunnerInfo } from './task-runtime.ts';

export interface TaskRunner {
  task: string;
  /**
   * `options` are the request's task options; the server only batches items whose options are equal.
   * An ItemFailure in an item's place fails that item's request only.
   */
  run(items: unknown[], options?: Record<string, unknown>): Promise<unknown[]>;
  /** Checks one request before it is queued; what it throws is answered 422 with its message. */
  validate?(items: unknown[], options?: Record<string, unknown>): void;
  /** What validation knows of the model (runners over pipelines have it). */
  info?: RunnerInfo;
  dispose?(): Promise<void>;
}

export interface ServedModel {
  name: string;
  /** Where it was loaded from (for logs; not sent to clients). */
  source?: string;
  runners: TaskRunner[];
  /** Batches this model can run at once (its worker threads; default 1). */
  concurrency?: number;
  /** False while the model cannot take work (a worker thread restarting). Default: always ready. */
  ready?(): boolean;
  dispose?(): Promise<void>;
}

/**
 * The result of one item that failed, in its place in a runner's results. The request gets `status` and
 * `inputs[k]<itemPath> <message>` (k: the item's index in the request), or `message` alone when itemPath is
 * undefined (a problem of the options, shared by every item).
 */
export class ItemFailure {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly itemPath?: string,
  ) {}

  describe(index: number): string {
    return this.itemPath === undefined ? this.message : `inputs[${index}]${this.itemPath} ${this.message}`;
  }
}

/** An error with an HTTP status: the error handler answers with it and with `headers`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
