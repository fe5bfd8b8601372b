// zero-shot-classification with an NLI model, as transformers' ZeroShotClassificationPipeline: each
// candidate label becomes a hypothesis ("This example is {}.") paired with the text. Single-label: a
// softmax of the entailment logits across the candidates (the scores sum to one). Multi-label (or a single
// candidate): per candidate, a softmax of entailment against contradiction.
// The entailment and contradiction labels are found in label2id, case-insensitively; two-way models
// ("entailment" / "not_entailment") use not_entailment as the contradiction.
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import type { DebertaModel } from '../models/auto.ts';
import { checkText, loadForTask, makePipeline, output, rowOf, runRows, softmax,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { DEFAULT_TEMPLATE, readTaskOptions } from './tasks.ts';

export { DEFAULT_TEMPLATE } from './tasks.ts';

export interface ZeroShotResult {
  sequence: string;
  /** The candidate labels, best first. */
  labels: string[];
  scores: number[];
}

export interface ZeroShotCallOptions extends RunOptions {
  /** Where `{}` stands for the label (default "This example is {}."). */
  hypothesisTemplate?: string;
  /** Score each label on its own instead of sharing one distribution (default false). */
  multiLabel?: boolean;
}

export interface ZeroShotClassificationPipeline extends PipelineBase {
  /** `candidateLabels`: a list, or one string of comma-separated labels. */
  (sequence: string, candidateLabels: string | string[], options?: EitherCase<ZeroShotCallOptions>): Promise<ZeroShotResult>;
  (sequences: string[], candidateLabels: string | string[], options?: EitherCase<ZeroShotCallOptions>): Promise<ZeroShotResult[]>;
  readonly entailmentId: number;
  /** null when label2id has no contradiction label: then only single-label mode with two or more labels works. */
  readonly contradictionId: number | null;
}

/** The NLI class ids of a model, from its label2id. */
export function nliIds(model: DebertaModel, dir = model.dir): { entailment: number; contradiction: number | null } {
  const entries = Object.entries(model.config.label2id);
  const find = (re: RegExp) => entries.find(([name]) => re.test(name.toLowerCase()))?.[1];
  const entailment = find(/^entail/);
  if (entailment === undefined) {
    throw new Error(`zero-shot-classification: ${dir} is not an NLI model: config.json's label2id has no entailment label (labels: ${entries.map(([n]) => JSON.stringify(n)).join(', ') || 'none'})`);
  }
  let contradiction = find(/^contradict/) ?? find(/^(not|non)[ _-]?entail/);
  if (contradiction === undefined && model.config.num_labels === 2) contradiction = entailment === 0 ? 1 : 0;
  for (const id of [entailment, contradiction]) {
    if (id !== undefined && (id < 0 || id >= model.config.num_labels)) {
      throw new Error(`zero-shot-classification: ${dir}: label2id gives id ${id}, outside the model's ${model.config.num_labels} labels`);
    }
  }
  return { entailment, contradiction: contradiction ?? null };
}

export async function zeroShotPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<ZeroShotClassificationPipeline> {
  const loaded = await loadForTask('zero-shot-classification', model, 'sequence-classification', options);
  let ids;
  try {
    ids = nliIds(loaded.model, loaded.dir);
  } catch (err) {
    await loaded.model.dispose();
    throw err;
  }
  const fn = async (input: string | string[], labels: string | string[], opts?: ZeroShotCallOptions) => {
    const texts = Array.isArray(input) ? input : [input];
    const out = await zeroShot(loaded, ids, texts, parseLabels(labels), readTaskOptions('zero-shot-classification', opts));
    return Array.isArray(input) ? out : out[0]!;
  };
  return Object.assign(makePipeline(loaded, fn), { entailmentId: ids.entailment, contradictionId: ids.contradiction }) as ZeroShotClassificationPipeline;
}

/** A list of labels, or a comma-separated string, trimmed; empty entries dropped. */
export function parseLabels(labels: string | string[]): string[] {
  const list = typeof labels === 'string' ? labels.split(',') : labels;
  if (!Array.isArray(list)) throw new TypeError('zero-shot-classification: candidateLabels must be a list of labels or a comma-separated string');
  const out = list.map((l, i) => {
    checkText(l, `zero-shot-classification: candidateLabels[${i}]`);
    return l.trim();
  }).filter((l) => l !== '');
  if (out.length === 0) throw new Error('zero-shot-classification: candidateLabels is empty; give at least one label');
  return out;
}

async function zeroShot(p: Loaded, ids: { entailment: number; contradiction: number | null }, texts: string[], labels: string[],
  o: ZeroShotCallOptions): Promise<ZeroShotResult[]> {
  const template = o.hypothesisTemplate ?? DEFAULT_TEMPLATE;
  const independent = o.multiLabel === true || labels.length === 1;
  if (independent && ids.contradiction === null) {
    throw new Error(`zero-shot-classification: ${p.dir}: config.json's label2id has no contradiction (or not_entailment) label, which ${labels.length === 1 ? 'a single candidate label' : 'multiLabel'} needs`);
  }
  texts.forEach((t, i) => checkText(t, `zero-shot-classification: input ${i}`));
  const rows = texts.flatMap((t) => labels.map((l) => encodePair(p, t, template.replaceAll('{}', l))));
  const logits = await runRows(p.model, rows, p.tokenizer.padTokenId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress },
    (out, b) => rowOf(output(out, 'logits'), b));
  return texts.map((sequence, s) => {
    const mine = logits.slice(s * labels.length, (s + 1) * labels.length);
    const scores = independent
      ? mine.map((l) => softmax([l[ids.contradiction!]!, l[ids.entailment]!])[1]!)
      : softmax(mine.map((l) => l[ids.entailment]!));
    const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    return { sequence, labels: order.map((i) => labels[i]!), scores: order.map((i) => scores[i]!) };
  });
}

/** Truncates the text, never the hypothesis; when the hypothesis alone is too long, both (longest first). */
function encodePair(p: Loaded, text: string, hypothesis: string) {
  let enc;
  try {
    enc = p.tokenizer.encodeBatch([[text, hypothesis]], { truncation: 'only_first', maxLength: p.maxLength });
  } catch (err) {
    if (!/too short/.test((err as Error).message)) throw err;
    enc = p.tokenizer.encodeBatch([[text, hypothesis]], { truncation: 'longest_first', maxLength: p.maxLength });
  }
  return { ids: enc.inputIds[0]!, typeIds: enc.tokenTypeIds[0]! };
}
