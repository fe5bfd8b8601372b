// Model inputs as users hand them (nested number arrays, or typed arrays with dims) to int64 tensors, and
// the checks that keep bad ids from reaching ONNX Runtime (whose errors name graph nodes, not the input).
import { tensor, type Tensor } from '../tensor.ts';
import { readOptions } from '../util/options.ts';

export type IdsInput =
  | number[][]
  | number[][][]
  | { data: BigInt64Array | Int32Array | number[] | ArrayLike<number>; dims: number[] };

export interface ModelInputs {
  inputIds: IdsInput;
  attentionMask?: IdsInput;
  tokenTypeIds?: IdsInput;
}

/** The same inputs under transformers' names, as code written for transformers.js or Python passes them. */
export interface ModelInputsSnakeCase {
  input_ids: IdsInput;
  attention_mask?: IdsInput;
  token_type_ids?: IdsInput;
}

// What a tokenizer's result carries besides the inputs, when asked for: accepted and passed over, so that
// a batch goes in as it is.
const ACCEPTED = ['inputIds', 'attentionMask', 'tokenTypeIds', 'offsets', 'tokens', 'specialTokensMask', 'sequenceIds', 'overflowToSampleMapping'];

/**
 * The inputs under this library's names, from either spelling (`input_ids`, as transformers.js and Python
 * write it); any other name is an error, so that a misspelt mask is never silently left out.
 */
export function readInputs(given: unknown): ModelInputs {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`model input: expected { inputIds, attentionMask?, tokenTypeIds? }, got ${describe(given)}`);
  }
  const { inputIds, attentionMask, tokenTypeIds } = readOptions<Partial<ModelInputs>>('model input', given, ACCEPTED, 'input');
  if (inputIds === undefined) throw new Error('model input: inputIds is required');
  return { inputIds, attentionMask, tokenTypeIds };
}

/** Converts one input to an int64 tensor, checking that it is rectangular, of the expected rank and not empty. */
export function toInt64(x: IdsInput, name: string, rank: number): Tensor {
  if (x === null || typeof x !== 'object') throw new Error(`${name}: expected nested arrays of integers or { data, dims }, got ${x === null ? 'null' : typeof x}`);
  if (!Array.isArray(x)) {
    const { data, dims } = x;
    if (!Array.isArray(dims) || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${name}: dims must be a list of non-negative integers, got ${describe(dims)}`);
    }
    if (dims.length !== rank) throw new Error(`${name}: expected ${rank} dims, got [${dims.join(', ')}]`);
    checkNotEmpty(dims, name);
    const n = dims.reduce((a, b) => a * b, 1);
    if (!data || typeof data.length !== 'number' || data.length !== n) {
      throw new Error(`${name}: ${data?.length ?? 'no'} values do not fill dims [${dims.join(', ')}]`);
    }
    if (data instanceof BigInt64Array) return tensor('int64', [...dims], data);
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const v = (data as ArrayLike<number>)[i];
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${name}${at(i, dims)}: ${describe(v)} is not an integer`);
      out[i] = BigInt(v);
    }
    return tensor('int64', [...dims], out);
  }
  // Nested arrays: every row at every level must have the first row's length.
  const dims: number[] = [];
  let level: unknown = x;
  for (let r = 0; r < rank; r++) {
    if (!Array.isArray(level)) throw new Error(`${name}: expected ${rank} levels of nested arrays, found ${r}`);
    dims.push(level.length);
    if (level.length === 0) break;
    level = level[0];
  }
  while (dims.length < rank) dims.push(0);
  checkNotEmpty(dims, name);
  const data = new BigInt64Array(dims.reduce((a, b) => a * b, 1));
  let k = 0;
  const walk = (v: unknown, depth: number, path: number[]): void => {
    if (depth === rank) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Error(`${name}${path.map((p) => `[${p}]`).join('')}: ${describe(v)} is not an integer`);
      data[k++] = BigInt(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) {
      const where = path.length ? `${name}${path.map((p) => `[${p}]`).join('')}` : name;
      throw new Error(`${where}: ${Array.isArray(v) ? `rows differ in length (${v.length} entries, the first row ${dims[depth]}); pad them (the tokenizer's padding option does this)` : `expected an array, got ${describe(v)}`}`);
    }
    for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, [...path, i]);
  };
  walk(x, 0, []);
  return tensor('int64', dims, data);
}

function checkNotEmpty(dims: number[], name: string): void {
  if (dims.some((d) => d === 0)) {
    throw new Error(`${name}: dims [${dims.join(', ')}] are empty; a batch needs at least one sequence of at least one token`);
  }
}

/** `[i][j]` for flat index `i` of a row-major tensor of `dims`. */
function at(flat: number, dims: number[]): string {
  const idx: number[] = [];
  for (let d = dims.length - 1; d >= 0; d--) {
    idx.unshift(flat % dims[d]!);
    flat = Math.floor(flat / dims[d]!);
  }
  return idx.map((i) => `[${i}]`).join('');
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v.length > 32 ? `${v.slice(0, 32)}…` : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return String(v);
}

/** Fails on the first value of `t` outside [0, limit), naming its position (`inputIds[1][3]`) and `why` the limit. */
export function checkRange(t: Tensor, name: string, limit: number, why: string): void {
  const data = t.data as BigInt64Array;
  const hi = BigInt(limit);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < 0n || v >= hi) throw new Error(`${name}${at(i, t.dims)}: id ${v} is outside [0, ${limit}) (${why})`);
  }
}

export interface InputLimits {
  vocabSize: number;
  /** 0: the model has no token type embeddings (token types are ignored). */
  typeVocabSize: number;
  /** The longest sequence the model accepts, and what sets it (for the message). */
  maxLength: number;
  maxLengthWhy: string;
}

/** Checks the converted inputs against the model before they go to ONNX Runtime. */
export function checkInputs(feeds: { input_ids: Tensor; token_type_ids?: Tensor }, limits: InputLimits): void {
  const ids = feeds.input_ids;
  const length = ids.dims.at(-1)!;
  if (length > limits.maxLength) {
    throw new Error(`inputIds: sequences of ${length} tokens are longer than the ${limits.maxLength} this model accepts (${limits.maxLengthWhy}); truncate them (the tokenizer's truncation and maxLength options)`);
  }
  checkRange(ids, 'inputIds', limits.vocabSize, 'vocab_size in config.json');
  if (feeds.token_type_ids && limits.typeVocabSize > 0) checkRange(feeds.token_type_ids, 'tokenTypeIds', limits.typeVocabSize, 'type_vocab_size in config.json');
}

export function filled(dims: number[], value: number): Tensor {
  return tensor('int64', dims, new BigInt64Array(dims.reduce((a, b) => a * b, 1)).fill(BigInt(value)));
}
