// The request body of each task: JSON schemas for one input item and for the task's options, and the
// strings of an item (for the text-length limit). Names follow Hugging Face's inference API
// (snake_case options: top_k, candidate_labels, ...).

export type JsonSchema = Record<string, unknown>;

export interface TaskSpec {
  /** One entry of `inputs`. */
  item: JsonSchema;
  /** The `options` object (absent: no options). */
  options: JsonSchema;
  /** The strings of one item whose length the server limits. */
  texts(item: unknown): string[];
  /** Strings in the options whose length the server limits too (e.g. candidate labels). */
  optionTexts?(options: Record<string, unknown>): string[];
}

const str = { type: 'string' } as const;
const topK = { type: 'integer', minimum: 1, maximum: 100 } as const;

function object(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false };
}

const asString = (item: unknown): string[] => [item as string];

export const TASKS: Record<string, TaskSpec> = {
  'fill-mask': {
    item: str,
    options: object({ top_k: topK }),
    texts: asString,
  },
  'text-classification': {
    item: {
      anyOf: [str, object({ text: str, text_pair: str }, ['text'])],
      description: 'a string or an object {"text": string, "text_pair"?: string}',
    },
    options: object({ top_k: topK, function_to_apply: { enum: ['softmax', 'sigmoid', 'none'] } }),
    texts: (item) => (typeof item === 'string' ? [item] : Object.values(item as Record<string, string>)),
  },
  'zero-shot-classification': {
    item: str,
    options: object({
      candidate_labels: { type: 'array', items: str, minItems: 1, maxItems: 100 },
      hypothesis_template: str,
      multi_label: { type: 'boolean' },
    }, ['candidate_labels']),
    texts: asString,
    optionTexts: (o) => [...((o.candidate_labels as string[] | undefined) ?? []), ...(o.hypothesis_template ? [o.hypothesis_template as string] : [])],
  },
  'token-classification': {
    item: str,
    options: object({ aggregation_strategy: { enum: ['none', 'simple', 'first', 'average', 'max'] } }),
    texts: asString,
  },
  'question-answering': {
    item: object({ question: str, context: str }, ['question', 'context']),
    options: object({ top_k: topK, max_answer_len: { type: 'integer', minimum: 1, maximum: 512 } }),
    texts: (item) => { const q = item as { question: string; context: string }; return [q.question, q.context]; },
  },
  'feature-extraction': {
    item: str,
    options: object({ pooling: { enum: ['none', 'mean', 'cls'] }, normalize: { type: 'boolean' } }),
    texts: asString,
  },
  rerank: {
    item: object({ query: str, document: str }, ['query', 'document']),
    options: object({}),
    texts: (item) => { const r = item as { query: string; document: string }; return [r.query, r.document]; },
  },
};

/** The body schema of `POST /v1/<task>`. */
export function bodySchema(spec: TaskSpec): JsonSchema {
  const required = ['inputs'];
  if ((spec.options.required as string[] | undefined)?.length) required.push('options');
  return object({
    model: { type: 'string', minLength: 1 },
    inputs: { type: 'array', minItems: 1, items: spec.item },
    options: spec.options,
  }, required);
}
