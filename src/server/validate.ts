// Checks of a request against the model that will run it, on the main thread before the request is
// queued: what the JSON schema cannot say (an empty target, a stride the model's length cannot take), as
// the task declares it (src/pipelines/tasks.ts). Each failure is a 422 whose message names the field.
import { optionsProblem, taskDecl, type RunnerInfo, type Task } from '../pipelines/tasks.ts';
import { camelOptions } from './task-runtime.ts';
import { HttpError } from './types.ts';

type Options = Record<string, unknown> | undefined;

/** The request's options checked as its task declares them (any runner, the model not needed). */
export function checkOptions(task: string, options: Options): void {
  const problem = optionsProblem(task as Task, camelOptions(options));
  if (problem) throw new HttpError(422, problem);
}

export function validateRequest(info: RunnerInfo, items: unknown[], options: Options): void {
  checkOptions(info.task, options);
  try {
    taskDecl(info.task as Task).validate?.(info, items, camelOptions(options));
  } catch (err) {
    throw new HttpError(422, (err as Error).message);
  }
}
