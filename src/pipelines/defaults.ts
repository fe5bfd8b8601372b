// The models shipped in the package's models/ folder, by task: what `pipeline(task)` and the CLI use when
// no model folder is given.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Task } from './tasks.ts';

/** The package's models/ folder. */
export const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

export const DEFAULT_MODELS: Partial<Record<Task, string>> = {
  'fill-mask': 'deberta-v3-brown-small',
  'feature-extraction': 'deberta-v3-brown-small',
  'text-classification': 'deberta-v3-brown-small-spam',
  'token-classification': 'deberta-v3-brown-small-pos',
};

/** The embedded model folder of `task`; fails naming the folder (or the lack of one) and the --model flag. */
export function defaultModelDir(task: Task): string {
  const name = DEFAULT_MODELS[task];
  if (!name) {
    throw new Error(`${task}: there is no embedded default model for this task; give a checkpoint folder (--model <dir>, or pipeline('${task}', dir))`);
  }
  const dir = join(MODELS_DIR, name);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new Error(`${task}: the embedded default model ${dir} is missing (not built yet?); give a checkpoint folder with --model <dir> (or pipeline('${task}', dir))`);
  }
  return dir;
}
