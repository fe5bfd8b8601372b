// Pipeline options: the names each pipeline and `pipeline()` itself take, in either spelling (see
// src/util/options.ts), and the declared options every front end derives its checks from.
import { toSnake } from '../util/options.ts';

export { describeOptions, otherSpelling, readOptions } from '../util/options.ts';

/** What every pipeline call takes. */
export const RUN_OPTIONS = ['batchSize', 'onProgress'] as const;

// --- declared options ----------------------------------------------------------------------------------
// Each task's options are declared once (src/pipelines/tasks.ts) with what every front end needs: the
// type, the default, the checks, the command line's flag and the server's request limits. From a
// declaration come the pipeline's accepted names and value checks, the server's JSON schema and the
// command line's flags.

export type JsonSchema = Record<string, unknown>;

export type OptionKind = 'int' | 'boolean' | 'string' | 'enum' | 'strings';

/** Where a value is wrong: `at` goes right after the option's name (`[2]`), then the problem. */
export interface Problem {
  at?: string;
  problem: string;
  /** The value is not of the option's type (a TypeError where a pipeline reads it). */
  type?: boolean;
}

export interface OptionSpec {
  /** camelCase; the snake_case spelling (the server's, transformers.js') is derived. */
  name: string;
  kind: OptionKind;
  /** enum: the values taken. */
  values?: readonly string[];
  /** int: the least value (default 1). */
  min?: number;
  /** What null stands for, where null is taken (text-classification's topK: every label). */
  nullMeans?: string;
  /** The default, as a value (shown by --help and the API description)... */
  default?: string | number | boolean;
  /** ...or in words, when the model decides it. */
  defaultText?: string;
  /** One line: the command line's help and the API's description. */
  help: string;
  /** The server's request limit: the largest int, or the most entries of a list. */
  limit?: number;
  /** lists: at least one entry. */
  nonEmpty?: boolean;
  /** What the type allows but the task does not. */
  check?(value: never): Problem | undefined;
  /** Given to the pipeline as an argument, not among its call options (zero-shot's candidate labels). */
  argument?: boolean;
  /** A request must give it. */
  required?: boolean;
  /** The task command's flag (`-k, --top-k <n>`; a boolean's has no value); false: the command has none. */
  flag?: string | false;
  /** The word the flag takes for null (`all`). */
  nullWord?: string;
}

export const snakeName = toSnake;

/** Entries that are blank: `[i] is empty` and what to do about it. */
export function noBlankEntries(then = ''): (v: string[]) => Problem | undefined {
  return (v) => {
    const i = v.findIndex((s) => s.trim() === '');
    return i < 0 ? undefined : { at: `[${i}]`, problem: `is empty${then}` };
  };
}

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** What is wrong with `value` for the option (its type, then its own check), or undefined. */
export function optionProblem(spec: OptionSpec, value: unknown): Problem | undefined {
  if (value === null && spec.nullMeans !== undefined) return undefined;
  const wrong = typeProblem(spec, value);
  return wrong ? { problem: wrong, type: true } : spec.check?.(value as never);
}

function typeProblem(spec: OptionSpec, value: unknown): string | undefined {
  switch (spec.kind) {
    case 'int': {
      const min = spec.min ?? 1;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
        const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`;
        return `must be ${what}${spec.nullMeans === undefined ? '' : ' or null'}, got ${JSON.stringify(value)}`;
      }
      break;
    }
    case 'boolean':
      if (typeof value !== 'boolean') return `must be true or false, got ${JSON.stringify(value)}`;
      break;
    case 'string':
      if (typeof value !== 'string') return `must be a string, got ${kindOf(value)}`;
      break;
    case 'enum':
      if (!spec.values!.includes(value as string)) return `must be one of ${spec.values!.join(', ')}, got ${JSON.stringify(value)}`;
      break;
    case 'strings':
      if (!Array.isArray(value) || value.some((s) => typeof s !== 'string') || (spec.nonEmpty && value.length === 0)) {
        return `must be a ${spec.nonEmpty ? 'non-empty ' : ''}list of strings, got ${Array.isArray(value) ? JSON.stringify(value) : kindOf(value)}`;
      }
      break;
  }
  return undefined;
}

/** The JSON schema of one option in a request (snake_case names, the server's limits). */
export function optionSchema(spec: OptionSpec): JsonSchema {
  const description = spec.help + (spec.default !== undefined ? ` (default ${JSON.stringify(spec.default)})` : spec.defaultText ? ` (default: ${spec.defaultText})` : '');
  switch (spec.kind) {
    case 'int': {
      const int = { type: 'integer', minimum: spec.min ?? 1, ...(spec.limit === undefined ? {} : { maximum: spec.limit }) };
      // ajv reports a failed anyOf by its description: say what is taken.
      if (spec.nullMeans !== undefined) return { anyOf: [int, { type: 'null' }], description: `a positive integer, or null for ${spec.nullMeans}` };
      return { ...int, description };
    }
    case 'boolean': return { type: 'boolean', description };
    case 'string': return { type: 'string', description };
    case 'enum': return { enum: [...spec.values!], description };
    case 'strings':
      return { type: 'array', items: { type: 'string' }, ...(spec.nonEmpty ? { minItems: 1 } : {}), ...(spec.limit === undefined ? {} : { maxItems: spec.limit }), description };
  }
}
