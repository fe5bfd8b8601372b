// Reading the fields of a `tokenizer.json` with their place in the file: a malformed file is refused with
// the JSON path of the field at fault (`model.merges[3]`) and what was expected there, never with a
// TypeError from deep inside a builder. `where` is always the path so far, file name first.

export type Json = Record<string, unknown>;

/** A short, readable account of a JSON value for an error message. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return String(v);
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

export function fail(where: string, expected: string, got: unknown): never {
  throw new Error(`${where}: expected ${expected}, got ${describe(got)}`);
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An object (not null, not a list). */
export function object(v: unknown, where: string): Json {
  if (!isObject(v)) fail(where, 'an object', v);
  return v;
}

export function list(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) fail(where, 'a list', v);
  return v;
}

/** A list, or an empty one when the field is absent or null. */
export function optList(json: Json, key: string, where: string): unknown[] {
  const v = json[key];
  return v == null ? [] : list(v, `${where}.${key}`);
}

export function string(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, 'a string', v);
  return v;
}

/** `json[key]`: a string, `fallback` when absent. */
export function optString(json: Json, key: string, where: string, fallback: string): string {
  const v = json[key];
  return v === undefined ? fallback : string(v, `${where}.${key}`);
}

/** `json[key]`: a string or null, `fallback` when absent. */
export function stringOrNull(json: Json, key: string, where: string, fallback: string | null = null): string | null {
  const v = json[key];
  if (v === undefined) return fallback;
  if (v !== null && typeof v !== 'string') fail(`${where}.${key}`, 'a string or null', v);
  return v;
}

/** One character (one code point). */
export function char(v: unknown, where: string): string {
  if (typeof v !== 'string' || [...v].length !== 1) fail(where, 'one character', v);
  return v;
}

/** `json[key]`: one character (one code point), `fallback` when absent. */
export function optChar(json: Json, key: string, where: string, fallback: string): string {
  const v = optString(json, key, where, fallback);
  if ([...v].length !== 1) fail(`${where}.${key}`, 'one character', v);
  return v;
}

/** `json[key]`: true or false, `fallback` when absent or null. */
export function optBool(json: Json, key: string, where: string, fallback: boolean): boolean {
  const v = json[key];
  if (v == null) return fallback;
  if (typeof v !== 'boolean') fail(`${where}.${key}`, 'true or false', v);
  return v;
}

/** An id or count as `tokenizers` holds it: an integer from 0 to 2^32 - 1 (a u32). */
export function u32(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(where, 'an integer from 0 to 4294967295', v);
  return v;
}

/** `json[key]`: a u32, `fallback` when absent. */
export function optU32(json: Json, key: string, where: string, fallback: number): number {
  const v = json[key];
  return v === undefined ? fallback : u32(v, `${where}.${key}`);
}

export function finite(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(where, 'a finite number', v);
  return v;
}

/** `json.type`, which names the component: a string. */
export function typeOf(json: unknown, where: string, what: string): string {
  const o = object(json, where);
  if (typeof o.type !== 'string') fail(`${where}.type`, `a string naming the ${what}`, o.type);
  return o.type;
}

/** `json[key]`: one of `allowed`, `fallback` when absent. */
export function oneOf<T extends string>(json: Json, key: string, where: string, allowed: readonly T[], fallback: T): T {
  const v = json[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(`${where}.${key}`, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, v);
  return v as T;
}

/** A `pattern` field: `{ "String": s }` or `{ "Regex": r }`. */
export function pattern(json: Json, where: string): { String: string } | { Regex: string } {
  const p = object(json.pattern, `${where}.pattern`);
  if (typeof p.String === 'string') return { String: p.String };
  if (typeof p.Regex === 'string') return { Regex: p.Regex };
  throw new Error(`${where}.pattern: expected { "String": text } or { "Regex": pattern }, got ${Object.keys(p).length ? `an object with ${Object.keys(p).map((k) => JSON.stringify(k)).join(', ')}` : 'an empty object'}`);
}
