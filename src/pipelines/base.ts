// What every pipeline shares: loading a checkpoint folder with its tokenizer for a task, running encoded
// rows through the model in length-sorted batches with dynamic padding (each batch padded only to its own
// longest row, results handed back in input order), and the small numeric helpers of post-processing.
import { DEVICES, DTYPES, headFromConfig, loadModel, type DebertaModel, type Device, type Dtype, type HeadKind, type ModelOptions, type ModelOutputs, type OutputTensor } from '../models/auto.ts';
import { loadDebertaConfig } from '../models/deberta/config.ts';
import type { ModelFiles } from '../io/files.ts';
import type { HubOptions } from '../hub/id.ts';
import { openFiles } from '../platform/index.ts';
import { AutoTokenizer, PreTrainedTokenizer } from '../tokenizers/index.ts';

export { DEVICES, DTYPES, type Device, type Dtype };

/** Hub options (`revision`, `cacheDir`, `token`, `localFilesOnly`, `progress_callback`) apply where the model is a Hub id. */
export interface PipelineOptions extends HubOptions {
  /** Intra-op threads of the ONNX Runtime session (default: all cores). */
  threads?: number;
  /** Where the model runs: 'cpu' (default) or 'webgpu' (ONNX Runtime's WebGPU execution provider). */
  device?: Device;
  /** Rows per model call (default 8). */
  batchSize?: number;
  /** Longest row in tokens, special tokens included (default: the tokenizer's limit, else the config's max_position_embeddings). */
  maxLength?: number;
  /** Where to read the tokenizer (a folder, URL or files), or a tokenizer (default: the model's own files). */
  tokenizer?: string | ModelFiles | PreTrainedTokenizer;
  /**
   * Weights' precision, in transformers.js' words: 'fp32' (default), 'fp16' (half precision, for GPUs with
   * `shader-f16`), or 'q8' / 'int8' (dynamic int8 matrix products).
   */
  dtype?: Dtype;
}

/** The names `pipeline()` takes in its options (either spelling: `batchSize` or `batch_size`, …). */
export const PIPELINE_OPTIONS = ['threads', 'device', 'batchSize', 'maxLength', 'tokenizer', 'dtype',
  'revision', 'cacheDir', 'token', 'localFilesOnly', 'endpoint', 'progress_callback'] as const;

/** Options every pipeline call takes. */
export interface RunOptions {
  /** Overrides the pipeline's batch size for this call. */
  batchSize?: number;
  /** Called after each model batch with the rows done and the rows in all (a long input may take several rows). */
  onProgress?: (done: number, total: number) => void;
}

/** What a pipeline object carries besides being callable. */
export interface PipelineBase {
  readonly task: string;
  readonly model: DebertaModel;
  readonly tokenizer: PreTrainedTokenizer;
  readonly batchSize: number;
  readonly maxLength: number;
  dispose(): Promise<void>;
}

export interface Loaded {
  task: string;
  dir: string;
  model: DebertaModel;
  tokenizer: PreTrainedTokenizer;
  batchSize: number;
  maxLength: number;
}

const HEAD_NAMES: Record<HeadKind, string> = {
  base: 'bare encoder', 'masked-lm': 'masked-LM (…ForMaskedLM)', 'sequence-classification': 'sequence-classification (…ForSequenceClassification)',
  'token-classification': 'token-classification (…ForTokenClassification)', 'question-answering': 'question-answering (…ForQuestionAnswering)',
  'multiple-choice': 'multiple-choice (…ForMultipleChoice)',
};

/**
 * Loads the checkpoint `ref` with the head `task` needs, and its tokenizer; checks that the two fit together.
 * `modelOptions`: build options that depend on the tokenizer (fill-mask predicts at its mask token only).
 */
export async function loadForTask(task: string, ref: string | ModelFiles, head: HeadKind, opts: PipelineOptions = {},
  modelOptions?: (tokenizer: PreTrainedTokenizer) => ModelOptions): Promise<Loaded> {
  const batchSize = opts.batchSize ?? 8;
  checkPositiveInt(batchSize, 'batchSize');
  if (opts.maxLength !== undefined) checkPositiveInt(opts.maxLength, 'maxLength');
  const hub: HubOptions = { revision: opts.revision, cacheDir: opts.cacheDir, token: opts.token, localFilesOnly: opts.localFilesOnly,
    endpoint: opts.endpoint, progress_callback: opts.progress_callback };
  const files = await openFiles(ref, hub);
  const dir = files.where;
  const config = await loadDebertaConfig(files);
  // A checkpoint saved with another head would fail on a missing weight; say what is wrong instead.
  // Any checkpoint has the encoder, so the bare model (feature extraction) loads from all of them.
  if (head !== 'base' && config.architectures.length > 0) {
    const saved = headFromConfig(config);
    if (saved !== head) {
      throw new Error(`${task}: ${dir} holds a ${config.architectures[0]} checkpoint; this task needs a ${HEAD_NAMES[head]} model`);
    }
  }
  const tokenizer = opts.tokenizer instanceof PreTrainedTokenizer ? opts.tokenizer : await AutoTokenizer.fromPretrained(opts.tokenizer ?? files, hub);
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new Error(`${task}: the tokenizer has ${tokenizer.vocabSize} ids but ${dir}/config.json has vocab_size ${config.vocab_size}; they do not belong together`);
  }
  const maxLength = opts.maxLength ?? (Number.isFinite(tokenizer.modelMaxLength) ? tokenizer.modelMaxLength
    : config.max_position_embeddings > 0 ? config.max_position_embeddings : 512);
  if (config.position_biased_input && maxLength > config.max_position_embeddings) {
    throw new Error(`${task}: maxLength ${maxLength} exceeds the model's ${config.max_position_embeddings} absolute positions (max_position_embeddings)`);
  }
  // The relative-position tables cover 4096 tokens unless asked for more.
  const device = opts.device ?? 'cpu';
  if (!DEVICES.includes(device)) throw new Error(`${task}: unknown device '${device}' (use ${DEVICES.map((d) => `'${d}'`).join(' or ')})`);
  const dtype = opts.dtype ?? 'fp32';
  if (!DTYPES.includes(dtype)) throw new Error(`${task}: unsupported dtype '${dtype}' (use ${DTYPES.map((d) => `'${d}'`).join(', ')})`);
  const model = await loadModel(files, head, {
    ...modelOptions?.(tokenizer),
    threads: opts.threads, executionProviders: [device], ...(dtype === 'fp32' ? {} : { quantize: 'int8' as const }), ...(maxLength > 4096 ? { maxLength } : {}),
  });
  opts.progress_callback?.({ status: 'ready', name: dir, task, model: typeof ref === 'string' ? ref : dir });
  return { task, dir, model, tokenizer, batchSize, maxLength };
}

/** Makes `fn` a pipeline object: callable, with the model, tokenizer and settings attached. */
export function makePipeline<F extends object>(loaded: Loaded, fn: F): F & PipelineBase {
  const { task, model, tokenizer, batchSize, maxLength } = loaded;
  return Object.assign(fn, { task, model, tokenizer, batchSize, maxLength, dispose: () => model.dispose() });
}

/** One encoded row: what the model reads. */
export interface Row {
  ids: number[];
  typeIds: number[];
}

/**
 * Runs rows through the model, longest first, `batchSize` at a time, each batch padded to its own longest
 * row (padding on the right whatever the tokenizer's side: every row then starts at position 0).
 * `take(outputs, b, i)` reads row `i` of the input, which is row `b` of `outputs`; results come back in input order.
 */
export async function runRows<R>(model: DebertaModel, rows: Row[], padId: number, opts: { batchSize: number; onProgress?: RunOptions['onProgress'] },
  take: (out: ModelOutputs, b: number, i: number) => R): Promise<R[]> {
  checkPositiveInt(opts.batchSize, 'batchSize');
  const order = rows.map((_, i) => i).sort((a, b) => rows[b]!.ids.length - rows[a]!.ids.length || a - b);
  const results = new Array<R>(rows.length);
  for (let s = 0; s < order.length; s += opts.batchSize) {
    const chunk = order.slice(s, s + opts.batchSize);
    const n = rows[chunk[0]!]!.ids.length;
    const pad = (xs: number[], v: number) => (xs.length === n ? xs : xs.concat(new Array<number>(n - xs.length).fill(v)));
    const out = await model({
      inputIds: chunk.map((i) => pad(rows[i]!.ids, padId)),
      attentionMask: chunk.map((i) => pad(new Array<number>(rows[i]!.ids.length).fill(1), 0)),
      tokenTypeIds: chunk.map((i) => pad(rows[i]!.typeIds, 0)),
    });
    chunk.forEach((i, b) => { results[i] = take(out, b, i); });
    opts.onProgress?.(s + chunk.length, rows.length);
  }
  return results;
}

/** Row `b` of a `[batch, ...]` output, flattened. */
export function rowOf(t: OutputTensor, b: number): Float32Array {
  const size = t.dims.slice(1).reduce((x, y) => x * y, 1);
  return t.data.subarray(b * size, (b + 1) * size);
}

/** Position `i` of row `b` of a `[batch, length, width]` output. */
export function tokenOf(t: OutputTensor, b: number, i: number): Float32Array {
  const [, n, w] = t.dims as [number, number, number];
  const at = (b * n + i) * w;
  return t.data.subarray(at, at + w);
}

export function output(out: ModelOutputs, name: string): OutputTensor {
  const t = out[name];
  if (!t) throw new Error(`model output '${name}' is missing (got ${Object.keys(out).join(', ')})`);
  return t;
}

export function softmax(x: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]!);
  const e = Array.from(x, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Indices of the `k` largest values, largest first (ties: lower index first). */
export function topIndices(x: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: x.length }, (_, i) => i);
  if (k >= x.length) return idx.sort((a, b) => x[b]! - x[a]! || a - b);
  // Partial selection: keep a sorted list of the best k (k is small next to a vocabulary).
  const best: number[] = [];
  for (const i of idx) {
    if (best.length === k && x[i]! <= x[best[k - 1]!]!) continue;
    let j = best.length;
    while (j > 0 && x[best[j - 1]!]! < x[i]!) j--;
    best.splice(j, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Moves a character span inward past whitespace at either end: Metaspace tokens start at the space before the word. */
export function trimSpan(text: string, start: number, end: number): [number, number] {
  while (start < end && /\s/.test(text[start]!)) start++;
  while (end > start && /\s/.test(text[end - 1]!)) end--;
  return [start, end];
}

export function checkPositiveInt(v: unknown, name: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
}

export function checkText(v: unknown, where: string): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${where} must be a string, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
}

/** The label of a class index (transformers' LABEL_<i> when the config names none). */
export function labelOf(model: DebertaModel, i: number): string {
  return model.config.id2label[i] ?? `LABEL_${i}`;
}
