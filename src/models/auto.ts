// The transformers.js-style API: AutoModel*.fromPretrained(ref) returns a callable model. `ref` is what the
// platform opens (Node: a folder path, URL or Hub id; browsers: a URL or Hub id), or a ModelFiles source.
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import type { ModelFiles } from '../io/files.ts';
import { openFiles } from '../platform/index.ts';
import { HUB_OPTIONS, type HubOptions } from '../hub/id.ts';
import { readOptions, type EitherCase } from '../util/options.ts';
import { loadDebertaConfig, type DebertaConfig } from './deberta/config.ts';
import { createModel, type DebertaModel as LoadedModel, type HeadKind, type LoadOptions } from './create.ts';

export * from './create.ts';

export const DEVICES = ['cpu', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];
/**
 * Weights' precision in transformers.js' words: 'fp32', 'fp16' (half-precision weights and activations, for
 * GPUs with `shader-f16`), or 'q8' / 'int8' (dynamic int8 matrix products).
 */
export const DTYPES = ['fp32', 'fp16', 'q8', 'int8'] as const;
export type Dtype = (typeof DTYPES)[number];

/**
 * What loading takes: LoadOptions less the graph's own settings for training (activation dtype, dropout),
 * plus transformers.js' `device` and `dtype`. Either spelling of each name (`cache_dir`, `local_files_only`).
 */
export interface ModelOptions extends Omit<LoadOptions, 'dtype' | 'dropout' | 'relativeRowsFirst'> {
  /** 'cpu' or 'webgpu': the same as `executionProviders: [device]`. */
  device?: Device;
  /** 'q8' or 'int8': the same as `quantize: 'int8'`; 'fp16': float16 weights and activations; 'fp32': float32 (the default). */
  dtype?: Dtype;
}

// Listed as a record so that the compiler holds the list to the interface.
const MODEL_OPTIONS = [...Object.keys({
  threads: 1, executionProviders: 1, quantize: 1, prepack: 1, device: 1, dtype: 1, hiddenStates: 1, attentions: 1, maxLength: 1,
  skipPadding: 1, relativeShift: 1, mlmLayout: 1, emd: 1, maskLogitsFor: 1,
} satisfies Record<Exclude<keyof ModelOptions, keyof HubOptions>, 1>), ...HUB_OPTIONS];

/** The options as createModel takes them; unknown names, devices and dtypes are errors that name them. */
function loadOptions(where: string, given: unknown): LoadOptions {
  const { device, dtype, ...rest } = readOptions<ModelOptions>(where, given, MODEL_OPTIONS);
  if (device !== undefined && !DEVICES.includes(device)) throw new Error(`${where}: unknown device '${device}' (use ${DEVICES.map((d) => `'${d}'`).join(' or ')})`);
  if (dtype !== undefined && !DTYPES.includes(dtype)) throw new Error(`${where}: unsupported dtype '${dtype}' (use ${DTYPES.map((d) => `'${d}'`).join(', ')})`);
  if (device !== undefined && rest.executionProviders !== undefined) throw new TypeError(`${where}: give device or executionProviders, not both`);
  if ((dtype === 'fp32' || dtype === 'fp16') && rest.quantize !== undefined) throw new TypeError(`${where}: dtype '${dtype}' and quantize '${rest.quantize}' contradict each other`);
  return {
    ...rest, ...(device ? { executionProviders: [device] } : {}),
    ...(dtype === 'q8' || dtype === 'int8' ? { quantize: 'int8' as const } : dtype === 'fp16' ? { dtype: 'float16' as const } : {}),
  };
}

async function load(where: string, ref: string | ModelFiles, head: HeadKind | 'auto', given: ModelOptions | undefined, family?: Family): Promise<LoadedModel> {
  const opts = loadOptions(where, given);
  const src = await openFiles(ref, opts);
  const config = await loadDebertaConfig(src);
  if (family && config.model_type !== family.modelType) {
    const other = FAMILIES.find((f) => f.modelType === config.model_type)!;
    throw new Error(`${where}: ${src.where} is a ${other.name} checkpoint (model_type "${config.model_type}"); load it with ${where.replace(family.prefix, other.prefix).replace(/\.\w+$/, '')} or the Auto class of the same head`);
  }
  // Lazy: float32 safetensors weights go from the file to ONNX Runtime without a copy in JS.
  const { tensors, files } = await loadCheckpointTensors(src, { lazy: true });
  const file = files.length === 1 ? files[0]! : `${src.where} (${files.length} shards)`;
  return createModel(config, tensors, head, { ...opts, dir: src.where, file });
}

/** Loads a checkpoint with the given head ('auto': the one in `architectures`). */
export function loadModel(ref: string | ModelFiles, head: HeadKind | 'auto' = 'auto', opts: EitherCase<ModelOptions> = {}): Promise<LoadedModel> {
  return load('loadModel', ref, head, opts);
}

// `from_pretrained` as transformers.js (and Python) spell it.
function autoClass(name: string, head: HeadKind | 'auto', family?: Family) {
  const fromPretrained = (ref: string | ModelFiles, opts: EitherCase<ModelOptions> = {}) => load(`${name}.fromPretrained`, ref, head, opts, family);
  return { fromPretrained, from_pretrained: fromPretrained };
}

/** A model family's classes (`DebertaV2ForSequenceClassification`, …): the Auto class of the head, for that model_type only. */
interface Family { prefix: string; modelType: DebertaConfig['model_type']; name: string }
const FAMILIES: Family[] = [
  { prefix: 'DebertaV2', modelType: 'deberta-v2', name: 'DeBERTa-v2/v3' },
  { prefix: 'Deberta', modelType: 'deberta', name: 'DeBERTa (v1)' },
];
const [V2, V1] = FAMILIES as [Family, Family];

/** A checkpoint's config.json, parsed and checked, as transformers' AutoConfig reads it (folder, URL, Hub id or ModelFiles). */
async function loadConfig(ref: string | ModelFiles, given?: EitherCase<HubOptions>): Promise<DebertaConfig> {
  const opts = readOptions<HubOptions>('AutoConfig.fromPretrained', given, HUB_OPTIONS);
  return loadDebertaConfig(await openFiles(ref, opts));
}
export const AutoConfig = { fromPretrained: loadConfig, from_pretrained: loadConfig };

/** The bare encoder (like transformers' AutoModel); `loadModel(dir)` follows `architectures` instead. */
export const AutoModel = autoClass('AutoModel', 'base');
export const AutoModelForMaskedLM = autoClass('AutoModelForMaskedLM', 'masked-lm');
export const AutoModelForSequenceClassification = autoClass('AutoModelForSequenceClassification', 'sequence-classification');
export const AutoModelForTokenClassification = autoClass('AutoModelForTokenClassification', 'token-classification');
export const AutoModelForQuestionAnswering = autoClass('AutoModelForQuestionAnswering', 'question-answering');
export const AutoModelForMultipleChoice = autoClass('AutoModelForMultipleChoice', 'multiple-choice');

// transformers' (and transformers.js') class names, for code that names the family.
export const DebertaModel = autoClass('DebertaModel', 'base', V1);
/** A loaded model, whichever class loaded it (the type keeps this name; the value above is v1's bare encoder). */
export type DebertaModel = LoadedModel;
export const DebertaForMaskedLM = autoClass('DebertaForMaskedLM', 'masked-lm', V1);
export const DebertaForSequenceClassification = autoClass('DebertaForSequenceClassification', 'sequence-classification', V1);
export const DebertaForTokenClassification = autoClass('DebertaForTokenClassification', 'token-classification', V1);
export const DebertaForQuestionAnswering = autoClass('DebertaForQuestionAnswering', 'question-answering', V1);
export const DebertaV2Model = autoClass('DebertaV2Model', 'base', V2);
export const DebertaV2ForMaskedLM = autoClass('DebertaV2ForMaskedLM', 'masked-lm', V2);
export const DebertaV2ForSequenceClassification = autoClass('DebertaV2ForSequenceClassification', 'sequence-classification', V2);
export const DebertaV2ForTokenClassification = autoClass('DebertaV2ForTokenClassification', 'token-classification', V2);
export const DebertaV2ForQuestionAnswering = autoClass('DebertaV2ForQuestionAnswering', 'question-answering', V2);
export const DebertaV2ForMultipleChoice = autoClass('DebertaV2ForMultipleChoice', 'multiple-choice', V2);
