// `pipeline(task, model, options)`: transformers' task pipelines over a checkpoint (config.json, weights and
// tokenizer files) that the platform opens: a folder path in Node, a URL anywhere, or ModelFiles. Without
// a model, the task's embedded default model (src/pipelines/defaults.ts).
// Options are camelCase; results keep transformers' field names (token_str, entity_group...), so they
// compare with Python's directly.
import type { ModelFiles } from '../io/files.ts';
import { PIPELINE_OPTIONS, type PipelineOptions } from './base.ts';
import { readOptions } from './options.ts';
import type { EitherCase } from '../util/options.ts';
import { defaultModelDir } from './defaults.ts';
import { featureExtractionPipeline, type FeatureExtractionPipeline } from './feature-extraction.ts';
import { fillMaskPipeline, type FillMaskPipeline } from './fill-mask.ts';
import { questionAnsweringPipeline, type QuestionAnsweringPipeline } from './question-answering.ts';
import { rerankPipeline, type RerankPipeline } from './rerank.ts';
import { resolveTask, type Task, type TaskAlias, type TaskOfAlias } from './tasks.ts';
import { textClassificationPipeline, type TextClassificationPipeline } from './text-classification.ts';
import { tokenClassificationPipeline, type TokenClassificationPipeline } from './token-classification.ts';
import { zeroShotPipeline, type ZeroShotClassificationPipeline } from './zero-shot.ts';

export interface PipelineByTask {
  'fill-mask': FillMaskPipeline;
  'text-classification': TextClassificationPipeline;
  'zero-shot-classification': ZeroShotClassificationPipeline;
  'token-classification': TokenClassificationPipeline;
  'question-answering': QuestionAnsweringPipeline;
  'feature-extraction': FeatureExtractionPipeline;
  rerank: RerankPipeline;
}
type AliasTargets = { [A in TaskAlias]: PipelineByTask[TaskOfAlias<A>] };
export type PipelineFor = PipelineByTask & AliasTargets;
export type TaskName = keyof PipelineFor;
export type AnyPipeline = PipelineByTask[Task];

const BUILDERS: { [T in Task]: (model: string | ModelFiles, o: PipelineOptions) => Promise<PipelineByTask[T]> } = {
  'fill-mask': fillMaskPipeline,
  'text-classification': textClassificationPipeline,
  'zero-shot-classification': zeroShotPipeline,
  'token-classification': tokenClassificationPipeline,
  'question-answering': questionAnsweringPipeline,
  'feature-extraction': featureExtractionPipeline,
  rerank: rerankPipeline,
};

/** Loads the pipeline of `task` (a task name or alias such as 'ner') over the checkpoint `model`. */
export async function pipeline<T extends TaskName>(task: T, model?: string | ModelFiles | null, options?: EitherCase<PipelineOptions>): Promise<PipelineFor[T]>;
export async function pipeline(task: string, model?: string | ModelFiles | null, options?: EitherCase<PipelineOptions>): Promise<AnyPipeline>;
export async function pipeline(task: string, model?: string | ModelFiles | null, options: EitherCase<PipelineOptions> = {}): Promise<AnyPipeline> {
  const t = resolveTask(task);
  if (model !== undefined && model !== null && typeof model !== 'string' && typeof (model as ModelFiles).read !== 'function') {
    throw new TypeError(`pipeline('${task}'): model must be a checkpoint folder path or URL (or ModelFiles)`);
  }
  return BUILDERS[t](model ?? defaultModelDir(t), readOptions<PipelineOptions>(`pipeline('${task}')`, options, PIPELINE_OPTIONS));
}

export {
  TASKS, TASK_ALIASES, TASK_TABLE, resolveTask, taskDecl, type Task, type TaskAlias, type TaskDecl, type TaskResult, type RunnerInfo,
  FUNCTIONS_TO_APPLY, ACTIVATIONS,
} from './tasks.ts';
export { DEFAULT_MODELS, defaultModelDir } from './defaults.ts';
export type { PipelineBase, PipelineOptions, RunOptions, Device, Dtype } from './base.ts';
export { DEVICES, DTYPES, PIPELINE_OPTIONS } from './base.ts';
export { fillMaskPipeline, type FillMaskPipeline, type FillMaskResult, type FillMaskOutput, type FillMaskCallOptions } from './fill-mask.ts';
export {
  textClassificationPipeline, type TextClassificationPipeline, type TextClassificationInput, type ClassificationResult,
  type TextClassificationCallOptions, type FunctionToApply,
} from './text-classification.ts';
export { zeroShotPipeline, DEFAULT_TEMPLATE, type ZeroShotClassificationPipeline, type ZeroShotResult, type ZeroShotCallOptions } from './zero-shot.ts';
export {
  tokenClassificationPipeline, AGGREGATION_STRATEGIES, type TokenClassificationPipeline, type TokenEntity, type EntityGroup,
  type TokenClassificationOutput, type TokenClassificationCallOptions, type AggregationStrategy,
} from './token-classification.ts';
export {
  questionAnsweringPipeline, type QuestionAnsweringPipeline, type QuestionAnsweringInput, type QuestionAnsweringResult,
  type QuestionAnsweringOutput, type QuestionAnsweringCallOptions,
} from './question-answering.ts';
export { featureExtractionPipeline, POOLINGS, type FeatureExtractionPipeline, type FeatureExtractionCallOptions, type Pooling } from './feature-extraction.ts';
export { rerankPipeline, type RerankPipeline, type RerankInput, type RerankResult, type RerankCallOptions } from './rerank.ts';
