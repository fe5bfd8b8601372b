// TaskRunners over the pipelines of src/pipelines: the server's request items and snake_case options
// become pipeline calls (camelCase options), one call per micro-batch.
import { basename, resolve } from 'node:path';
import { headFromConfig } from '../models/auto.ts';
import { readDebertaConfig } from '../models/deberta/config.ts';
import {
  pipeline, resolveTask, type AnyPipeline, type FillMaskPipeline, type PipelineOptions, type RerankPipeline, type Task,
  type ZeroShotClassificationPipeline,
} from '../pipelines/index.ts';
import type { ServedModel, TaskRunner } from './types.ts';

type Options = Record<string, unknown> | undefined;

/** `top_k` → `topK`, for every key. */
export function camelOptions(o: Options): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

type Call = (items: unknown[], options: Record<string, unknown>) => Promise<unknown[]>;

/** The runner of one task over a loaded pipeline. */
export function pipelineRunner(task: Task, p: AnyPipeline): TaskRunner {
  const call = p as unknown as Call;
  const runner: TaskRunner = {
    task,
    run: (items, options) => call(items, camelOptions(options)),
    dispose: () => p.dispose(),
  };
  if (task === 'fill-mask') {
    const mask = (p as FillMaskPipeline).tokenizer.maskToken;
    runner.validate = (items) => {
      const i = items.findIndex((t) => !(t as string).includes(mask));
      if (i >= 0) throw new Error(`inputs[${i}] has no ${mask} token; write ${mask} where the word to predict goes`);
    };
  } else if (task === 'zero-shot-classification') {
    const zs = p as ZeroShotClassificationPipeline;
    runner.run = (items, options) => {
      const { candidateLabels, ...rest } = camelOptions(options);
      return zs(items as string[], candidateLabels as string[], rest);
    };
    runner.validate = (_items, options) => {
      const template = options?.hypothesis_template as string | undefined;
      if (template !== undefined && !template.includes('{}')) throw new Error(`options.hypothesis_template has no {} where the label goes`);
      const labels = (options?.candidate_labels as string[] | undefined) ?? [];
      if ((options?.multi_label === true || labels.length === 1) && zs.contradictionId === null) {
        throw new Error('this model has no contradiction label, which multi_label and a single candidate label need');
      }
    };
  } else if (task === 'rerank') {
    runner.run = (items, options) => rerank(p as RerankPipeline, items as { query: string; documents: string[] }[], camelOptions(options));
  }
  return runner;
}

/** All items' (query, document) pairs scored in one call, then each item's documents ranked. */
async function rerank(p: RerankPipeline, items: { query: string; documents: string[] }[], o: Record<string, unknown>): Promise<unknown[]> {
  const pairs = items.flatMap((it) => it.documents.map((d): [string, string] => [it.query, d]));
  const scores = await p.score(pairs, { activation: o.activation as 'sigmoid' | 'none' | undefined });
  let at = 0;
  return items.map((it) => {
    const ranked = it.documents
      .map((document, index) => ({ index, score: scores[at + index]!, ...(o.returnDocuments ? { document } : {}) }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
    at += it.documents.length;
    return o.topK === undefined ? ranked : ranked.slice(0, o.topK as number);
  });
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
