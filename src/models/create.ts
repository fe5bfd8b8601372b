// Builds a callable model from a config and weights in memory. No file system: browsers use it too.
import { Graph } from '../graph/graph.ts';
import type { HubOptions } from '../hub/id.ts';
import { quantizeGraphForInference } from '../runtime/quantize.ts';
import { cpuOnly, Session, type ExecutionProvider } from '../runtime/session.ts';
import { OutputTensor, toFloat32, type Tensor } from '../tensor.ts';
import { platform } from '../platform/index.ts';
import type { DebertaConfig } from './deberta/config.ts';
import { buildDeberta, type BuildOptions, type DebertaGraph, type HeadKind } from './deberta/modeling.ts';
import type { Value } from '../graph/value.ts';
import { bindWeights } from './deberta/weights.ts';
import { checkInputs, filled, readInputs, toInt64, type ModelInputs, type ModelInputsSnakeCase } from './inputs.ts';

export type { ModelInputs, ModelInputsSnakeCase } from './inputs.ts';
export type { HeadKind } from './deberta/modeling.ts';

export { OutputTensor };
export type ModelOutputs = Record<string, OutputTensor>;

export interface LoadOptions extends BuildOptions, HubOptions {
  /** Intra-op threads (default: all cores). */
  threads?: number;
  /** ONNX Runtime execution providers (default ['cpu']; 'webgpu'; in browsers e.g. ['webgpu', 'wasm']). */
  executionProviders?: ExecutionProvider[];
  /** 'int8': dynamic int8 quantisation of the matrix products with constant weights. */
  quantize?: 'int8';
  /**
   * ONNX Runtime's prepacking of the weight matrices (default true): products 6–10 % faster, for a packed
   * copy of every weight made at load. `false` skips that copy: a big model loads much faster where fresh
   * memory is slow to touch (1.5 B parameters: 4.5 s instead of 75 s on this project's development VM).
   */
  prepack?: boolean;
}

export interface DebertaModel {
  (inputs: ModelInputs | ModelInputsSnakeCase): Promise<ModelOutputs>;
  readonly config: DebertaConfig;
  readonly head: HeadKind;
  readonly dir: string;
  dispose(): Promise<void>;
}

const ARCHITECTURE_HEADS: [RegExp, HeadKind][] = [
  [/ForMaskedLM$/, 'masked-lm'],
  [/ForSequenceClassification$/, 'sequence-classification'],
  [/ForTokenClassification$/, 'token-classification'],
  [/ForQuestionAnswering$/, 'question-answering'],
  [/ForMultipleChoice$/, 'multiple-choice'],
  [/Model$/, 'base'],
];

/** The head a checkpoint was saved with, from config.json's `architectures`. */
export function headFromConfig(c: DebertaConfig): HeadKind {
  const arch = c.architectures?.[0];
  if (!arch) return 'base';
  for (const [re, head] of ARCHITECTURE_HEADS) if (re.test(arch)) return head;
  throw new Error(`config.json: unsupported architecture '${arch}'`);
}

export interface ModelGraph {
  graph: Graph;
  head: HeadKind;
  inputs: DebertaGraph['inputs'];
  /** By transformers' output names (`logits`, `last_hidden_state`, `start_logits`, ...). */
  outputs: Record<string, Value>;
  /** The longest sequence the graph accepts (absolute positions, relative-position tables), and what sets it. */
  maxLength: { tokens: number; why: string };
}

/** The model's graph with the checkpoint's weights bound: what `createModel` runs and `deberta export` writes. */
export function buildModelGraph(config: DebertaConfig, tensors: Map<string, Tensor>, head: HeadKind | 'auto' = 'auto',
  opts: BuildOptions & { file?: string } = {}): ModelGraph {
  const file = opts.file ?? 'weights';
  const kind = head === 'auto' ? headFromConfig(config) : head;
  const prefix = [...tensors.keys()].some((k) => k.startsWith('deberta.')) ? 'deberta.' : '';
  const layout = tensors.has('lm_predictions.lm_head.bias') ? 'lm_head' : tensors.has('cls.predictions.bias') ? 'cls' : undefined;
  // Microsoft's masked-LM checkpoints keep absolute positions for the Enhanced Mask Decoder only.
  const emdCapable = kind === 'masked-lm' && layout === 'lm_head' && !config.position_biased_input
    && tensors.has(`${prefix}embeddings.position_embeddings.weight`);
  const g = new Graph();
  const binding = bindWeights(g, tensors, { file, dtype: opts.dtype });
  const built = buildDeberta(g, config, binding.source, kind, prefix, { mlmLayout: layout, ...opts, emd: opts.emd ?? emdCapable });
  // Half-precision activations, float32 results: callers and pipelines read float32 either way.
  const outputs = opts.dtype === 'float16'
    ? Object.fromEntries(Object.entries(built.outputs).map(([k, v]) => [k, v.dtype === 'float16' ? v.cast('float32') : v]))
    : built.outputs;
  const extra = binding.unexpected();
  if (extra.length) throw new Error(`${file}: unexpected weights for this model: ${extra.slice(0, 8).map((k) => `'${k}'`).join(', ')}${extra.length > 8 ? ` and ${extra.length - 8} more` : ''}`);
  const emd = opts.emd ?? emdCapable;
  const relLimit = config.relative_attention ? opts.maxLength ?? 4096 : Infinity;
  const posLimit = config.position_biased_input || emd ? config.max_position_embeddings : Infinity;
  const maxLength = posLimit <= relLimit
    ? { tokens: posLimit, why: 'max_position_embeddings in config.json' }
    : { tokens: relLimit, why: `the relative-position tables; load with { maxLength } for longer` };
  return { graph: g, head: kind, inputs: built.inputs, outputs, maxLength };
}

/** Builds a model from a config and weights already in memory (`file` names their source in errors). */
export async function createModel(config: DebertaConfig, tensors: Map<string, Tensor>, head: HeadKind | 'auto' = 'auto',
  opts: LoadOptions & { dir?: string; file?: string } = {}): Promise<DebertaModel> {
  const dir = opts.dir ?? '';
  if (opts.quantize === 'int8' && opts.dtype === 'float16') throw new TypeError("createModel: quantize 'int8' and dtype float16 exclude each other (int8 products take float32 activations)");
  // Skipping padding needs NonZero, which only the CPU provider is sure to run. On a GPU, relative attention
  // shifts rows rather than gathering through an index built on the CPU and uploaded every call (WebGPU on an
  // H200, v3-base float32: 1 × 128 25 → 13 ms, 32 × 512 377 → 286 ms; docs/perf.md).
  const cpu = cpuOnly(opts.executionProviders);
  const skipPadding = opts.skipPadding ?? cpu;
  const relativeShift = opts.relativeShift ?? !cpu;
  const { graph, head: kind, maxLength, ...built } = buildModelGraph(config, tensors, head, { ...opts, skipPadding, relativeShift });
  // int8: the constant-weight matrix products run as dynamically quantised ones (src/runtime/quantize.ts).
  const q = opts.quantize === 'int8' ? quantizeGraphForInference(graph, built.outputs) : undefined;
  // Weights not in a file ONNX Runtime can read (converted float16, a deflated or big-endian torch storage)
  // go to it through a side file, streamed there, rather than inside the model's protobuf, which would
  // hold more copies of them while the session loads. Beside weights in files, up to 64 MiB may stay inline.
  const runGraph = q?.graph ?? graph;
  const region = platform().weightRegion;
  const inFiles = region !== undefined && [...runGraph.params.values()].some((v) => v.constValue && region(v.constValue));
  const externalAbove = region === undefined ? undefined : inFiles ? 64 * 2 ** 20 : 0;
  const session = await Session.fromGraph(runGraph, { outputs: q?.outputs ?? built.outputs, ...(externalAbove === undefined ? {} : { externalAbove }) },
    { threads: opts.threads, executionProviders: opts.executionProviders, ...(opts.prepack === undefined ? {} : { prepack: opts.prepack }) });
  const rank = kind === 'multiple-choice' ? 3 : 2;
  const usesTypes = Boolean(built.inputs.tokenTypeIds);

  const run = async (given: ModelInputs | ModelInputsSnakeCase): Promise<ModelOutputs> => {
    const inputs = readInputs(given);
    const ids = toInt64(inputs.inputIds, 'inputIds', rank);
    const feeds: Record<string, Tensor> = {
      input_ids: ids,
      attention_mask: inputs.attentionMask ? toInt64(inputs.attentionMask, 'attentionMask', rank) : filled(ids.dims, 1),
    };
    if (usesTypes) feeds.token_type_ids = inputs.tokenTypeIds ? toInt64(inputs.tokenTypeIds, 'tokenTypeIds', rank) : filled(ids.dims, 0);
    for (const [k, t] of Object.entries(feeds)) {
      if (t.dims.join() !== ids.dims.join()) throw new Error(`model input: ${k} has dims [${t.dims}], inputIds [${ids.dims}]`);
    }
    checkInputs(feeds as { input_ids: Tensor; token_type_ids?: Tensor }, {
      vocabSize: config.vocab_size, typeVocabSize: config.type_vocab_size, maxLength: maxLength.tokens, maxLengthWhy: maxLength.why,
    });
    const out = await session.run(feeds).catch((e: Error) => {
      // ONNX Runtime compiles a float16 kernel at its first run, and refuses where the adapter lacks shader-f16.
      if (opts.dtype === 'float16' && /requires f16 but the device does not support it/.test(e.message)) {
        throw new Error(`dtype 'fp16' needs a GPU whose WebGPU adapter has the 'shader-f16' feature, and this one lacks it; load with dtype 'fp32' (ONNX Runtime: ${e.message})`);
      }
      throw e;
    });
    const result: ModelOutputs = {};
    for (const [k, t] of Object.entries(out)) {
      const value = new OutputTensor(toFloat32(t), t.dims);
      result[camel(k)] = value;
      // Also under transformers' own name (`out.last_hidden_state`), kept out of JSON and spreads.
      if (camel(k) !== k) Object.defineProperty(result, k, { value, enumerable: false });
    }
    return result;
  };
  return Object.assign(run, { config, head: kind, dir, dispose: () => session.release() });
}

/** transformers' snake_case output names in the JS style (`last_hidden_state` -> `lastHiddenState`). */
export function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
}

