// The request body of each task: JSON schemas for one input item and for the task's options, and the
// strings of an item (for the text-length limit). Option names are snake_case as in Hugging Face's
// inference API (top_k, candidate_labels, ...); the pipeline adapter turns them into camelCase.

export type JsonSchema = Record<string, unknown>;

export interface TaskSpec {
  /** One entry of `inputs`. */
  item: JsonSchema;
  /** The `options` object. */
  options: JsonSchema;
  /** The strings of one item whose length the server limits. */
  texts(item: unknown): string[];
  /** Strings in the options whose length the server limits too (labels, targets, templates). */
  optionTexts?(options: Record<string, unknown>): string[];
  /** Rows one item makes, when it can make many (rerank: its documents); limited like inputs. */
  rows?(item: unknown): { what: string; count: number };
}

const str = { type: 'string' } as const;
const strings = (max: number) => ({ type: 'array', items: str, minItems: 1, maxItems: max });
const positive = (max: number) => ({ type: 'integer', minimum: 1, maximum: max });
const nonNegative = (max: number) => ({ type: 'integer', minimum: 0, maximum: max });
const bool = { type: 'boolean' } as const;

function object(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false };
}

const asString = (item: unknown): string[] => [item as string];
const listed = (...keys: string[]) => (o: Record<string, unknown>): string[] =>
  keys.flatMap((k) => (o[k] === undefined ? [] : Array.isArray(o[k]) ? (o[k] as string[]) : [o[k] as string]));

export const TASKS: Record<string, TaskSpec> = {
  'fill-mask': {
    item: str,
    options: object({ top_k: positive(100), targets: strings(100) }),
    texts: asString,
    optionTexts: listed('targets'),
  },
  'text-classification': {
    item: {
      anyOf: [str, object({ text: str, text_pair: str }, ['text'])],
      description: 'a string or an object {"text": string, "text_pair"?: string}',
    },
    options: object({
      top_k: { anyOf: [positive(1000), { type: 'null' }], description: 'a positive integer, or null for every label' },
      function_to_apply: { enum: ['softmax', 'sigmoid', 'none'] },
    }),
    texts: (item) => (typeof item === 'string' ? [item] : Object.values(item as Record<string, string>)),
  },
  'zero-shot-classification': {
    item: str,
    options: object({ candidate_labels: strings(100), hypothesis_template: str, multi_label: bool }, ['candidate_labels']),
    texts: asString,
    optionTexts: listed('candidate_labels', 'hypothesis_template'),
  },
  'token-classification': {
    item: str,
    options: object({
      aggregation_strategy: { enum: ['none', 'simple', 'first', 'average', 'max'] },
      ignore_labels: { type: 'array', items: str, maxItems: 100 },
      stride: nonNegative(4096),
    }),
    texts: asString,
    optionTexts: listed('ignore_labels'),
  },
  'question-answering': {
    item: object({ question: str, context: str }, ['question', 'context']),
    options: object({
      top_k: positive(100), max_answer_len: positive(512), max_seq_len: positive(4096), doc_stride: nonNegative(4096),
      handle_impossible_answer: bool,
    }),
    texts: (item) => { const q = item as { question: string; context: string }; return [q.question, q.context]; },
  },
  'feature-extraction': {
    item: str,
    options: object({ pooling: { enum: ['mean', 'cls', 'none'] }, normalize: bool }),
    texts: asString,
  },
  rerank: {
    item: object({ query: str, documents: { type: 'array', items: str, minItems: 1 } }, ['query', 'documents']),
    options: object({ top_k: positive(10_000), return_documents: bool, activation: { enum: ['sigmoid', 'none'] } }),
    texts: (item) => { const r = item as { query: string; documents: string[] }; return [r.query, ...r.documents]; },
    rows: (item) => ({ what: 'documents', count: (item as { documents: string[] }).documents.length }),
  },
};

/** The body schema of `POST /v1/<task>`. */
export function bodySchema(spec: TaskSpec): JsonSchema {
  const required = ['inputs'];
  if ((spec.options.required as string[] | undefined)?.length) required.push('options');
  return object({
    model: { type: 'string', minLength: 1 },
    // An array of inputs, or one input (Hugging Face's inference API takes both). The array comes first:
    // schema-errors.ts reports the error of the alternative the data's shape chose.
    inputs: {
      anyOf: [{ type: 'array', minItems: 1, items: spec.item }, spec.item],
      description: 'one input, or a non-empty array of inputs',
    },
    options: spec.options,
  }, required);
}
