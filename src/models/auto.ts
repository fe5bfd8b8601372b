// The transformers.js-style API: AutoModel*.fromPretrained(dir) returns a callable model.
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import { readDebertaConfig } from './deberta/config.ts';
import { createModel, type DebertaModel, type HeadKind, type LoadOptions } from './create.ts';

export * from './create.ts';

/** Loads a checkpoint folder with the given head ('auto': the one in `architectures`). */
export async function loadModel(dir: string, head: HeadKind | 'auto' = 'auto', opts: LoadOptions = {}): Promise<DebertaModel> {
  const config = readDebertaConfig(dir);
  // Lazy: float32 safetensors weights go from the file to ONNX Runtime without a copy in JS.
  const { tensors, files } = loadCheckpointTensors(dir, { lazy: true });
  const file = files.length === 1 ? files[0]! : `${dir} (${files.length} shards)`;
  return createModel(config, tensors, head, { ...opts, dir, file });
}

function autoClass(head: HeadKind | 'auto') {
  return { fromPretrained: (dir: string, opts: LoadOptions = {}) => loadModel(dir, head, opts) };
}

/** The bare encoder (like transformers' AutoModel); `loadModel(dir)` follows `architectures` instead. */
export const AutoModel = autoClass('base');
export const AutoModelForMaskedLM = autoClass('masked-lm');
export const AutoModelForSequenceClassification = autoClass('sequence-classification');
export const AutoModelForTokenClassification = autoClass('token-classification');
export const AutoModelForQuestionAnswering = autoClass('question-answering');
export const AutoModelForMultipleChoice = autoClass('multiple-choice');
