// Evaluation during training: the model (eval mode, no dropout) over the evaluation features, and the
// metrics of the task. Sequence classification scores by its problem type, read off the features:
// class ids (accuracy, macro F1), 0/1 vectors (micro / macro F1 and exact match at sigmoid 0.5), or
// values (MSE, Pearson, Spearman).
import type { Tensor } from '../tensor.ts';
import { batchIndices, collate, examplesOf, type Example, type Feature, type Task } from './data.ts';
import type { LabelMap } from './labels.ts';
import {
  accuracy, argmax, entityScores, macroF1, meanSquaredError, multiLabelScores, pearson, spearman, squadScores, tokenAccuracy,
} from './metrics.ts';
import { qaPredictions } from './qa.ts';
import type { GradientModel } from './step.ts';

export interface EvalResult {
  metrics: Record<string, number>;
  /** Sequence classification and multiple choice: the logits, [examples, labels], in example order. */
  logits?: { data: Float32Array; dims: number[] };
}

export interface EvalSettings { batchSize: number; padId: number; withTypes: boolean; labels: LabelMap; maxAnswerLength: number }

/** The metric that picks the best checkpoint when --metric is not given. */
export function defaultMetric(task: Task, problemType?: string | null): string {
  if (task === 'token-classification' || task === 'question-answering') return 'f1';
  if (problemType === 'multi_label_classification') return 'micro_f1';
  if (problemType === 'regression') return 'mse';
  return 'accuracy';
}

function output(out: Record<string, Tensor>, ...names: string[]): Tensor {
  for (const n of names) if (out[n]) return out[n]!;
  throw new Error(`the model returned no ${names[0]} (outputs: ${Object.keys(out).join(', ')})`);
}

/** Runs the model over `features` (batched, shortest first to save padding) and scores the task's metrics. */
export async function evaluate(gm: GradientModel, task: Task, features: Feature[], examples: Example[], s: EvalSettings): Promise<EvalResult> {
  const len = (f: Feature) => (task === 'multiple-choice' ? Math.max(...(f.inputIds as number[][]).map((x) => x.length)) : f.inputIds.length);
  const order = [...features.keys()].sort((a, b) => len(features[a]!) - len(features[b]!));
  const rows: Float32Array[] = new Array(features.length);
  const rows2: Float32Array[] = new Array(features.length); // end logits for QA
  for (const idx of batchIndices(order, s.batchSize)) {
    const batch = collate(task, idx.map((i) => features[i]!), s.padId, s.withTypes);
    const out = await gm.forward(batch);
    const a = task === 'question-answering' ? output(out, 'start_logits', 'startLogits') : output(out, 'logits');
    const b = task === 'question-answering' ? output(out, 'end_logits', 'endLogits') : undefined;
    const per = a.data.length / idx.length;
    idx.forEach((i, k) => {
      rows[i] = Float32Array.from(a.data.subarray(k * per, (k + 1) * per) as Float32Array);
      if (b) rows2[i] = Float32Array.from(b.data.subarray(k * per, (k + 1) * per) as Float32Array);
    });
  }

  switch (task) {
    case 'sequence-classification':
    case 'multiple-choice': {
      const width = rows[0]?.length ?? 0;
      const data = new Float32Array(rows.length * width);
      rows.forEach((r, i) => data.set(r, i * width));
      return { metrics: classificationMetrics(task, features, rows), logits: { data, dims: [rows.length, width] } };
    }
    case 'token-classification':
      return { metrics: tokenMetrics(features, rows, s.labels) };
    case 'question-answering': {
      const qa = examplesOf(examples, 'question-answering');
      const preds = qaPredictions(features, rows, rows2, qa, s.maxAnswerLength);
      const sc = squadScores(preds, qa.map((e) => e.answers.map((a) => a.text)));
      return { metrics: { exact_match: sc.exactMatch, f1: sc.f1 } };
    }
  }
}

function classificationMetrics(task: Task, features: Feature[], rows: Float32Array[]): Record<string, number> {
  if (features[0]?.multiHot) {
    // sigmoid(x) > 0.5 exactly when x > 0.
    const m = multiLabelScores(rows.map((r) => Array.from(r, (x) => (x > 0 ? 1 : 0))), features.map((f) => f.multiHot!));
    return { micro_f1: m.microF1, macro_f1: m.macroF1, exact_match: m.exactMatch };
  }
  if (features[0]?.value !== undefined) {
    const pred = rows.map((r) => r[0]!), gold = features.map((f) => f.value!);
    return { mse: meanSquaredError(pred, gold), pearson: pearson(pred, gold), spearman: spearman(pred, gold) };
  }
  const gold = features.map((f) => f.label!);
  const pred = rows.map((r) => argmax(r));
  const metrics: Record<string, number> = { accuracy: accuracy(pred, gold) };
  if (task === 'sequence-classification') metrics.macro_f1 = macroF1(pred, gold);
  return metrics;
}

function tokenMetrics(features: Feature[], rows: Float32Array[], labels: LabelMap): Record<string, number> {
  const nameOf = (id: number) => labels.id2label[id] ?? String(id);
  const nLabels = Object.keys(labels.id2label).length;
  const predTags: string[][] = [], goldTags: string[][] = [];
  features.forEach((f, i) => {
    const p: string[] = [], g: string[] = [];
    f.labels!.forEach((l, k) => {
      if (l === -100) return;
      g.push(nameOf(l));
      p.push(nameOf(argmax(rows[i]!, k * nLabels, nLabels)));
    });
    predTags.push(p); goldTags.push(g);
  });
  const ent = entityScores(predTags, goldTags);
  return { token_accuracy: tokenAccuracy(predTags, goldTags), precision: ent.precision, recall: ent.recall, f1: ent.f1 };
}
