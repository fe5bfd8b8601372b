// The user-facing tokenizer: transformers' call semantics (single text, pair, batch; padding, truncation,
// overflow windows) over our pipeline, results shaped as the models take them.
import { type Encoding, type TruncationDirection, toNumbers } from './encoding.ts';
import type { TokenizerPipeline, TruncationStrategy } from './pipeline.ts';
import { cleanupSpaces } from './decoders.ts';
import { readOptions, toSnake, type EitherCase } from '../util/options.ts';
import { IdsTensor } from '../tensor.ts';

export type PaddingOption = boolean | 'longest' | 'max_length' | 'do_not_pad';
export type TruncationOption = boolean | TruncationStrategy | 'do_not_truncate';

export interface CallOptions {
  /** The second text (or texts), as transformers.js passes it; the same as the call's second argument. */
  textPair?: string | string[];
  /** Add [CLS] / [SEP] (default true). */
  addSpecialTokens?: boolean;
  /** true or 'longest': pad to the longest row; 'max_length': pad to `maxLength`. */
  padding?: PaddingOption;
  /** true = 'longest_first'. Without `maxLength`, the model's maximum length (if it has a real one). */
  truncation?: TruncationOption;
  maxLength?: number;
  /** Overlap, in tokens, between consecutive overflow windows. */
  stride?: number;
  /** Return every overflow window as its own row (with `overflowToSampleMapping`), as question answering needs. */
  returnOverflowingTokens?: boolean;
  /** Return `offsets`: per token, [start, end) in its text; [0, 0] for special tokens and padding. */
  returnOffsets?: boolean;
  /** Offsets in code points (Python's string indices, transformers' `offset_mapping`; default) or UTF-16 units (JavaScript's). */
  offsetUnits?: 'codepoints' | 'utf16';
  returnTokens?: boolean;
  returnSpecialTokensMask?: boolean;
  /** Return `sequenceIds`: 0 / 1 for tokens of the first / second text, null for special tokens and padding. */
  returnSequenceIds?: boolean;
  padToMultipleOf?: number;
  /**
   * transformers.js' `return_tensor`: true gives `inputIds`, `attentionMask` and `tokenTypeIds` as int64 tensors
   * (`data`, `dims`, `tolist()`; rows must be of one length); false, the default here, plain arrays.
   */
  returnTensor?: boolean;
}

// The names each method takes, in either spelling (`max_length` as well as `maxLength`); any other is a
// TypeError. Listed as records so that the compiler holds them to the interfaces.
const CALL_OPTIONS = Object.keys({
  textPair: 1, addSpecialTokens: 1, padding: 1, truncation: 1, maxLength: 1, stride: 1, returnOverflowingTokens: 1, returnOffsets: 1,
  offsetUnits: 1, returnTokens: 1, returnSpecialTokensMask: 1, returnSequenceIds: 1, padToMultipleOf: 1, returnTensor: 1,
} satisfies Record<keyof CallOptions, 1>);
const ENCODE_OPTIONS = CALL_OPTIONS.filter((n) => n !== 'padding' && n !== 'textPair' && n !== 'returnTensor');
const DECODE_OPTIONS = Object.keys({ skipSpecialTokens: 1, cleanUpTokenizationSpaces: 1 } satisfies Record<keyof DecodeOptions, 1>);

export interface BatchEncoding {
  inputIds: number[][];
  attentionMask: number[][];
  tokenTypeIds: number[][];
  /** The same arrays under transformers' names; not enumerable, so JSON and spreads show each array once. */
  readonly input_ids: number[][];
  readonly attention_mask: number[][];
  readonly token_type_ids: number[][];
  offsets?: [number, number][][];
  tokens?: string[][];
  specialTokensMask?: number[][];
  sequenceIds?: (number | null)[][];
  /** For each row, the index of the input it came from (with `returnOverflowingTokens`). */
  overflowToSampleMapping?: number[];
}

/** What a call with `returnTensor: true` returns: the model's inputs as int64 tensors, the rest as BatchEncoding has it. */
export interface TensorEncoding extends Omit<BatchEncoding, 'inputIds' | 'attentionMask' | 'tokenTypeIds' | 'input_ids' | 'attention_mask' | 'token_type_ids'> {
  inputIds: IdsTensor;
  attentionMask: IdsTensor;
  tokenTypeIds: IdsTensor;
  readonly input_ids: IdsTensor;
  readonly attention_mask: IdsTensor;
  readonly token_type_ids: IdsTensor;
}

/** Options that ask for tensors, in either spelling. */
type TensorCall = EitherCase<CallOptions> & ({ returnTensor: true } | { return_tensor: true });

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** transformers' clean_up_tokenization (defaults to the tokenizer config's `clean_up_tokenization_spaces`). */
  cleanUpTokenizationSpaces?: boolean;
}

export type TextInput = string | string[] | [string, string][];

export interface SpecialTokens {
  bos?: string;
  eos?: string;
  unk?: string;
  sep?: string;
  pad?: string;
  cls?: string;
  mask?: string;
}

export interface TokenizerSettings {
  special: SpecialTokens;
  /** transformers' VERY_LARGE_INTEGER (1e30) or anything above 1e12 means "no limit". */
  modelMaxLength: number;
  paddingSide: 'right' | 'left';
  truncationSide: TruncationDirection;
  cleanUpTokenizationSpaces: boolean;
  /** Where the tokenizer was read from, for messages. */
  source: string;
}

const NO_LIMIT = 1e12;

/** Lets instances be called like functions, as transformers' tokenizers are. */
class CallableBase {
  constructor() {
    const f = (...args: unknown[]): unknown => (f as unknown as { invoke(...a: unknown[]): unknown }).invoke(...args);
    // biome-ignore lint/correctness/noConstructorReturn: the instance is a function with the class's prototype
    return Object.setPrototypeOf(f, new.target.prototype) as CallableBase;
  }
}

// The call signature of the class below (its instances are functions): an interface merged with the class.
export interface PreTrainedTokenizer {
  /**
   * Tokenises one text, a pair (`tokenizer(a, b)`), a batch of texts, or a batch of pairs
   * (`tokenizer([a1, a2], [b1, b2])` or `tokenizer([[a1, b1], [a2, b2]])`). Always returns rows.
   */
  (text: TextInput, options: TensorCall): TensorEncoding;
  (text: TextInput, textPair: string | string[], options: TensorCall): TensorEncoding;
  (text: TextInput, textPairOrOptions?: string | string[] | EitherCase<CallOptions>, options?: EitherCase<CallOptions>): BatchEncoding;

  // The members below under the names transformers and transformers.js give them (SNAKE_CASE_MEMBERS).
  readonly vocab_size: number;
  readonly cls_token: string;
  readonly sep_token: string;
  readonly pad_token: string;
  readonly unk_token: string;
  readonly mask_token: string;
  readonly bos_token: string;
  readonly eos_token: string;
  readonly cls_token_id: number;
  readonly sep_token_id: number;
  readonly pad_token_id: number;
  readonly unk_token_id: number;
  readonly mask_token_id: number;
  readonly bos_token_id: number;
  readonly eos_token_id: number;
  readonly all_special_ids: number[];
  readonly all_special_tokens: string[];
  get_vocab: PreTrainedTokenizer['getVocab'];
  batch_decode: PreTrainedTokenizer['batchDecode'];
  convert_ids_to_tokens: PreTrainedTokenizer['convertIdsToTokens'];
  convert_tokens_to_ids: PreTrainedTokenizer['convertTokensToIds'];
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
export class PreTrainedTokenizer extends CallableBase {
  readonly pipeline: TokenizerPipeline;
  readonly settings: TokenizerSettings;

  constructor(pipeline: TokenizerPipeline, settings: TokenizerSettings) {
    super();
    this.pipeline = pipeline;
    this.settings = settings;
  }

  /** The maximum length, or Infinity when the checkpoint sets none. */
  get modelMaxLength(): number {
    return this.settings.modelMaxLength > NO_LIMIT ? Infinity : this.settings.modelMaxLength;
  }

  /** transformers' member keeps transformers' value: the config's number, or 1e30 (its VERY_LARGE_INTEGER) when it sets none. */
  get model_max_length(): number {
    return this.settings.modelMaxLength;
  }

  /** Number of ids, added tokens included (Python's `len(tokenizer)`). */
  get vocabSize(): number {
    return this.pipeline.vocabSize;
  }

  private specialId(kind: keyof SpecialTokens): number {
    const tok = this.settings.special[kind];
    const id = tok === undefined ? undefined : this.pipeline.tokenToId(tok);
    if (id === undefined) throw new Error(`${this.settings.source}: this tokenizer has no ${kind} token`);
    return id;
  }
  private specialToken(kind: keyof SpecialTokens): string {
    const tok = this.settings.special[kind];
    if (tok === undefined) throw new Error(`${this.settings.source}: this tokenizer has no ${kind} token`);
    return tok;
  }

  get clsToken(): string {
    return this.specialToken('cls');
  }
  get sepToken(): string {
    return this.specialToken('sep');
  }
  get padToken(): string {
    return this.specialToken('pad');
  }
  get unkToken(): string {
    return this.specialToken('unk');
  }
  get maskToken(): string {
    return this.specialToken('mask');
  }
  get bosToken(): string {
    return this.specialToken('bos');
  }
  get eosToken(): string {
    return this.specialToken('eos');
  }
  get clsTokenId(): number {
    return this.specialId('cls');
  }
  get sepTokenId(): number {
    return this.specialId('sep');
  }
  get padTokenId(): number {
    return this.specialId('pad');
  }
  get unkTokenId(): number {
    return this.specialId('unk');
  }
  get maskTokenId(): number {
    return this.specialId('mask');
  }
  get bosTokenId(): number {
    return this.specialId('bos');
  }
  get eosTokenId(): number {
    return this.specialId('eos');
  }

  /** Ids of all special tokens (those decode() skips with skipSpecialTokens). */
  get allSpecialIds(): number[] {
    return this.pipeline.addedTokens.filter((t) => t.special).map((t) => t.id);
  }

  get allSpecialTokens(): string[] {
    return this.pipeline.addedTokens.filter((t) => t.special).map((t) => t.content);
  }

  /** Token -> id for the whole vocabulary, added tokens included. */
  getVocab(): Map<string, number> {
    const m = new Map<string, number>();
    for (let id = 0; id < this.pipeline.model.vocabSize; id++) {
      const t = this.pipeline.model.idToToken(id);
      if (t !== undefined) m.set(t, id);
    }
    for (const t of this.pipeline.addedTokens) m.set(t.content, t.id);
    return m;
  }

  /** What calling the tokenizer runs (CallableBase forwards the call here). */
  protected invoke(text: unknown, pairOrOptions?: unknown, options?: unknown): BatchEncoding {
    let pair: unknown;
    let opts: CallOptions;
    if (typeof pairOrOptions === 'string' || Array.isArray(pairOrOptions)) {
      pair = pairOrOptions;
      opts = readOptions<CallOptions>('tokenizer', options, CALL_OPTIONS);
    } else {
      if (pairOrOptions !== undefined && (pairOrOptions === null || typeof pairOrOptions !== 'object')) {
        throw new TypeError(`tokenizer: the second argument must be a text pair (string or string[]) or an options object, got ${describe(pairOrOptions)}`);
      }
      opts = readOptions<CallOptions>('tokenizer', pairOrOptions, CALL_OPTIONS);
    }
    if (opts.textPair !== undefined) {
      if (pair !== undefined) throw new TypeError('tokenizer: a text pair both as the second argument and as textPair; give it once');
      pair = opts.textPair;
    }
    return this.encodeBatch(normalizeInputs(text, pair), opts);
  }

  /** The batch call with inputs already as [text, pair | null] items. */
  encodeBatch(items: [string, string | null][], options: CallOptions & { returnTensor: true }): TensorEncoding;
  encodeBatch(items: [string, string | null][], options?: CallOptions): BatchEncoding;
  encodeBatch(items: [string, string | null][], options: CallOptions = {}): BatchEncoding | TensorEncoding {
    const addSpecial = options.addSpecialTokens !== false;
    const truncation = this.truncationParams(options);
    const rows: Encoding[] = [];
    const sample: number[] = [];
    const texts: [string, string | null][] = [];
    items.forEach(([a, b], i) => {
      const enc = this.encodeOne(a, b, addSpecial, truncation, options.returnOverflowingTokens === true);
      rows.push(enc);
      sample.push(i);
      texts.push([a, b]);
      if (options.returnOverflowingTokens) {
        for (const o of enc.overflowing) {
          rows.push(o);
          sample.push(i);
          texts.push([a, b]);
        }
      }
    });
    this.pad(rows, options);

    const out = withSnakeNames(options.returnTensor ? {
      inputIds: idsTensor(rows, (r) => r.ids),
      attentionMask: idsTensor(rows, (r) => r.attentionMask),
      tokenTypeIds: idsTensor(rows, (r) => r.typeIds),
    } : {
      inputIds: rows.map((r) => toNumbers(r.ids)),
      attentionMask: rows.map((r) => toNumbers(r.attentionMask)),
      tokenTypeIds: rows.map((r) => toNumbers(r.typeIds)),
    });
    if (options.returnOffsets) {
      const utf16 = options.offsetUnits === 'utf16';
      out.offsets = rows.map((r, k) => offsetsOf(r, texts[k]!, utf16));
    }
    if (options.returnTokens) out.tokens = rows.map((r) => Array.from(r.ids, (id) => this.pipeline.idToToken(id) ?? ''));
    if (options.returnSpecialTokensMask) out.specialTokensMask = rows.map((r) => toNumbers(r.specialTokensMask));
    if (options.returnSequenceIds) out.sequenceIds = rows.map((r) => Array.from(r.sequenceIds, (s) => (s < 0 ? null : s)));
    if (options.returnOverflowingTokens) out.overflowToSampleMapping = sample;
    return out;
  }

  private encodeOne(a: string, b: string | null, addSpecial: boolean, truncation: ReturnType<PreTrainedTokenizer['truncationParams']>, overflow?: boolean): Encoding;
  private encodeOne(a: string, b: string | null, addSpecial: boolean, truncation: ReturnType<PreTrainedTokenizer['truncationParams']>, overflow: boolean, idsOnly: true): number[];
  private encodeOne(a: string, b: string | null, addSpecial: boolean, truncation: ReturnType<PreTrainedTokenizer['truncationParams']>, overflow = false, idsOnly = false): Encoding | number[] {
    // A single text truncated on the right, its overflow not wanted: only its first tokens are kept, so
    // the model stops one token past them (one past, so that truncation still sees a text too long).
    let budget = Infinity;
    if (truncation && b === null && !overflow && truncation.direction === 'right' && truncation.strategy !== 'only_second') {
      const added = addSpecial && this.pipeline.postProcessor ? this.pipeline.postProcessor.addedTokens(false) : 0;
      if (truncation.maxLength >= added) budget = truncation.maxLength - added + 1;
    }
    const first = this.pipeline.encodeSequence(a, 0, budget);
    const second = b === null ? null : this.pipeline.encodeSequence(b, 1);
    return idsOnly ? this.pipeline.postProcessIds(first, second, addSpecial, truncation) : this.pipeline.postProcess(first, second, addSpecial, truncation);
  }

  private truncationParams(o: CallOptions): { maxLength: number; strategy: TruncationStrategy; stride: number; direction: TruncationDirection } | null {
    const t = o.truncation;
    if (t === undefined || t === false || t === 'do_not_truncate') {
      // transformers: a max_length given without padding nor truncation turns on longest_first truncation.
      const noPadding = o.padding === undefined || o.padding === false || o.padding === 'do_not_pad';
      if (t === undefined && o.maxLength !== undefined && noPadding) return this.truncationParams({ ...o, truncation: true });
      return null;
    }
    const strategy: TruncationStrategy = t === true ? 'longest_first' : t;
    if (!['longest_first', 'only_first', 'only_second'].includes(strategy)) throw new Error(`tokenizer: unknown truncation strategy ${JSON.stringify(t)}`);
    const maxLength = o.maxLength ?? this.modelMaxLength;
    if (!Number.isFinite(maxLength)) return null; // no limit known: nothing to truncate to
    if (!Number.isInteger(maxLength) || maxLength < 0) throw new Error(`tokenizer: maxLength must be a non-negative integer, got ${o.maxLength}`);
    const stride = o.stride ?? 0;
    if (!Number.isInteger(stride) || stride < 0) throw new Error(`tokenizer: stride must be a non-negative integer, got ${o.stride}`);
    return { maxLength, strategy, stride, direction: this.settings.truncationSide };
  }

  private pad(rows: Encoding[], o: CallOptions): void {
    const p = o.padding;
    if (p === undefined || p === false || p === 'do_not_pad') return;
    let target: number;
    if (p === true || p === 'longest') target = rows.reduce((m, r) => Math.max(m, r.length), 0);
    else if (p === 'max_length') {
      target = o.maxLength ?? this.modelMaxLength;
      if (!Number.isFinite(target)) return; // transformers warns and leaves the rows as they are
    } else throw new Error(`tokenizer: unknown padding ${JSON.stringify(p)}`);
    if (o.padToMultipleOf && target % o.padToMultipleOf) target += o.padToMultipleOf - (target % o.padToMultipleOf);
    const padId = this.padTokenId;
    for (const r of rows) r.pad(target, padId, 0, this.settings.paddingSide);
  }

  /** Ids of one text (or pair), special tokens included unless `addSpecialTokens: false`. */
  encode(text: string, textPair?: string | null, options: EitherCase<Omit<CallOptions, 'padding' | 'textPair'>> = {}): number[] {
    checkText(text, 'text');
    if (textPair != null) checkText(textPair, 'textPair');
    const o = readOptions<Omit<CallOptions, 'padding' | 'textPair'>>('encode', options, ENCODE_OPTIONS);
    return this.encodeOne(text, textPair ?? null, o.addSpecialTokens !== false, this.truncationParams(o), false, true);
  }

  /** Tokens of a text without special tokens (Python's `tokenizer.tokenize`). */
  tokenize(text: string, textPair?: string | null): string[] {
    return this.encode(text, textPair, { addSpecialTokens: false }).map((id) => this.pipeline.idToToken(id) ?? '');
  }

  decode(ids: number[], options: EitherCase<DecodeOptions> = {}): string {
    if (!Array.isArray(ids) || ids.some((id) => !Number.isInteger(id))) throw new TypeError('decode: expected an array of integer ids');
    const o = readOptions<DecodeOptions>('decode', options, DECODE_OPTIONS);
    const text = this.pipeline.decode(ids, o.skipSpecialTokens === true);
    return (o.cleanUpTokenizationSpaces ?? this.settings.cleanUpTokenizationSpaces) ? cleanupSpaces(text) : text;
  }

  batchDecode(rows: number[][], options: EitherCase<DecodeOptions> = {}): string[] {
    readOptions('batchDecode', options, DECODE_OPTIONS);
    return rows.map((r) => this.decode(r, options));
  }

  convertIdsToTokens(ids: number): string;
  convertIdsToTokens(ids: number[]): string[];
  convertIdsToTokens(ids: number | number[]): string | string[] {
    const one = (id: number): string => {
      const t = this.pipeline.idToToken(id);
      if (t === undefined) throw new RangeError(`convertIdsToTokens: id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      return t;
    };
    return Array.isArray(ids) ? ids.map(one) : one(ids);
  }

  /** Token -> id; unknown tokens give the unknown token's id, as in transformers. */
  convertTokensToIds(tokens: string): number;
  convertTokensToIds(tokens: string[]): number[];
  convertTokensToIds(tokens: string | string[]): number | number[] {
    const one = (t: string): number => this.pipeline.tokenToId(t) ?? this.unkTokenId;
    return Array.isArray(tokens) ? tokens.map(one) : one(tokens);
  }
}

const SNAKE_CASE_MEMBERS = [
  'vocabSize', 'clsToken', 'sepToken', 'padToken', 'unkToken', 'maskToken', 'bosToken', 'eosToken',
  'clsTokenId', 'sepTokenId', 'padTokenId', 'unkTokenId', 'maskTokenId', 'bosTokenId', 'eosTokenId', 'allSpecialIds',
  'allSpecialTokens', 'getVocab', 'batchDecode', 'convertIdsToTokens', 'convertTokensToIds',
] as const satisfies readonly (keyof PreTrainedTokenizer)[];
// Code written for transformers.js (or read off Python) says `tokenizer.mask_token_id`: the same getter or method.
for (const name of SNAKE_CASE_MEMBERS) {
  const member = Object.getOwnPropertyDescriptor(PreTrainedTokenizer.prototype, name)!;
  Object.defineProperty(PreTrainedTokenizer.prototype, toSnake(name), member);
}

const SNAKE_CASE_FIELDS = { input_ids: 'inputIds', attention_mask: 'attentionMask', token_type_ids: 'tokenTypeIds' } as const;

type Fields<E> = Omit<E, keyof typeof SNAKE_CASE_FIELDS>;

/** A batch encoding whose arrays are also read under transformers' names (`encoding.input_ids`). */
function withSnakeNames<E extends BatchEncoding | TensorEncoding>(fields: Fields<E>): E {
  for (const [snake, camel] of Object.entries(SNAKE_CASE_FIELDS)) {
    Object.defineProperty(fields, snake, { get: () => fields[camel], enumerable: false, configurable: true });
  }
  return fields as E;
}

/** One int64 tensor [rows, length] of a field of every row; rows of different lengths cannot make one. */
function idsTensor(rows: Encoding[], field: (r: Encoding) => ArrayLike<number>): IdsTensor {
  const n = rows.length === 0 ? 0 : field(rows[0]!).length;
  const data = new BigInt64Array(rows.length * n);
  rows.forEach((r, i) => {
    const values = field(r);
    if (values.length !== n) {
      throw new Error(`tokenizer: returnTensor needs rows of one length, but row ${i} has ${values.length} tokens and row 0 ${n}; pad them (padding: true) or truncate them to one length`);
    }
    for (let j = 0; j < n; j++) data[i * n + j] = BigInt(values[j]!);
  });
  return new IdsTensor(data, [rows.length, n]);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function checkText(v: unknown, where: string): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`tokenizer: ${where} must be a string, got ${describe(v)}`);
}

/** Accepts transformers' input shapes and returns [text, pair | null] items. */
export function normalizeInputs(text: unknown, pair?: unknown): [string, string | null][] {
  if (typeof text === 'string') {
    if (pair === undefined || pair === null) return [[text, null]];
    checkText(pair, 'the text pair');
    return [[text, pair]];
  }
  if (!Array.isArray(text)) throw new TypeError(`tokenizer: expected a string, an array of strings or an array of [text, textPair] pairs, got ${describe(text)}`);
  if (pair !== undefined && pair !== null) {
    if (!Array.isArray(pair) || pair.length !== text.length) throw new TypeError('tokenizer: the text pairs must be an array as long as the texts');
    return text.map((t, i) => {
      checkText(t, `text[${i}]`);
      checkText(pair[i], `textPair[${i}]`);
      return [t, pair[i] as string];
    });
  }
  return text.map((t, i): [string, string | null] => {
    if (typeof t === 'string') return [t, null];
    if (Array.isArray(t) && t.length === 2) {
      checkText(t[0], `text[${i}][0]`);
      checkText(t[1], `text[${i}][1]`);
      return [t[0], t[1]];
    }
    throw new TypeError(`tokenizer: text[${i}] must be a string or a [text, textPair] pair, got ${describe(t)}`);
  });
}

/** Offsets of a row, converted to code points of the text each token came from. */
function offsetsOf(r: Encoding, [a, b]: [string, string | null], utf16: boolean): [number, number][] {
  const conv = [utf16 ? null : codePointMap(a), utf16 || b === null ? null : codePointMap(b)];
  return Array.from({ length: r.length }, (_, i): [number, number] => {
    const seq = r.sequenceIds[i]!;
    if (seq < 0 || r.specialTokensMask[i] === 1) return [0, 0];
    const m = conv[seq];
    const s = r.starts[i]!;
    const e = r.ends[i]!;
    return m ? [m[s]!, m[e]!] : [s, e];
  });
}

/** UTF-16 index -> code point index, or null when the two agree (no astral characters). */
function codePointMap(t: string): Int32Array | null {
  if (!/[\ud800-\udfff]/.test(t)) return null;
  const m = new Int32Array(t.length + 1);
  let cp = 0;
  for (let i = 0; i < t.length; i++) {
    m[i] = cp;
    const c = t.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length && (t.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      m[i + 1] = cp;
      i++;
    }
    cp++;
  }
  m[t.length] = cp;
  return m;
}
