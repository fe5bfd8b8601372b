// Task names and the aliases transformers (and this CLI) accept for them.

export const TASKS = [
  'fill-mask', 'text-classification', 'zero-shot-classification', 'token-classification', 'question-answering',
  'feature-extraction', 'rerank',
] as const;
export type Task = (typeof TASKS)[number];

export const TASK_ALIASES = {
  'sentiment-analysis': 'text-classification',
  classify: 'text-classification',
  'zero-shot': 'zero-shot-classification',
  ner: 'token-classification',
  qa: 'question-answering',
  embeddings: 'feature-extraction',
  embed: 'feature-extraction',
  'text-ranking': 'rerank',
} as const satisfies Record<string, Task>;
export type TaskAlias = keyof typeof TASK_ALIASES;

/** The task a name or alias stands for; an unknown name fails with the list of names. */
export function resolveTask(name: string): Task {
  if ((TASKS as readonly string[]).includes(name)) return name as Task;
  const alias = (TASK_ALIASES as Record<string, Task>)[name];
  if (alias) return alias;
  const aliases = Object.entries(TASK_ALIASES).map(([a, t]) => `${a} (${t})`).join(', ');
  throw new Error(`unknown task ${JSON.stringify(name)}: expected one of ${TASKS.join(', ')}, or an alias: ${aliases}`);
}
