// Labels: the label map (id2label / label2id as config.json stores them), and for sequence
// classification its three problem types as transformers names them. single_label_classification: one
// label name per text; multi_label_classification: a list of label names, or a 0/1 vector, per text;
// regression: a number per text (num_labels 1).
import type { ProblemType } from '../models/deberta/config.ts';
import type { Example, SeqClsExample } from './data.ts';

export type { ProblemType } from '../models/deberta/config.ts';
export const PROBLEM_TYPES: readonly ProblemType[] = ['single_label_classification', 'multi_label_classification', 'regression'];

/** Label names by id and ids by name, as config.json stores them. */
export interface LabelMap { id2label: Record<number, string>; label2id: Record<string, number> }

/** The names labels take in `examples` (sequence labels, or the tags of token classification). */
export function labelNames(examples: Example[]): string[] {
  const seen = new Set<string>();
  for (const e of examples) {
    if (e.task === 'token-classification') {
      for (const t of e.tags) seen.add(t);
    } else if (e.task === 'sequence-classification' && typeof e.label === 'string') {
      seen.add(e.label);
    } else if (e.task === 'sequence-classification' && Array.isArray(e.label)) {
      for (const n of e.label) if (typeof n === 'string') seen.add(n);
    }
  }
  return [...seen];
}

const DEFAULT_NAME = /^LABEL_\d+$/;

/**
 * The label map for training: the model's own when it names every label the data uses (fine-tuning a
 * fine-tuned model), else the data's labels sorted (numerically when they are all integers), as
 * transformers' example scripts do.
 */
export function buildLabelMap(names: string[], existing?: LabelMap): LabelMap {
  const own = existing ? Object.values(existing.id2label) : [];
  if (existing && own.length > 0 && !own.every((n) => DEFAULT_NAME.test(n)) && names.every((n) => n in existing.label2id)) {
    return { id2label: { ...existing.id2label }, label2id: { ...existing.label2id } };
  }
  const numeric = names.every((n) => /^-?\d+$/.test(n));
  const sorted = [...names].sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  return mapOf(sorted);
}

function mapOf(names: string[]): LabelMap {
  const id2label: Record<number, string> = {};
  const label2id: Record<string, number> = {};
  names.forEach((n, i) => { id2label[i] = n; label2id[n] = i; });
  return { id2label, label2id };
}

/**
 * A line for the log when training drops the model's own label names for the data's (none when the model
 * keeps its map or had only the default LABEL_i names): the head's weights stay when the count matches.
 */
export function relabelNotice(before: LabelMap, after: LabelMap, file: string): string | undefined {
  const was = Object.values(before.id2label);
  const now = Object.values(after.id2label);
  if (!was.length || was.every((n) => DEFAULT_NAME.test(n)) || (was.length === now.length && was.every((n, i) => n === now[i]))) return undefined;
  const list = (names: string[]) => names.length > 8 ? `${names.slice(0, 8).join(', ')}, … ${names.length} in all` : names.join(', ');
  const head = was.length === now.length ? 'the classifier keeps its weights under the new names' : 'the classifier starts from new weights';
  return `note: the model's labels (${list(was)}) do not name every label in ${file}, so training uses the data's (${list(now)}); ${head}`;
}

/** The label id of `name`, or an error naming where it came from. */
export function labelId(map: LabelMap, name: string, file: string, line: number): number {
  const id = map.label2id[name];
  if (id === undefined) throw new Error(`${file}:${line}: label '${name}' is not among the training labels (${Object.keys(map.label2id).slice(0, 10).join(', ')})`);
  return id;
}

// ---------------------------------------------------------------------------------------------------
// Sequence classification problem types

/**
 * The problem type a data set asks for when neither --problem-type nor the model's config says: lists
 * of labels mean multi-label; numbers, some of them fractional, mean regression (as transformers'
 * run_glue takes a float label column); and so does a numeric column for a model with a single output.
 */
export function inferProblemType(examples: SeqClsExample[], numLabels: number): { problemType: ProblemType; why: string } {
  if (examples.some((e) => Array.isArray(e.label))) return { problemType: 'multi_label_classification', why: 'the labels are lists' };
  const scalars = examples.map((e) => e.label as string);
  if (scalars.every((s) => isNumber(s))) {
    if (scalars.some((s) => !/^[-+]?\d+$/.test(s))) return { problemType: 'regression', why: 'the labels are numbers with fractions' };
    if (numLabels === 1) return { problemType: 'regression', why: 'the labels are numbers and the model has one output' };
  }
  return { problemType: 'single_label_classification', why: 'one label name per text' };
}

function isNumber(s: string): boolean {
  return s.trim() !== '' && Number.isFinite(Number(s));
}

/** A multi-label example's label names: a list, or text split at spaces and commas (CSV). */
function namesOf(label: string | string[] | number[]): string[] | null {
  if (typeof label === 'string') return label.split(/[\s,]+/).filter((s) => s !== '');
  return label.length === 0 || typeof label[0] === 'string' ? label as string[] : null; // lists are all text or all 0/1
}

/**
 * The label map of a sequence classification data set: single-label as buildLabelMap; multi-label from
 * the names the lists use, or LABEL_0.. for 0/1 vectors (the model's own names when it has as many);
 * regression one output (the model's name for it, if it has exactly one).
 */
export function sequenceLabelMap(problemType: ProblemType, examples: SeqClsExample[], existing: LabelMap, file: string): LabelMap {
  const own = Object.keys(existing.id2label).length;
  switch (problemType) {
    case 'single_label_classification': {
      const lists = examples.find((e) => Array.isArray(e.label));
      if (lists) throw new Error(`${file}:${lists.line}: the label is a list; for several labels per text use --problem-type multi_label_classification`);
      return buildLabelMap(labelNames(examples), existing);
    }
    case 'regression':
      return own === 1 ? { id2label: { ...existing.id2label }, label2id: { ...existing.label2id } } : mapOf(['LABEL_0']);
    case 'multi_label_classification': {
      const names = new Set<string>();
      let width: number | undefined, widthLine = 0, namedLine = 0;
      for (const e of examples) {
        const n = namesOf(e.label);
        if (n) { n.forEach((x) => names.add(x)); namedLine ||= e.line; continue; }
        const w = (e.label as number[]).length;
        if (width === undefined) { width = w; widthLine = e.line; }
        else if (w !== width) throw new Error(`${file}:${e.line}: a 0/1 vector of ${w} labels, but line ${widthLine} has ${width}`);
      }
      if (width !== undefined && namedLine) {
        throw new Error(`${file}:${namedLine}: label names, but line ${widthLine} has a 0/1 vector; use one form for the whole file`);
      }
      if (width === undefined) return buildLabelMap([...names], existing);
      return own === width ? { id2label: { ...existing.id2label }, label2id: { ...existing.label2id } }
        : mapOf(Array.from({ length: width }, (_, i) => `LABEL_${i}`));
    }
  }
}

/** What a sequence classification feature trains on: a class id, a 0/1 vector, or a value. */
export type SequenceTarget = { label: number } | { multiHot: number[] } | { value: number };

export function sequenceTarget(problemType: ProblemType, x: SeqClsExample, map: LabelMap, file: string): SequenceTarget {
  const where = `${file}:${x.line}`;
  switch (problemType) {
    case 'single_label_classification':
      if (Array.isArray(x.label)) throw new Error(`${where}: the label is a list; for several labels per text use --problem-type multi_label_classification`);
      return { label: labelId(map, x.label, file, x.line) };
    case 'regression': {
      const v = typeof x.label === 'string' && isNumber(x.label) ? Number(x.label) : NaN;
      if (!Number.isFinite(v)) throw new Error(`${where}: label ${JSON.stringify(x.label)} is not a number (problem_type regression)`);
      return { value: v };
    }
    case 'multi_label_classification': {
      const n = Object.keys(map.id2label).length;
      const names = namesOf(x.label);
      if (!names) {
        const v = x.label as number[];
        if (v.length !== n) throw new Error(`${where}: a 0/1 vector of ${v.length} labels, the model has ${n}`);
        return { multiHot: [...v] };
      }
      const multiHot = new Array<number>(n).fill(0);
      for (const name of names) multiHot[labelId(map, name, file, x.line)] = 1;
      return { multiHot };
    }
  }
}
