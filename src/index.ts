// deberta-ts: DeBERTa v1/v2/v3 for TypeScript. The public API.
export {
  AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification, AutoModelForTokenClassification,
  AutoModelForQuestionAnswering, AutoModelForMultipleChoice, loadModel, createModel, headFromConfig,
  type DebertaModel, type LoadOptions, type ModelInputs, type ModelOutputs, type OutputTensor, type HeadKind,
} from './models/auto.ts';
export { AutoTokenizer } from './tokenizers/index.ts';
export { readDebertaConfig, parseDebertaConfig, writeDebertaConfig, type DebertaConfig } from './models/deberta/config.ts';
export { readSafetensors, writeSafetensors, parseSafetensors } from './io/safetensors.ts';
export { readTorchCheckpoint } from './io/torch-pickle.ts';
export { loadCheckpointTensors } from './io/checkpoint.ts';
export { Graph } from './graph/graph.ts';
export * as F from './graph/functional.ts';
export { Session } from './runtime/session.ts';
export { emitOnnx } from './runtime/onnx-emit.ts';
export { setOrt } from './runtime/ort.ts';
export type { Tensor, DType } from './tensor.ts';
export { pipeline } from './pipelines/index.ts';
