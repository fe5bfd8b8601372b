// Options as users write them: this library's names, or the other spelling of each (transformers.js and
// Python write `top_k`, `skip_special_tokens`, …; this library `topK`, `skipSpecialTokens`). Each API lists
// the names it takes; anything else is a TypeError that names it and lists them, so a typo or an option of
// another library is never silently ignored.

export const toSnake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toCamel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** `topK` → `top_k`, as a type (toSnake's rule: each capital becomes `_` and its lower case). */
export type SnakeCase<S extends string> = S extends `${infer C}${infer Rest}`
  ? `${C extends Lowercase<C> ? C : `_${Lowercase<C>}`}${SnakeCase<Rest>}`
  : S;

/** An options type that also takes each name in snake_case, as code written for transformers.js or Python does. */
export type EitherCase<T> = T & { [K in keyof T as K extends string ? SnakeCase<K> : never]?: T[K] };

/** The other spelling of an option name (camelCase ↔ snake_case), or the name itself when it has none. */
export function otherSpelling(name: string): string {
  return name.includes('_') ? toCamel(name) : toSnake(name);
}

/** How the accepted names read in a message: `topK (top_k)`. */
export function describeOptions(accepted: readonly string[]): string {
  return accepted.map((n) => (otherSpelling(n) === n ? n : `${n} (${otherSpelling(n)})`)).join(', ');
}

// Both spellings of each name, made once per list (tokenizer calls read their options on every call).
const spellingsOf = new WeakMap<readonly string[], Map<string, string>>();
function spellings(accepted: readonly string[]): Map<string, string> {
  let byName = spellingsOf.get(accepted);
  if (!byName) {
    byName = new Map();
    for (const n of accepted) {
      byName.set(n, n);
      byName.set(otherSpelling(n), n);
    }
    spellingsOf.set(accepted, byName);
  }
  return byName;
}

/**
 * `given` under the names of `accepted` (either spelling of each is taken); undefined values dropped.
 * Unknown names, both spellings of one name, or options that are not an object are TypeErrors; `noun`
 * says what the names are in those messages (model inputs are read the same way).
 */
export function readOptions<T extends object>(where: string, given: unknown, accepted: readonly string[], noun = 'option'): T {
  if (given === undefined || given === null) return {} as T;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`${where}: ${noun}s must be an object, got ${Array.isArray(given) ? 'an array' : typeof given}`);
  }
  const byName = spellings(accepted);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(given)) {
    const name = byName.get(key);
    if (name === undefined) throw new TypeError(`${where}: unknown ${noun} '${key}' (accepted: ${describeOptions(accepted)})`);
    if (key !== name && Object.hasOwn(given, name)) throw new TypeError(`${where}: '${key}' and '${name}' are one ${noun}; give it once`);
    if (value !== undefined) out[name] = value;
  }
  return out as T;
}
