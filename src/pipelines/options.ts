// Options as users write them: this library's names, or the other spelling of each (transformers.js and
// Python write `top_k`, `function_to_apply`, …; this library `topK`, `functionToApply`). Each pipeline and
// `pipeline()` itself list the names they take; anything else is a TypeError that names it and lists them,
// so a typo or an option of another library is never silently ignored.

const toSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The other spelling of an option name (camelCase ↔ snake_case), or the name itself when it has none. */
export function otherSpelling(name: string): string {
  return name.includes('_') ? toCamel(name) : toSnake(name);
}

/** How the accepted names read in a message: `topK (top_k)`. */
export function describeOptions(accepted: readonly string[]): string {
  return accepted.map((n) => (otherSpelling(n) === n ? n : `${n} (${otherSpelling(n)})`)).join(', ');
}

/**
 * `given` under the names of `accepted` (either spelling of each is taken); undefined values dropped.
 * Unknown names, both spellings of one option, or options that are not an object are TypeErrors.
 */
export function readOptions<T extends object>(where: string, given: unknown, accepted: readonly string[]): T {
  if (given === undefined || given === null) return {} as T;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`${where}: options must be an object, got ${Array.isArray(given) ? 'an array' : typeof given}`);
  }
  const byName = new Map<string, string>();
  for (const n of accepted) {
    byName.set(n, n);
    byName.set(otherSpelling(n), n);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    const name = byName.get(key);
    if (name === undefined) throw new TypeError(`${where}: unknown option '${key}' (accepted: ${describeOptions(accepted)})`);
    if (key !== name && Object.hasOwn(given, name)) throw new TypeError(`${where}: '${key}' and '${name}' are one option; give it once`);
    if (value !== undefined) out[name] = value;
  }
  return out as T;
}

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
