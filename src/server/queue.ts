// A bounded micro-batching queue for one (model, task). Requests submit their items; the queue
// collects items from concurrent requests for up to `maxWaitMs` (or until `maxBatch` items are
// waiting), runs them in one `run` call, and hands each request its own results back, in order.
// Only items whose options are equal share a batch. A request larger than `maxBatch` is split.
import { HttpError } from './types.ts';

export interface BatchInfo {
  size: number;
  seconds: number;
  ok: boolean;
}

export interface MicroBatcherOptions {
  run: (items: unknown[], options: Record<string, unknown> | undefined) => Promise<unknown[]>;
  /** Most items in one `run` call. */
  maxBatch: number;
  /** How long the first waiting item waits for company before its batch runs. */
  maxWaitMs: number;
  /** Most items waiting (not yet running); a submit beyond that fails with 503. */
  maxQueue: number;
  /** Serialises batches with other queues of the same model (one model runs one batch at a time). */
  lock?: Lock;
  onBatch?: (info: BatchInfo) => void;
}

interface Job {
  items: unknown[];
  options: Record<string, unknown> | undefined;
  key: string;
  /** Items handed to a batch so far. */
  next: number;
  /** Items whose results have not come back yet. */
  outstanding: number;
  results: unknown[];
  done: boolean;
  resolve: (results: unknown[]) => void;
  reject: (err: unknown) => void;
}

interface Slice {
  job: Job;
  start: number;
  count: number;
}

export class QueueFullError extends HttpError {
  constructor(queued: number, retryAfterS: number) {
    super(503, `server busy: ${queued} items already queued; retry after ${retryAfterS} s`, { 'retry-after': String(retryAfterS) });
  }
}

export class TimeoutError extends HttpError {
  constructor(ms: number) {
    super(504, `request timed out: no result within ${ms} ms`);
  }
}

/** A FIFO mutex: `run(fn)` starts fn once every earlier fn has settled. */
export class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class MicroBatcher {
  private readonly waiting: Job[] = [];
  private queued = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Moving average of a batch's duration, for Retry-After. */
  private batchSeconds = 0.05;

  constructor(private readonly o: MicroBatcherOptions) {
    if (o.maxBatch < 1 || o.maxQueue < 1) throw new Error('maxBatch and maxQueue must be at least 1');
  }

  /** Items waiting to run. */
  get queuedItems(): number {
    return this.queued;
  }

  /** Batches in flight (0 or 1 for this queue). */
  get runningBatches(): number {
    return this.running;
  }

  /**
   * Queues the items; resolves with their results in order. Rejects with QueueFullError (503) when the
   * queue cannot take them, TimeoutError (504) after `timeoutMs`, or with the runner's error.
   */
  submit(items: unknown[], options?: Record<string, unknown>, timeoutMs = 0): Promise<unknown[]> {
    if (items.length === 0) return Promise.resolve([]);
    if (this.queued + items.length > this.o.maxQueue) {
      const batchesAhead = Math.ceil((this.queued + items.length) / this.o.maxBatch);
      throw new QueueFullError(this.queued, Math.max(1, Math.ceil(batchesAhead * this.batchSeconds)));
    }
    return new Promise<unknown[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const job: Job = {
        items, options, key: optionsKey(options), next: 0, outstanding: items.length,
        results: new Array(items.length), done: false,
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      if (timeoutMs > 0) timer = setTimeout(() => this.cancel(job, new TimeoutError(timeoutMs)), timeoutMs);
      this.waiting.push(job);
      this.queued += items.length;
      this.schedule();
    });
  }

  /** Resolves once nothing is waiting or running. */
  drain(): Promise<void> {
    if (this.queued === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private cancel(job: Job, err: Error): void {
    if (job.done) return;
    job.done = true;
    const i = this.waiting.indexOf(job);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.queued -= job.items.length - job.next;
    }
    job.reject(err);
    this.notifyIdle();
  }

  private schedule(): void {
    if (this.running > 0 || this.queued === 0) return;
    if (this.queued >= this.o.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.runBatch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.runBatch();
      }, this.o.maxWaitMs);
    }
  }

  /** Takes up to maxBatch waiting items, all with the first waiting job's options. */
  private take(): Slice[] {
    const slices: Slice[] = [];
    const key = this.waiting[0]!.key;
    let room = this.o.maxBatch;
    for (let i = 0; i < this.waiting.length && room > 0; ) {
      const job = this.waiting[i]!;
      if (job.key !== key) {
        i++;
        continue;
      }
      const count = Math.min(room, job.items.length - job.next);
      slices.push({ job, start: job.next, count });
      job.next += count;
      room -= count;
      this.queued -= count;
      if (job.next === job.items.length) this.waiting.splice(i, 1);
      else i++;
    }
    return slices;
  }

  private async runBatch(): Promise<void> {
    if (this.running > 0 || this.waiting.length === 0) return;
    const slices = this.take();
    const options = slices[0]!.job.options;
    this.running++;
    try {
      await this.runSlices(slices, options);
    } finally {
      this.running--;
      // Whatever arrived while this batch ran has waited long enough: run it now.
      if (this.queued > 0) void this.runBatch();
      this.notifyIdle();
    }
  }

  private async runSlices(slices: Slice[], options: Record<string, unknown> | undefined): Promise<void> {
    const items = slices.flatMap((s) => s.job.items.slice(s.start, s.start + s.count));
    const t0 = performance.now();
    let results: unknown[];
    try {
      results = await this.exec(items, options);
    } catch (err) {
      this.o.onBatch?.({ size: items.length, seconds: (performance.now() - t0) / 1000, ok: false });
      // One bad request must not fail the others it was batched with: rerun each on its own.
      if (new Set(slices.map((s) => s.job)).size > 1) {
        for (const s of slices) if (!s.job.done) await this.runSlices([s], options);
      } else {
        for (const s of slices) this.fail(s.job, err);
      }
      return;
    }
    const seconds = (performance.now() - t0) / 1000;
    this.batchSeconds = 0.8 * this.batchSeconds + 0.2 * seconds;
    this.o.onBatch?.({ size: items.length, seconds, ok: true });
    let at = 0;
    for (const s of slices) {
      const job = s.job;
      for (let k = 0; k < s.count; k++) job.results[s.start + k] = results[at + k];
      at += s.count;
      job.outstanding -= s.count;
      if (job.outstanding === 0 && !job.done) {
        job.done = true;
        job.resolve(job.results);
      }
    }
  }

  private async exec(items: unknown[], options: Record<string, unknown> | undefined): Promise<unknown[]> {
    const call = async () => {
      const out = await this.o.run(items, options);
      if (!Array.isArray(out) || out.length !== items.length) {
        throw new Error(`runner returned ${Array.isArray(out) ? out.length : typeof out} results for ${items.length} items`);
      }
      return out;
    };
    return this.o.lock ? this.o.lock.run(call) : call();
  }

  private fail(job: Job, err: unknown): void {
    if (job.done) return;
    this.cancel(job, err instanceof Error ? err : new Error(String(err)));
  }

  private notifyIdle(): void {
    if (this.queued > 0 || this.running > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** The same string for equal options, whatever the order of their keys. */
function optionsKey(options: Record<string, unknown> | undefined): string {
  return options === undefined ? '' : JSON.stringify(canonical(options));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, canonical(obj[k])]));
}
