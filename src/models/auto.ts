// The transformers.js-style API: AutoModel*.fromPretrained(ref) returns a callable model. `ref` is what the
// platform opens (Node: a folder path, URL or Hub id; browsers: a URL or Hub id), or a ModelFiles source.
import { loadCheckpointTensors } from '../io/checkpoint.ts';
import type { ModelFiles } from '../io/files.ts';
import { openFiles } from '../platform/index.ts';
import { loadDebertaConfig } from './deberta/config.ts';
import { createModel, type DebertaModel, type HeadKind, type LoadOptions } from './create.ts';

export * from './create.ts';

/** Loads a checkpoint with the given head ('auto': the one in `architectures`). */
export async function loadModel(ref: string | ModelFiles, head: HeadKind | 'auto' = 'auto', opts: LoadOptions = {}): Promise<DebertaModel> {
  const src = await openFiles(ref, opts);
  const config = await loadDebertaConfig(src);
  // Lazy: float32 safetensors weights go from the file to ONNX Runtime without a copy in JS.
  const { tensors, files } = await loadCheckpointTensors(src, { lazy: true });
  const file = files.length === 1 ? files[0]! : `${src.where} (${files.length} shards)`;
  return createModel(config, tensors, head, { ...opts, dir: src.where, file });
}

// `from_pretrained` as transformers.js (and Python) spell it.
function autoClass(head: HeadKind | 'auto') {
  const fromPretrained = (ref: string | ModelFiles, opts: LoadOptions = {}) => loadModel(ref, head, opts);
  return { fromPretrained, from_pretrained: fromPretrained };
}

/** The bare encoder (like transformers' AutoModel); `loadModel(dir)` follows `architectures` instead. */
export const AutoModel = autoClass('base');
export const AutoModelForMaskedLM = autoClass('masked-lm');
export const AutoModelForSequenceClassification = autoClass('sequence-classification');
export const AutoModelForTokenClassification = autoClass('token-classification');
export const AutoModelForQuestionAnswering = autoClass('question-answering');
export const AutoModelForMultipleChoice = autoClass('multiple-choice');
