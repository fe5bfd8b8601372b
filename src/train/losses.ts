// The training losses of each head, as graph builders, computed the way transformers' DeBERTa heads
// compute them (modeling_deberta_v2.py): which loss, which labels are ignored, and how it is averaged.
import * as F from '../graph/functional.ts';
import type { Shape, Value } from '../graph/value.ts';
import type { DebertaConfig } from '../models/deberta/config.ts';
import type { HeadKind } from '../models/deberta/modeling.ts';

/** torch.nn.CrossEntropyLoss's default ignore_index. */
export const IGNORE_INDEX = -100;

/** Mean cross-entropy of logits [N, C] against int64 labels [N], skipping labels equal to ignoreIndex. */
export function crossEntropy(logits: Value, labels: Value, ignoreIndex = IGNORE_INDEX): Value {
  return logits.graph.op1('SoftmaxCrossEntropyLoss', [logits, labels], { ignore_index: ignoreIndex, reduction: 'mean' });
}

/** Cross-entropy over the last axis of [..., C] logits and [...] labels (masked LM, token classification). */
export function flatCrossEntropy(logits: Value, labels: Value): Value {
  const C = logits.shape[logits.rank - 1];
  if (typeof C !== 'number') throw new Error('cross-entropy: the number of classes must be known');
  return crossEntropy(logits.reshape([-1, C]), labels.reshape([-1]));
}

/** Mean squared error over all elements (torch MSELoss). */
export function mse(pred: Value, target: Value): Value {
  const diff = pred.sub(target.cast(pred.dtype));
  return F.reduceMean(diff.mul(diff), pred.shape.map((_, i) => i), false);
}

/** Mean binary cross-entropy with logits over all elements, in the overflow-safe form torch uses. */
export function bceWithLogits(logits: Value, targets: Value): Value {
  const y = targets.cast(logits.dtype);
  const g = logits.graph;
  // max(x, 0) - x * y + log(1 + exp(-|x|))
  const softplusTail = F.log(F.exp(g.op1('Abs', [logits]).neg()).add(1));
  const perElement = F.relu(logits).sub(logits.mul(y)).add(softplusTail);
  return F.reduceMean(perElement, logits.shape.map((_, i) => i), false);
}

/**
 * Sequence classification as DeBERTa's head picks it: by `problem_type`, else by num_labels (1: regression)
 * and the labels' rank (1-D: cross-entropy over the labels >= 0, 0 when there are none; 2-D: soft labels).
 */
export function sequenceClassificationLoss(c: DebertaConfig, logits: Value, labels: Value): Value {
  const g = logits.graph;
  const all = (v: Value) => v.shape.map((_, i) => i);
  switch (c.problem_type) {
    case 'regression':
      return c.num_labels === 1 ? mse(logits.reshape([-1]), labels.reshape([-1])) : mse(logits, labels);
    case 'single_label_classification':
      return crossEntropy(logits.reshape([-1, c.num_labels]), labels.reshape([-1]));
    case 'multi_label_classification':
      return bceWithLogits(logits, labels);
  }
  if (c.num_labels === 1) return mse(logits.reshape([-1]), labels.reshape([-1]));
  if (labels.rank === 1 || labels.shape[labels.rank - 1] === 1) {
    const flat = labels.reshape([-1]);
    const labelled = g.op1('GreaterOrEqual', [flat, g.scalar(0, 'int64')]);
    const kept = F.where(labelled, flat, g.scalar(IGNORE_INDEX, 'int64'));
    const sum = g.op1('SoftmaxCrossEntropyLoss', [logits, kept], { ignore_index: IGNORE_INDEX, reduction: 'sum' });
    const count = F.reduceSum(labelled.cast(logits.dtype), [0], false);
    return sum.div(g.op1('Max', [count, g.scalar(1, logits.dtype)]));
  }
  const soft = F.reduceSum(F.logSoftmax(logits).mul(labels.cast(logits.dtype)), [-1], false);
  return F.reduceMean(soft, all(soft), false).neg();
}

/**
 * Extractive QA: (start CE + end CE) / 2, positions clamped to [0, n] and position n (outside the
 * sequence) ignored, as transformers does with ignored_index = sequence length.
 */
export function questionAnsweringLoss(startLogits: Value, endLogits: Value, startPositions: Value, endPositions: Value): Value {
  const g = startLogits.graph;
  const n = F.dimOf(startLogits, 1);
  const clamp = (p: Value) => {
    const c = g.op1('Min', [g.op1('Max', [p.reshape([-1]), g.scalar(0, 'int64')]), n]);
    return F.where(F.equal(c, n), g.scalar(IGNORE_INDEX, 'int64'), c);
  };
  return crossEntropy(startLogits, clamp(startPositions)).add(crossEntropy(endLogits, clamp(endPositions))).mul(0.5);
}

/** The label inputs a head trains on: names as transformers' keyword arguments, dtype and shape. */
export interface LabelSpec {
  name: 'labels' | 'start_positions' | 'end_positions';
  dtype: 'int64' | 'float';
  shape: Shape;
}

/**
 * The labels a head expects. For sequence classification `labelRank` picks between the 1-D labels
 * and 2-D ones (multi-label, soft labels, or regression over several outputs).
 */
export function labelSpecs(c: DebertaConfig, head: HeadKind, labelRank?: number): LabelSpec[] {
  switch (head) {
    case 'base':
      return [];
    case 'masked-lm':
    case 'token-classification':
      return [{ name: 'labels', dtype: 'int64', shape: ['batch', 'sequence'] }];
    case 'question-answering':
      return [{ name: 'start_positions', dtype: 'int64', shape: ['batch'] }, { name: 'end_positions', dtype: 'int64', shape: ['batch'] }];
    case 'multiple-choice':
      return [{ name: 'labels', dtype: 'int64', shape: ['batch'] }];
    case 'sequence-classification': {
      const p = c.problem_type;
      const rank = labelRank ?? (p === 'multi_label_classification' || (p === 'regression' && c.num_labels > 1) ? 2 : 1);
      const shape: Shape = rank === 1 ? ['batch'] : ['batch', rank === 2 ? 'labels' : '?'];
      if (rank !== 1 && rank !== 2) throw new Error(`sequence classification: labels must be 1-D or 2-D, got rank ${rank}`);
      const float = p === 'regression' || p === 'multi_label_classification' || (p === null && (c.num_labels === 1 || rank === 2));
      return [{ name: 'labels', dtype: float ? 'float' : 'int64', shape }];
    }
  }
}

/** The loss of `head` from its outputs (as buildDeberta names them) and label inputs (by LabelSpec name). */
export function headLoss(c: DebertaConfig, head: HeadKind, outputs: Record<string, Value>, labels: Record<string, Value>): Value {
  const need = (k: string) => {
    const v = labels[k];
    if (!v) throw new Error(`${head} loss: missing label input '${k}'`);
    return v;
  };
  switch (head) {
    case 'base':
      throw new Error('the bare model (head "base") has no training loss; load the checkpoint with a head');
    case 'masked-lm':
    case 'token-classification':
      return flatCrossEntropy(outputs.logits!, need('labels'));
    case 'sequence-classification':
      return sequenceClassificationLoss(c, outputs.logits!, need('labels'));
    case 'question-answering':
      return questionAnsweringLoss(outputs.start_logits!, outputs.end_logits!, need('start_positions'), need('end_positions'));
    case 'multiple-choice':
      return crossEntropy(outputs.logits!, need('labels').reshape([-1]));
  }
}
