// One worker thread of a model's pool (src/server/worker-pool.ts): loads the model's pipelines (its own
// ONNX Runtime session per task; the weights file is mapped, not copied) and runs batches posted to it,
// tokenization included, so the main thread's event loop never waits on a model. With `shareFolder` the
// pool's workers map one model file written there by the first (weights and folded constants), so the
// memory of the weights is shared rather than held once per worker (SessionOptions.shareFolder).
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import '../platform/node.ts'; // a worker thread registers Node's platform (files, onnxruntime-node) for itself
import { pipeline, type AnyPipeline, type PipelineOptions, type Task } from '../pipelines/index.ts';
import { setSessionDefaults } from '../runtime/session.ts';
import { describeRunner, runTask, type RunnerInfo } from './task-runtime.ts';
import { ItemFailure } from './types.ts';

export interface WorkerInit {
  /** The checkpoint folder; null: the task's embedded model. */
  dir: string | null;
  tasks: Task[];
  options: PipelineOptions;
  /**
   * Nice value of this thread (Linux: per thread; ONNX Runtime's threads, created here, inherit it), so
   * that the main thread (health checks, parsing, answers) wins the CPU from inference. 0: unchanged.
   */
  nice?: number;
  /** A folder the pool's workers share model files through (see SessionOptions.shareFolder); none: each its own. */
  shareFolder?: string;
  /** ONNX Runtime's prepacking (SessionOptions.prepack); the pool turns it off whenever it shares weights. */
  prepack?: boolean;
}

export type ToWorker = { type: 'run'; id: number; task: Task; items: unknown[]; options?: Record<string, unknown> } | { type: 'dispose' };

/** An item's outcome as it crosses threads (class instances do not survive structured cloning). */
export type Outcome = { ok: true; value: unknown } | { ok: false; status: number; message: string; itemPath?: string };

export type FromWorker =
  | { type: 'ready'; infos: RunnerInfo[] }
  | { type: 'load-error'; message: string }
  | { type: 'done'; id: number; outcomes: Outcome[] }
  | { type: 'error'; id: number; message: string }
  | { type: 'disposed' };

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  if (init.nice) {
    try {
      setPriority(init.nice); // pid 0: the calling thread on Linux
    } catch {
      // not permitted here: run at the process's priority
    }
  }
  setSessionDefaults({
    ...(init.shareFolder ? { shareFolder: init.shareFolder } : {}),
    ...(init.prepack === undefined ? {} : { prepack: init.prepack }),
  });
  const pipes = new Map<Task, AnyPipeline>();
  try {
    for (const task of init.tasks) pipes.set(task, await pipeline(task, init.dir, init.options));
  } catch (err) {
    for (const p of pipes.values()) await p.dispose();
    port.postMessage({ type: 'load-error', message: (err as Error).message } satisfies FromWorker);
    return;
  }
  port.postMessage({ type: 'ready', infos: [...pipes].map(([task, p]) => describeRunner(task, p)) } satisfies FromWorker);

  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'dispose') {
      void Promise.all([...pipes.values()].map((p) => p.dispose())).finally(() => {
        port.postMessage({ type: 'disposed' } satisfies FromWorker);
        port.close();
      });
      return;
    }
    const p = pipes.get(msg.task)!;
    runTask(msg.task, p, msg.items, msg.options).then((results) => {
      const outcomes = results.map((r): Outcome => (r instanceof ItemFailure
        ? { ok: false, status: r.status, message: r.message, ...(r.itemPath === undefined ? {} : { itemPath: r.itemPath }) }
        : { ok: true, value: r }));
      port.postMessage({ type: 'done', id: msg.id, outcomes } satisfies FromWorker);
    }, (err: unknown) => {
      port.postMessage({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) } satisfies FromWorker);
    });
  });
}

void main();
