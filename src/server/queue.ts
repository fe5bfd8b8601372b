// A bounded micro-batching queue for one (model, task). Requests submit their items; the queue
// collects items from concurrent requests for up to `maxWaitMs` (or until `maxBatch` items are
// waiting), runs them in one `run` call, and hands each request its own results back, in order.
// Only items whose options are equal share a batch. A request larger than `maxBatch` is split.
// Items are taken from the queue only when the model has a free slot (a worker thread), so a request
// cancelled while it waits (its client went away, its time ran out) never reaches the model.
import { HttpError, ItemFailure } from './types.ts';

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
  /**
   * The model's run slots, shared with the model's other queues: a batch runs only while it holds one
   * (default: a slot of its own, so one batch at a time).
   */
  lock?: Slots;
  onBatch?: (info: BatchInfo) => void;
  /** An input of a run could not be answered (an ItemFailure): its request fails with `status`. */
  onItemFailure?: (status: number) => void;
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

/** The client closed its connection before the answer: nobody is left to answer (logged as 499). */
export class ClientGoneError extends HttpError {
  constructor() {
    super(499, 'client closed the connection');
  }
}

/** A FIFO counting semaphore: `acquire()` resolves with a release function once one of `n` slots is free. */
export class Slots {
  private free: number;
  private readonly waiters: ((release: () => void) => void)[] = [];

  constructor(readonly n: number) {
    if (!(n >= 1)) throw new Error('a model needs at least one slot');
    this.free = n;
  }

  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      if (this.free > 0) {
        this.free--;
        resolve(this.releaser());
      } else {
        this.waiters.push(resolve);
      }
    });
  }

  /** Runs fn while holding a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) next(this.releaser());
      else this.free++;
    };
  }
}

/** One slot: one batch at a time. */
export class Lock extends Slots {
  constructor() {
    super(1);
  }
}

export class MicroBatcher {
  private readonly waiting: Job[] = [];
  private queued = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A slot has been asked for and not yet granted. */
  private acquiring = false;
  /** The maxWaitMs timer has fired (or maxBatch items wait): the next slot runs a batch at once. */
  private due = false;
  private idleWaiters: (() => void)[] = [];
  private readonly slots: Slots;
  /** Moving average of a batch's duration, for Retry-After. */
  private batchSeconds = 0.05;

  constructor(private readonly o: MicroBatcherOptions) {
    if (o.maxBatch < 1 || o.maxQueue < 1) throw new Error('maxBatch and maxQueue must be at least 1');
    this.slots = o.lock ?? new Slots(1);
  }

  /** Items waiting to run. */
  get queuedItems(): number {
    return this.queued;
  }

  /** Batches in flight. */
  get runningBatches(): number {
    return this.running;
  }

  /** Whether `n` more items would be refused. */
  wouldRefuse(n = 1): boolean {
    return this.queued + n > this.o.maxQueue;
  }

  /** Seconds a client should wait before retrying, from the queue's length and recent batch times. */
  retryAfter(extra = 0): number {
    const batchesAhead = Math.ceil((this.queued + extra) / this.o.maxBatch / this.slots.n);
    return Math.max(1, Math.ceil(batchesAhead * this.batchSeconds));
  }

  /**
   * Queues the items; resolves with their results in order. Rejects with QueueFullError (503) when the
   * queue cannot take them, TimeoutError (504) after `timeoutMs`, ClientGoneError when `signal` aborts,
   * or with the runner's error. A cancelled request's items that have not started leave the queue.
   */
  submit(items: unknown[], options?: Record<string, unknown>, timeoutMs = 0, signal?: AbortSignal): Promise<unknown[]> {
    if (items.length === 0) return Promise.resolve([]);
    if (signal?.aborted) return Promise.reject(new ClientGoneError());
    if (this.wouldRefuse(items.length)) throw new QueueFullError(this.queued, this.retryAfter(items.length));
    return new Promise<unknown[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => this.cancel(job, new ClientGoneError());
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const job: Job = {
        items, options, key: optionsKey(options), next: 0, outstanding: items.length,
        results: new Array(items.length), done: false,
        resolve: (r) => { settle(); resolve(r); },
        reject: (e) => { settle(); reject(e); },
      };
      if (timeoutMs > 0) timer = setTimeout(() => this.cancel(job, new TimeoutError(timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
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
    if (this.queued === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.due = false;
    }
    this.notifyIdle();
  }

  /**
   * A batch is due when maxBatch items wait or the first waiting item has waited maxWaitMs. A due batch
   * asks for a slot; items are taken from the queue only once the slot is granted.
   */
  private schedule(): void {
    if (this.queued === 0) return;
    if (this.queued >= this.o.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.due = true;
    } else if (!this.due && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.due = true;
        this.schedule();
      }, this.o.maxWaitMs);
    }
    if (this.due && !this.acquiring) {
      this.acquiring = true;
      void this.slots.acquire().then((release) => {
        this.acquiring = false;
        void this.runBatch(release);
      });
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

  private async runBatch(release: () => void): Promise<void> {
    if (this.waiting.length === 0) {
      // Everything waiting was cancelled while the slot was on its way.
      release();
      this.due = false;
      this.notifyIdle();
      return;
    }
    const slices = this.take();
    const options = slices[0]!.job.options;
    this.running++;
    // Whatever is still waiting has waited long enough: it runs on the next free slot.
    this.due = this.queued > 0;
    if (this.due) this.schedule();
    try {
      await this.runSlices(slices, options);
    } finally {
      release();
      this.running--;
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
      for (let k = 0; k < s.count; k++) {
        const r = results[at + k];
        if (r instanceof ItemFailure) {
          // This item cannot be answered: its request fails; the other requests keep their results.
          this.o.onItemFailure?.(r.status);
          this.fail(job, new HttpError(r.status, r.describe(s.start + k)));
          break;
        }
        job.results[s.start + k] = r;
      }
      at += s.count;
      job.outstanding -= s.count;
      if (job.outstanding === 0 && !job.done) {
        job.done = true;
        job.resolve(job.results);
      }
    }
  }

  private async exec(items: unknown[], options: Record<string, unknown> | undefined): Promise<unknown[]> {
    const out = await this.o.run(items, options);
    if (!Array.isArray(out) || out.length !== items.length) {
      throw new Error(`runner returned ${Array.isArray(out) ? out.length : typeof out} results for ${items.length} items`);
    }
    return out;
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
