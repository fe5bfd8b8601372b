// The request body of each task's route, from the task's declaration (src/pipelines/tasks.ts): one input
// or an array of them, and the options under their snake_case names as in Hugging Face's inference API
// (top_k, candidate_labels, ...); and the strings of a request, which the server limits in length.
import { INPUTS, optionsSchema, taskDecl, type Task } from '../pipelines/tasks.ts';
import { snakeName, type JsonSchema } from '../pipelines/options.ts';

/** A request of each task: the document's example, which /docs offers to send as it is. */
export const EXAMPLES: Record<Task, Record<string, unknown>> = {
  'fill-mask': { inputs: ['The [MASK] was over.'], options: { top_k: 2 } },
  'text-classification': { inputs: ['Free entry! Call now.', { text: 'Is it free?', text_pair: 'Yes.' }] },
  'zero-shot-classification': { inputs: ['The match ended 2-1.'], options: { candidate_labels: ['sport', 'politics'] } },
  'token-classification': { inputs: ['The dog ran home.'] },
  'question-answering': { inputs: [{ question: 'Who won?', context: 'The home team won the match.' }] },
  'feature-extraction': { inputs: ['The weather is fine.'] },
  rerank: { inputs: [{ query: 'weather', documents: ['rain today', 'stock prices', 'sunny tomorrow'] }], options: { top_k: 2, return_documents: true } },
};

/** The body schema of `POST /v1/<task>`. */
export function bodySchema(task: Task): JsonSchema {
  const item = INPUTS[taskDecl(task).input].schema;
  const { required, ...rest } = optionsSchema(task);
  // OpenAPI 3.0 takes no empty `required` list.
  const options = (required as string[]).length > 0 ? { ...rest, required } : rest;
  return {
    type: 'object',
    properties: {
      model: { type: 'string', minLength: 1 },
      // An array of inputs, or one input (Hugging Face's inference API takes both). The array comes first:
      // schema-errors.ts reports the error of the alternative the data's shape chose.
      inputs: { anyOf: [{ type: 'array', minItems: 1, items: item }, item], description: 'one input, or a non-empty array of inputs' },
      options,
    },
    required: (required as string[]).length > 0 ? ['inputs', 'options'] : ['inputs'],
    additionalProperties: false,
    // Without it, the page's generated request would send `"model": "string"` (404).
    examples: [EXAMPLES[task]],
  };
}

/** The strings of one input. */
export function inputTexts(task: Task, item: unknown): string[] {
  return INPUTS[taskDecl(task).input].texts(item);
}

/** Rows one input makes when it can make many (rerank: its documents). */
export function inputRows(task: Task, item: unknown): { what: string; count: number } | undefined {
  const kind = INPUTS[taskDecl(task).input];
  return 'rows' in kind ? kind.rows(item) : undefined;
}

/** The strings among a request's options (labels, targets, templates). */
export function optionTexts(task: Task, options: Record<string, unknown>): string[] {
  return taskDecl(task).options.filter((o) => o.kind === 'string' || o.kind === 'strings').flatMap((o) => {
    const v = options[snakeName(o.name)];
    return v === undefined ? [] : Array.isArray(v) ? (v as string[]) : [v as string];
  });
}
