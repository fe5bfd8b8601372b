// The models shipped in the package's models/ folder, by task: what `pipeline(task)` and the CLI use when
// no model is given (Node; the browser build ships none).
import { platform } from '../platform/index.ts';
import type { Task } from './tasks.ts';

export const DEFAULT_MODELS: Partial<Record<Task, string>> = {
  'fill-mask': 'deberta-v3-brown-small',
  'feature-extraction': 'deberta-v3-brown-small',
  'text-classification': 'deberta-v3-brown-small-spam',
  'token-classification': 'deberta-v3-brown-small-pos',
};

/** Hub models a user could name for the tasks with no embedded model (the error says so). */
const HUB_EXAMPLES: Partial<Record<Task, string>> = {
  'zero-shot-classification': 'cross-encoder/nli-deberta-v3-xsmall',
  'question-answering': 'deepset/deberta-v3-base-squad2',
  rerank: 'mixedbread-ai/mxbai-rerank-xsmall-v1',
};

const nameOne = (task: Task) =>
  `name a model (--model <Hub id, dir or URL>, or pipeline('${task}', model))${HUB_EXAMPLES[task] ? `, e.g. ${HUB_EXAMPLES[task]}` : ''}`;

/** The embedded model folder of `task`; fails naming the model (or the lack of one) and the --model flag. */
export function defaultModelDir(task: Task): string {
  const name = DEFAULT_MODELS[task];
  if (!name) {
    throw new Error(`${task}: there is no embedded default model for this task; ${nameOne(task)}`);
  }
  const p = platform();
  const dir = p.embeddedModel?.(name);
  if (!dir) {
    const why = p.embeddedModel ? 'is missing from the package (not built yet?)' : `is not shipped to ${p.name}s`;
    throw new Error(`${task}: the embedded default model ${name} ${why}; ${nameOne(task)}`);
  }
  return dir;
}
