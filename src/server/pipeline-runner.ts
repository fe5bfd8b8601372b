// TaskRunners over the pipelines of src/pipelines, loaded on the calling thread (src/server/worker-pool.ts
// loads them on worker threads instead), and the parsing of `--model` specs.
import { basename, resolve } from 'node:path';
import { headFromConfig } from '../models/auto.ts';
import { readDebertaConfig } from '../models/deberta/config-file.ts';
import { pipeline, resolveTask, type AnyPipeline, type PipelineOptions, type Task } from '../pipelines/index.ts';
import { describeRunner, runTask } from './task-runtime.ts';
import type { ServedModel, TaskRunner } from './types.ts';
import { validateRequest } from './validate.ts';

export { camelOptions } from './task-runtime.ts';

/** The runner of one task over a pipeline loaded on this thread (the library and tests; `deberta serve` uses worker threads). */
export function pipelineRunner(task: Task, p: AnyPipeline): TaskRunner {
  const info = describeRunner(task, p);
  return {
    task,
    info,
    run: (items, options) => runTask(task, p, items, options),
    validate: (items, options) => validateRequest(info, items, options),
    dispose: () => p.dispose(),
  };
}

/** The task a checkpoint serves when none is named: the one its head is for. */
export function defaultTask(dir: string): Task {
  const config = readDebertaConfig(dir);
  const head = headFromConfig(config);
  switch (head) {
    case 'base': return 'feature-extraction';
    case 'masked-lm': return 'fill-mask';
    case 'token-classification': return 'token-classification';
    case 'question-answering': return 'question-answering';
    case 'sequence-classification': {
      const labels = Object.keys(config.label2id).map((l) => l.toLowerCase());
      if (labels.some((l) => l.startsWith('entail'))) return 'zero-shot-classification';
      return 'text-classification';
    }
    default:
      throw new Error(`${dir}: a ${config.architectures[0]} checkpoint serves no task here; name one with --model NAME:TASK=DIR`);
  }
}

export interface ModelSpec {
  name: string;
  dir: string;
  /** Default: the task of the checkpoint's head. */
  tasks?: string[];
}

/**
 * Parses `--model` values: `DIR`, `NAME=DIR` or `NAME:TASK[,TASK...]=DIR` (tasks may be aliases, e.g. ner).
 * A bare DIR is named after its folder.
 */
export function parseModelSpec(value: string): ModelSpec {
  const m = /^([A-Za-z0-9._-]+)(?::([A-Za-z0-9,_-]+))?=(.+)$/.exec(value);
  if (!m) return { name: basename(resolve(value)), dir: value };
  return { name: m[1]!, dir: m[3]!, ...(m[2] ? { tasks: m[2].split(',').filter(Boolean) } : {}) };
}

/** Loads one pipeline per task of the model. */
export async function loadServedModel(spec: ModelSpec, options: PipelineOptions = {}): Promise<ServedModel> {
  const tasks = (spec.tasks ?? [defaultTask(spec.dir)]).map((t) => resolveTask(t));
  const runners: TaskRunner[] = [];
  try {
    for (const task of new Set(tasks)) runners.push(pipelineRunner(task, await pipeline(task, spec.dir, options)));
  } catch (err) {
    await Promise.all(runners.map((r) => r.dispose?.()));
    throw err;
  }
  return { name: spec.name, source: resolve(spec.dir), runners };
}
