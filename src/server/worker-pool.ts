// A model served by a pool of worker threads: each worker loads the checkpoint's pipelines with its own
// ONNX Runtime sessions and runs whole batches (tokenization, model, post-processing); the main thread
// only posts items and receives results. A worker that dies fails its batch (500) and is replaced; the
// model reports not ready until the replacement has loaded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { resolveTask, type PipelineOptions, type Task } from '../pipelines/index.ts';
import type { RunnerInfo } from './task-runtime.ts';
import { ItemFailure, type ServedModel, type TaskRunner } from './types.ts';
import { validateRequest } from './validate.ts';
import type { FromWorker, Outcome, ToWorker, WorkerInit } from './worker.ts';

/** The worker module, with this module's extension: .ts under tsx, .js once compiled. */
const WORKER_URL = new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

function spawnWorker(init: WorkerInit): Worker {
  if (!WORKER_URL.pathname.endsWith('.ts')) return new Worker(WORKER_URL, { workerData: init });
  // Node does not hand tsx's module hooks to worker threads: register them in the worker first.
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}

interface Pending {
  resolve: (results: unknown[]) => void;
  reject: (err: Error) => void;
}

class Slot {
  worker!: Worker;
  busy = false;
  up = false;
  pending = new Map<number, Pending>();
}

export interface PoolOptions extends PipelineOptions {
  /** Worker threads, each with its own sessions (default 1). */
  workers?: number;
  /** Nice value of the worker threads and the inference threads they start (default 10; 0: the process's own). */
  nice?: number;
  /**
   * With more than one worker, share the weights between them (default true): the first writes the model
   * with its folded constants to a temporary folder, which every worker maps (SessionOptions.shareFolder).
   */
  shareWeights?: boolean;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly waiters: (() => void)[] = [];
  private nextId = 1;
  private disposing = false;
  private disposed: Promise<void> | undefined;
  infos: RunnerInfo[] = [];

  constructor(private readonly init: WorkerInit, readonly size: number) {}

  /** Starts every worker; resolves once all have loaded (or rejects with the first load error). */
  async start(): Promise<void> {
    for (let i = 0; i < this.size; i++) this.slots.push(new Slot());
    try {
      // Sharing: the first worker writes the shared model file, then the others map it.
      if (this.init.shareFolder) await this.boot(this.slots[0]!);
      await Promise.all(this.slots.map((s) => (s.up ? undefined : this.boot(s))));
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /** All workers loaded and alive. */
  get ready(): boolean {
    return !this.disposing && this.slots.every((s) => s.up);
  }

  get workersUp(): number {
    return this.slots.filter((s) => s.up).length;
  }

  private boot(slot: Slot): Promise<void> {
    slot.up = false;
    slot.busy = false;
    const worker = spawnWorker(this.init);
    slot.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let loaded = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'ready':
            loaded = true;
            slot.up = true;
            this.infos = msg.infos;
            this.dropSharedFiles();
            resolve();
            this.wake();
            break;
          case 'load-error':
            reject(new Error(msg.message));
            void worker.terminate();
            break;
          case 'done':
          case 'error': {
            const p = slot.pending.get(msg.id);
            slot.pending.delete(msg.id);
            slot.busy = false;
            if (msg.type === 'done') p?.resolve(msg.outcomes.map(fromOutcome));
            else p?.reject(new Error(msg.message));
            this.wake();
            break;
          }
          case 'disposed':
            break;
        }
      });
      worker.on('error', (err) => {
        if (!loaded) reject(err);
      });
      worker.on('exit', (code) => {
        slot.up = false;
        for (const p of slot.pending.values()) p.reject(new Error(`worker thread exited (code ${code}) during the run`));
        slot.pending.clear();
        slot.busy = false;
        if (!loaded) {
          reject(new Error(`worker thread exited (code ${code}) while loading`));
          return;
        }
        // A crash: replace the worker so the model keeps its capacity.
        if (!this.disposing) this.boot(slot).catch(() => undefined);
      });
    });
  }

  /**
   * Once every worker has loaded, the shared model file is mapped by all of them and can go (Linux keeps
   * a mapped file until it is unmapped), so a process that dies leaves nothing in the temporary folder.
   * A replacement worker writes it again.
   */
  private dropSharedFiles(): void {
    if (!this.init.shareFolder || !this.slots.every((s) => s.up)) return;
    try {
      rmSync(this.init.shareFolder, { recursive: true, force: true });
    } catch {
      // still in use where mapped files cannot be removed: removed on dispose
    }
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.slots.some((s) => s.up && !s.busy)) this.waiters.shift()!();
  }

  /** Runs one batch on an idle worker (waiting for one when all are busy). */
  async run(task: Task, items: unknown[], options?: Record<string, unknown>): Promise<unknown[]> {
    let slot = this.slots.find((s) => s.up && !s.busy);
    while (!slot) {
      if (this.disposing) throw new Error('the model is shutting down');
      await new Promise<void>((r) => this.waiters.push(r));
      slot = this.slots.find((s) => s.up && !s.busy);
    }
    slot.busy = true;
    const id = this.nextId++;
    return new Promise<unknown[]>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ type: 'run', id, task, items, options } satisfies ToWorker);
    });
  }

  /** Stops every worker; calling it again returns the same promise (an exited worker emits no second 'exit'). */
  dispose(): Promise<void> {
    this.disposed ??= this.stopWorkers();
    return this.disposed;
  }

  private async stopWorkers(): Promise<void> {
    this.disposing = true;
    for (const w of this.waiters.splice(0)) w();
    await Promise.all(this.slots.map(async (s) => {
      if (!s.worker) return;
      const exited = new Promise<void>((r) => s.worker.once('exit', () => r()));
      if (s.up) s.worker.postMessage({ type: 'dispose' } satisfies ToWorker);
      else void s.worker.terminate();
      // A worker that does not stop within 10 s is terminated.
      const timer = setTimeout(() => void s.worker.terminate(), 10_000);
      await exited;
      clearTimeout(timer);
    }));
    if (this.init.shareFolder) rmSync(this.init.shareFolder, { recursive: true, force: true });
  }
}

function fromOutcome(o: Outcome): unknown {
  return o.ok ? o.value : new ItemFailure(o.status, o.message, o.itemPath);
}

/** Loads a checkpoint's tasks on `workers` worker threads; the model runs that many batches at once. */
export async function loadPooledModel(spec: { name: string; dir: string | null; tasks: string[] }, options: PoolOptions = {}): Promise<ServedModel & { pool: WorkerPool }> {
  const { workers = 1, nice = 10, shareWeights = true, ...pipelineOptions } = options;
  const tasks = [...new Set(spec.tasks.map((t) => resolveTask(t)))];
  const shareFolder = workers > 1 && shareWeights ? mkdtempSync(join(tmpdir(), 'deberta-pool-')) : undefined;
  // Shared sessions skip prepacking; a lone worker skips it too, so that results never depend on --workers.
  const pool = new WorkerPool({ dir: spec.dir, tasks, options: pipelineOptions, nice, ...(shareFolder ? { shareFolder } : {}), ...(shareWeights ? { prepack: false } : {}) }, workers);
  await pool.start();
  const runners: TaskRunner[] = tasks.map((task) => {
    const info = pool.infos.find((i) => i.task === task)!;
    return {
      task, info,
      run: (items, opts) => pool.run(task, items, opts),
      validate: (items, opts) => validateRequest(info, items, opts),
    };
  });
  return { name: spec.name, source: spec.dir ?? `the embedded ${tasks.join(', ')} model`, runners, concurrency: workers, ready: () => pool.ready, dispose: () => pool.dispose(), pool };
}
