// The tasks, each declared once: its name and aliases, what one input is, its options (type, default,
// checks, the command line's flag, the server's limits), how a batch of inputs runs with one result per
// input (what the server and the command line answer), and the checks of a request against a loaded
// model. The pipelines read their options through it, the server builds its routes, JSON schemas and
// request checks from it, and the command line its task commands (src/cli/commands/tasks.ts).
import type { AnyPipeline, PipelineByTask } from './index.ts';
import type { FillMaskOutput } from './fill-mask.ts';
import type { ClassificationResult, TextClassificationInput } from './text-classification.ts';
import type { ZeroShotResult } from './zero-shot.ts';
import type { TokenClassificationOutput } from './token-classification.ts';
import type { QuestionAnsweringInput, QuestionAnsweringOutput } from './question-answering.ts';
import type { RerankInput, RerankResult } from './rerank.ts';
import { noBlankEntries, optionProblem, optionSchema, readOptions, RUN_OPTIONS, snakeName, type JsonSchema, type OptionSpec } from './options.ts';

export const FUNCTIONS_TO_APPLY = ['softmax', 'sigmoid', 'none'] as const;
export type FunctionToApply = (typeof FUNCTIONS_TO_APPLY)[number];
export const AGGREGATION_STRATEGIES = ['none', 'simple', 'first', 'average', 'max'] as const;
export type AggregationStrategy = (typeof AGGREGATION_STRATEGIES)[number];
/** 'first_token' is transformers.js' name for 'cls'. */
export const POOLINGS = ['none', 'mean', 'cls', 'first_token'] as const;
export type Pooling = (typeof POOLINGS)[number];
export const ACTIVATIONS = ['sigmoid', 'none'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export const DEFAULT_TEMPLATE = 'This example is {}.';

/** What checking a request needs to know of a loaded pipeline (plain data: it crosses threads). */
export interface RunnerInfo {
  task: string;
  /** Longest row in tokens. */
  maxLength: number;
  /** Special tokens the tokenizer adds to one text, and to a pair. */
  addedSingle: number;
  addedPair: number;
  maskToken?: string;
  /** zero-shot: whether the model has a contradiction label (multi_label and single labels need one). */
  hasContradiction?: boolean;
  /** The model's labels, by class index (classification heads). */
  labels?: string[];
}

/** An input the model cannot take, found with its tokenizer: `inputs[k]<itemPath> <message>`, or the message alone (an option's fault). */
export interface ItemProblem {
  message: string;
  itemPath?: string;
}

/** What one input of a task is, in a request. */
export interface InputKind {
  schema: JsonSchema;
  /** Its strings (the server limits their length). */
  texts(item: unknown): string[];
  /** Rows one input makes when it can make many (rerank: its documents); limited like inputs. */
  rows?(item: unknown): { what: string; count: number };
}

const str = { type: 'string' } as const;
const object = (properties: Record<string, JsonSchema>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });

export const INPUTS = {
  text: { schema: str, texts: (item: unknown) => [item as string] },
  'text-pair': {
    schema: { anyOf: [str, object({ text: str, text_pair: str }, ['text'])], description: 'a string or an object {"text": string, "text_pair"?: string}' },
    texts: (item: unknown) => (typeof item === 'string' ? [item] : Object.values(item as Record<string, string>)),
  },
  'question-context': {
    schema: object({ question: str, context: str }, ['question', 'context']),
    texts: (item: unknown) => { const q = item as QuestionAnsweringInput; return [q.question, q.context]; },
  },
  'query-documents': {
    schema: object({ query: str, documents: { type: 'array', items: str, minItems: 1 } }, ['query', 'documents']),
    texts: (item: unknown) => { const r = item as RerankInput; return [r.query, ...r.documents]; },
    rows: (item: unknown) => ({ what: 'documents', count: (item as RerankInput).documents.length }),
  },
} satisfies Record<string, InputKind>;
export type InputKindName = keyof typeof INPUTS;

type Options = Record<string, unknown>;

export interface TaskDecl<P = AnyPipeline, R = unknown> {
  aliases: readonly string[];
  input: InputKindName;
  /** Besides batchSize and onProgress, which every call takes. */
  options: readonly OptionSpec[];
  /** The task command: its name (the task is its alias), its positional inputs and what it does. */
  cli: { command: string; argument: string; argumentHelp: string; description: string };
  /** One result per input, whatever the options (the server's and the command line's answer); camelCase options. */
  run(p: P, items: unknown[], options: Options): Promise<R[]>;
  /** What checking requests needs of the loaded pipeline besides its length and special tokens. */
  describe?(p: P): Partial<RunnerInfo>;
  /** Checks of a request against the model, without its tokenizer; throws naming the request's field. */
  validate?(info: RunnerInfo, items: unknown[], options: Options): void;
  /** Checks that need the tokenizer: a problem per input (or undefined), before the run. */
  precheck?(p: P, items: unknown[], options: Options): (ItemProblem | undefined)[];
}

const blank = (s: unknown) => typeof s === 'string' && s.trim() === '';
const fail = (message: string): never => { throw new Error(message); };

/** transformers' default window of question answering, from the model's length. */
export function qaWindow(maxLength: number, o: { maxSeqLen?: unknown; docStride?: unknown }): { maxSeqLen: number; docStride: number } {
  const maxSeqLen = (o.maxSeqLen as number | undefined) ?? Math.min(maxLength, 384);
  return { maxSeqLen, docStride: (o.docStride as number | undefined) ?? Math.min(Math.floor(maxSeqLen / 2), 128) };
}

const TOP_K = { name: 'topK', kind: 'int', flag: '-k, --top-k <n>' } as const;

export const TASK_TABLE = {
  'fill-mask': {
    aliases: [] as const,
    input: 'text',
    options: [
      { ...TOP_K, default: 5, limit: 100, help: 'candidates per mask' },
      { name: 'targets', kind: 'strings', nonEmpty: true, limit: 100, check: noBlankEntries('; give the words to score'), flag: '--targets <words>',
        help: 'score only these words (a vocabulary token each, else its first token)' },
    ],
    cli: { command: 'fill-mask', argument: '[texts...]', argumentHelp: 'texts with [MASK] where a word is missing', description: 'predict the masked words of each text' },
    run: (p, items, o) => p(items as string[], o),
    describe: (p) => ({ maskToken: p.tokenizer.maskToken }),
    validate: (info, items) => {
      const mask = info.maskToken;
      const i = mask === undefined ? -1 : items.findIndex((t) => !(t as string).includes(mask));
      if (i >= 0) fail(`inputs[${i}] has no ${mask} token; write ${mask} where the word to predict goes`);
    },
    precheck: (p, items, o) => {
      const vocab = p.tokenizer.getVocab();
      for (const [i, t] of ((o.targets as string[] | undefined) ?? []).entries()) {
        if (vocab.get(t) === undefined && p.tokenizer.encode(t, null, { addSpecialTokens: false }).length === 0) {
          return items.map(() => ({ message: `options.targets[${i}] ${JSON.stringify(t)} gives no token; use a word` }));
        }
      }
      return [];
    },
  } satisfies TaskDecl<PipelineByTask['fill-mask'], FillMaskOutput>,

  'text-classification': {
    aliases: ['sentiment-analysis', 'classify'] as const,
    input: 'text-pair',
    options: [
      { ...TOP_K, nullMeans: 'every label', nullWord: 'all', default: 1, limit: 1000, help: 'labels per text, best first' },
      { name: 'functionToApply', kind: 'enum', values: FUNCTIONS_TO_APPLY, defaultText: "from the config's problem_type", flag: '--function <fn>',
        help: 'how logits become scores' },
    ],
    cli: { command: 'classify', argument: '[texts...]', argumentHelp: 'texts to classify', description: 'classify texts (or text pairs) with a sequence-classification model' },
    run: (p, items, o) => p.run(items as TextClassificationInput[], o),
  } satisfies TaskDecl<PipelineByTask['text-classification'], ClassificationResult[]>,

  'zero-shot-classification': {
    aliases: ['zero-shot'] as const,
    input: 'text',
    options: [
      { name: 'candidateLabels', kind: 'strings', argument: true, required: true, nonEmpty: true, limit: 100, check: noBlankEntries(), flag: '-l, --labels <labels>',
        help: 'the candidate labels' },
      { name: 'hypothesisTemplate', kind: 'string', default: DEFAULT_TEMPLATE, flag: '--template <text>', help: 'hypothesis template, {} standing for the label',
        check: (t: string) => (t.includes('{}') ? undefined : { problem: 'has no {} where the label goes' }) },
      { name: 'multiLabel', kind: 'boolean', default: false, flag: '--multi-label', help: 'score each label on its own (entailment against contradiction)' },
    ],
    cli: { command: 'zero-shot', argument: '[texts...]', argumentHelp: 'texts to classify', description: 'classify texts into any labels with an NLI model' },
    run: (p, items, o) => {
      const { candidateLabels, ...rest } = o;
      return p(items as string[], candidateLabels as string[], rest);
    },
    describe: (p) => ({ hasContradiction: p.contradictionId !== null }),
    validate: (info, _items, o) => {
      if ((o.multiLabel === true || (o.candidateLabels as string[] | undefined)?.length === 1) && info.hasContradiction === false) {
        fail('this model has no contradiction label, which multi_label and a single candidate label need');
      }
    },
  } satisfies TaskDecl<PipelineByTask['zero-shot-classification'], ZeroShotResult>,

  'token-classification': {
    aliases: ['ner'] as const,
    input: 'text',
    options: [
      { name: 'aggregationStrategy', kind: 'enum', values: AGGREGATION_STRATEGIES, default: 'none', flag: '-a, --aggregation <strategy>',
        help: 'how tokens group into entities' },
      { name: 'ignoreLabels', kind: 'strings', defaultText: "'O'", limit: 100, flag: '--ignore-labels <labels>', help: 'labels to leave out' },
      { name: 'stride', kind: 'int', min: 0, limit: 4096, flag: '--stride <n>', help: 'split long texts into windows overlapping by this many tokens instead of truncating' },
    ],
    cli: { command: 'ner', argument: '[texts...]', argumentHelp: 'texts to tag', description: 'tag the tokens of each text (entities, parts of speech), with character offsets' },
    run: (p, items, o) => p(items as string[], o),
    validate: (info, _items, o) => {
      const stride = o.stride as number | undefined;
      const room = info.maxLength - info.addedSingle;
      if (stride !== undefined && stride >= room) {
        fail(`options.stride must be smaller than ${room} (the model's ${info.maxLength} tokens less ${info.addedSingle} special tokens), got ${stride}`);
      }
    },
  } satisfies TaskDecl<PipelineByTask['token-classification'], TokenClassificationOutput>,

  'question-answering': {
    aliases: ['qa'] as const,
    input: 'question-context',
    options: [
      { ...TOP_K, default: 1, limit: 100, help: 'answers per question (more than one: a list)' },
      { name: 'maxSeqLen', kind: 'int', limit: 4096, defaultText: 'min(max-length, 384)', flag: '--max-seq-len <n>', help: 'tokens per window, question included' },
      { name: 'docStride', kind: 'int', min: 0, limit: 4096, defaultText: 'min(max-seq-len / 2, 128)', flag: '--doc-stride <n>', help: 'tokens shared by consecutive windows' },
      { name: 'maxAnswerLen', kind: 'int', default: 15, limit: 512, flag: '--max-answer-len <n>', help: 'longest answer in tokens' },
      { name: 'handleImpossibleAnswer', kind: 'boolean', default: false, flag: '--handle-impossible', help: 'let "no answer" compete' },
    ],
    cli: {
      command: 'qa', argument: '[inputs...]', argumentHelp: 'QUESTION CONTEXT, or contexts with --question',
      description: 'find the answer to a question in a context (long contexts are read in overlapping windows)',
    },
    run: (p, items, o) => p(items as QuestionAnsweringInput[], o),
    validate: (info, items, o) => {
      items.forEach((item, i) => {
        const { question, context } = item as QuestionAnsweringInput;
        if (blank(question)) fail(`inputs[${i}].question is empty`);
        if (blank(context)) fail(`inputs[${i}].context is empty`);
      });
      const { maxSeqLen, docStride } = qaWindow(info.maxLength, o);
      // A window holds the special tokens, at least one question token and one context token.
      const least = info.addedPair + 2;
      if (maxSeqLen > info.maxLength) fail(`options.max_seq_len must be at most ${info.maxLength} (the model's length), got ${maxSeqLen}`);
      if (maxSeqLen < least) fail(`options.max_seq_len must be at least ${least} (${info.addedPair} special tokens, a question and a context token), got ${maxSeqLen}`);
      // Consecutive windows must advance: the stride stays below the room a one-token question leaves.
      const most = maxSeqLen - info.addedPair - 2;
      if (docStride > most) {
        if (o.docStride !== undefined) fail(`options.doc_stride must be at most ${most} with max_seq_len ${maxSeqLen}, got ${docStride}`);
        fail(`options.max_seq_len ${maxSeqLen} is too small for its default doc_stride ${docStride}: give a smaller doc_stride or a larger max_seq_len`);
      }
    },
    precheck: (p, items, o) => {
      const { maxSeqLen, docStride } = qaWindow(p.maxLength, o);
      const added = p.tokenizer.pipeline.postProcessor?.addedTokens(true) ?? 0;
      const count = (s: string) => p.tokenizer.encode(s, null, { addSpecialTokens: false }).length;
      return items.map((item) => {
        const { question, context } = item as QuestionAnsweringInput;
        const q = count(question);
        const room = maxSeqLen - q - added;
        if (room > docStride || count(context) <= room) return undefined;
        const most = Math.max(0, maxSeqLen - added - docStride - 1);
        return { message: `has ${q} tokens; with max_seq_len ${maxSeqLen} and doc_stride ${docStride} a question may have at most ${most}`, itemPath: '.question' };
      });
    },
  } satisfies TaskDecl<PipelineByTask['question-answering'], QuestionAnsweringOutput>,

  'feature-extraction': {
    aliases: ['embeddings', 'embed'] as const,
    input: 'text',
    options: [
      { name: 'pooling', kind: 'enum', values: POOLINGS, default: 'mean', flag: '--pooling <mode>',
        help: 'one vector per text: the mean of its tokens\' or the first ([CLS]); none: one per token (called as transformers.js: none by default)' },
      { name: 'normalize', kind: 'boolean', default: false, flag: '--normalize', help: 'scale each vector to unit length' },
    ],
    cli: { command: 'embed', argument: '[texts...]', argumentHelp: 'texts to embed', description: 'embed texts: the mean (or [CLS]) of the last hidden states' },
    run: (p, items, o) => p.run(items as string[], o) as Promise<(number[] | number[][])[]>,
  } satisfies TaskDecl<PipelineByTask['feature-extraction'], number[] | number[][]>,

  rerank: {
    aliases: ['text-ranking'] as const,
    input: 'query-documents',
    options: [
      { ...TOP_K, defaultText: 'all', limit: 10_000, help: 'documents to list, best first' },
      { name: 'returnDocuments', kind: 'boolean', default: false, flag: false, help: "include each document's text" },
      { name: 'activation', kind: 'enum', values: ACTIVATIONS, default: 'sigmoid', flag: '--activation <fn>', help: 'one-label models: the sigmoid of the logit, or the logit itself' },
    ],
    cli: { command: 'rerank', argument: '[documents...]', argumentHelp: 'documents to rank against --query', description: 'rank documents by relevance to a query with a cross-encoder' },
    run: (p, items, o) => p(items as RerankInput[], o),
  } satisfies TaskDecl<PipelineByTask['rerank'], RerankResult[]>,
} as const;

export type Task = keyof typeof TASK_TABLE;
export const TASKS = Object.keys(TASK_TABLE) as Task[];

/** One result per input of each task, as `run` gives it. */
export type TaskResult<T extends Task> = (typeof TASK_TABLE)[T] extends { run(...a: never[]): Promise<(infer R)[]> } ? R : never;

/** A task's declaration, typed loosely (for code that handles every task alike). */
export function taskDecl(task: Task): TaskDecl<AnyPipeline, unknown> {
  return TASK_TABLE[task] as unknown as TaskDecl<AnyPipeline, unknown>;
}

type AliasOf<T extends Task> = (typeof TASK_TABLE)[T]['aliases'][number];
export type TaskAlias = { [T in Task]: AliasOf<T> }[Task];
/** The task of each alias. */
export type TaskOfAlias<A extends TaskAlias> = { [T in Task]: A extends AliasOf<T> ? T : never }[Task];

export const TASK_ALIASES = Object.fromEntries(TASKS.flatMap((t) => TASK_TABLE[t].aliases.map((a) => [a, t]))) as { [A in TaskAlias]: TaskOfAlias<A> };

/** The task a name or alias stands for; an unknown name fails with the list of names. */
export function resolveTask(name: string): Task {
  if ((TASKS as readonly string[]).includes(name)) return name as Task;
  const alias = (TASK_ALIASES as Record<string, Task>)[name];
  if (alias) return alias;
  const aliases = Object.entries(TASK_ALIASES).map(([a, t]) => `${a} (${t})`).join(', ');
  throw new Error(`unknown task ${JSON.stringify(name)}: expected one of ${TASKS.join(', ')}, or an alias: ${aliases}`);
}

/** The names a task's pipeline takes in a call (either spelling of each). */
export function callOptionNames(task: Task): string[] {
  return [...RUN_OPTIONS, ...taskDecl(task).options.filter((o) => !o.argument).map((o) => o.name)];
}

/**
 * A call's options under their camelCase names, checked against the task's declaration: unknown names
 * (TypeError, listing the accepted ones), and values of the wrong type or out of range (naming the option).
 */
export function readTaskOptions<T extends object>(task: Task, given: unknown): T {
  const o = readOptions<Record<string, unknown>>(task, given, callOptionNames(task));
  for (const spec of taskDecl(task).options) {
    if (spec.argument || o[spec.name] === undefined) continue;
    const p = optionProblem(spec, o[spec.name]);
    if (p) {
      const message = `${task}: ${spec.kind === 'enum' && !p.at ? `unknown ${spec.name} ${JSON.stringify(o[spec.name])} (expected one of ${spec.values!.join(', ')})` : `${spec.name}${p.at ?? ''} ${p.problem}`}`;
      throw p.type && spec.kind !== 'int' && spec.kind !== 'enum' ? new TypeError(message) : new Error(message);
    }
  }
  return o as T;
}

/** The JSON schema of a task's `options` object in a request (snake_case names). */
export function optionsSchema(task: Task): JsonSchema {
  const options = taskDecl(task).options;
  return {
    type: 'object',
    properties: Object.fromEntries(options.map((o) => [snakeName(o.name), optionSchema(o)])),
    required: options.filter((o) => o.required).map((o) => snakeName(o.name)),
    additionalProperties: false,
  };
}

/**
 * A request's options (camelCase, already of the schema's types) checked as the task declares beyond
 * their types: the first problem, naming the option as the request does (`options.targets[0] is empty`).
 */
export function optionsProblem(task: Task, options: Options): string | undefined {
  for (const spec of taskDecl(task).options) {
    const v = options[spec.name];
    if (v === undefined || v === null) continue;
    const p = optionProblem(spec, v);
    if (p) return `options.${snakeName(spec.name)}${p.at ?? ''} ${p.problem}`;
  }
  return undefined;
}
