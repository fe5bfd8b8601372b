// The public API that Node and browsers share. The entry points (./index.ts for Node, ./browser.ts for
// browsers) register their platform and re-export this; nothing here touches files or Node built-ins.
export {
  AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoModelForTokenClassification,
  AutoModelForQuestionAnswering, AutoModelForMultipleChoice, loadModel, createModel, headFromConfig,
  DebertaModel, DebertaForMaskedLM, DebertaForSequenceClassification, DebertaForTokenClassification, DebertaForQuestionAnswering,
  DebertaV2Model, DebertaV2ForMaskedLM, DebertaV2ForSequenceClassification, DebertaV2ForTokenClassification,
  DebertaV2ForQuestionAnswering, DebertaV2ForMultipleChoice,
  type LoadOptions, type ModelOptions, type ModelInputs, type ModelInputsSnakeCase, type ModelOutputs, type OutputTensor, type HeadKind,
} from './models/auto.ts';
export {
  AutoTokenizer, DebertaTokenizer, DebertaV2Tokenizer, PreTrainedTokenizer, type BatchEncoding, type TensorEncoding, type CallOptions, type DecodeOptions, type TextInput,
  type FromPretrainedOptions,
} from './tokenizers/index.ts';
export { parseDebertaConfig, loadDebertaConfig, debertaConfigToJson, type DebertaConfig } from './models/deberta/config.ts';
export { parseSafetensors, type SafetensorsFile } from './io/safetensors-format.ts';
export { parseTorchCheckpoint } from './io/torch-pickle.ts';
export { loadCheckpointTensors, type LoadedCheckpoint } from './io/checkpoint.ts';
export { loaderLimits } from './io/limits.ts';
export { memoryFiles, urlFiles, type ModelFiles } from './io/files.ts';
export { isHubId, type HubOptions, type ProgressInfo, type ProgressCallback } from './hub/id.ts';
export { Graph } from './graph/graph.ts';
export * as F from './graph/functional.ts';
export { Session, type SessionOptions, type ExecutionProvider } from './runtime/session.ts';
export { emitOnnx } from './runtime/onnx-emit.ts';
export { setOrt, type Ort } from './runtime/ort.ts';
export { configureRuntime, type RuntimeOptions } from './platform/index.ts';
export { env, type Env } from './env.ts';
export type { Tensor, DType, IdsTensor } from './tensor.ts';
export * from './pipelines/index.ts';
