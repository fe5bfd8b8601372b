// What runs a batch of one task over a loaded pipeline, wherever it runs (a worker thread or the calling
// thread): the request's snake_case options become the pipeline's camelCase ones, the task's declaration
// (src/pipelines/tasks.ts) runs the batch with one result per input, inputs the model cannot take are
// found before the run (each fails alone, 422), and a run that fails is retried input by input so that
// only the inputs that fail lose their results. `describeRunner` gives the facts the main thread needs
// to validate requests without a tokenizer of its own.
import { taskDecl, type AnyPipeline, type RunnerInfo, type Task } from '../pipelines/index.ts';
import { ItemFailure } from './types.ts';

export type { RunnerInfo } from '../pipelines/index.ts';

type Options = Record<string, unknown> | undefined;

/** `top_k` → `topK`, for every key. */
export function camelOptions(o: Options): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

export function describeRunner(task: Task, p: AnyPipeline): RunnerInfo {
  const post = p.tokenizer.pipeline.postProcessor;
  const info: RunnerInfo = {
    task, maxLength: p.maxLength, addedSingle: post?.addedTokens(false) ?? 0, addedPair: post?.addedTokens(true) ?? 0,
  };
  const id2label = p.model.config.id2label as Record<number, string> | undefined;
  if (id2label && Object.keys(id2label).length > 0) info.labels = Object.values(id2label);
  return { ...info, ...taskDecl(task).describe?.(p) };
}

/**
 * Checks that need the tokenizer, before the run: an option the model cannot use fails every item (they
 * share options); an input it cannot take fails alone. Returns one failure or undefined per item.
 */
export function precheck(task: Task, p: AnyPipeline, items: unknown[], options: Options): (ItemFailure | undefined)[] {
  const found = taskDecl(task).precheck?.(p, items, camelOptions(options)) ?? [];
  return items.map((_, i) => (found[i] ? new ItemFailure(422, found[i].message, found[i].itemPath) : undefined));
}

/**
 * Runs the items; a failed item's place holds an ItemFailure. A failing run is retried item by item, so a
 * bad input costs its own request only.
 */
export async function runTask(task: Task, p: AnyPipeline, items: unknown[], options: Options): Promise<unknown[]> {
  const out: unknown[] = precheck(task, p, items, options);
  const todo = items.map((_, i) => i).filter((i) => out[i] === undefined);
  if (todo.length === 0) return out;
  const call = (some: unknown[]) => taskDecl(task).run(p, some, camelOptions(options));
  try {
    const got = await call(todo.map((i) => items[i]));
    todo.forEach((i, k) => { out[i] = got[k]; });
  } catch (err) {
    if (todo.length === 1) {
      out[todo[0]!] = failed(err);
    } else {
      for (const i of todo) {
        try {
          out[i] = (await call([items[i]]))[0];
        } catch (e) {
          out[i] = failed(e);
        }
      }
    }
  }
  return out;
}

function failed(err: unknown): ItemFailure {
  return new ItemFailure(500, `inference failed: ${err instanceof Error ? err.message : String(err)}`, ':');
}
