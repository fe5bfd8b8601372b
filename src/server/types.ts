// What the server runs: one TaskRunner per (model, task). A runner takes a batch of items (already
// validated against the task's request schema) and returns one result per item, in input order.

export interface TaskRunner {
  task: string;
  /** `options` are the request's task options; the server only batches items whose options are equal. */
  run(items: unknown[], options?: Record<string, unknown>): Promise<unknown[]>;
  /** Checks one request before it is queued; what it throws is answered 422 with its message. */
  validate?(items: unknown[], options?: Record<string, unknown>): void;
  dispose?(): Promise<void>;
}

export interface ServedModel {
  name: string;
  /** Where it was loaded from (for logs; not sent to clients). */
  source?: string;
  runners: TaskRunner[];
  dispose?(): Promise<void>;
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
