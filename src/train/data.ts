// Training data: JSONL or CSV/TSV records, turned into examples for each task (columns named by
// flags, with defaults), label maps, tokenised features and padded batches. Errors name the file and
// the line (and column, for JSON) at fault.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { tensor, type Tensor } from '../tensor.ts';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.ts';
import { labelId, sequenceTarget, type LabelMap, type ProblemType } from './labels.ts';
import { qaFeatures } from './qa.ts';

export { buildLabelMap, labelId, labelNames, relabelNotice, type LabelMap } from './labels.ts';

export type Task = 'sequence-classification' | 'token-classification' | 'question-answering' | 'multiple-choice';
export const TASKS: Task[] = ['sequence-classification', 'token-classification', 'question-answering', 'multiple-choice'];

/** One record of a data file, with the line it starts on. */
export interface DataRow { line: number; values: Record<string, unknown> }

/** A UTF-8 file's text without its byte-order mark; an unreadable file fails naming it and `what` it holds. */
export function readTextFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the ${what} (${(err as Error).message})`);
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function readRecords(file: string, format?: 'jsonl' | 'csv' | 'tsv'): DataRow[] {
  const text = readTextFile(file, 'data');
  const ext = extname(file).toLowerCase();
  const kind = format ?? (ext === '.csv' ? 'csv' : ext === '.tsv' ? 'tsv' : ext === '.jsonl' || ext === '.json' || ext === '.ndjson' ? 'jsonl' : undefined);
  if (!kind) throw new Error(`${file}: unknown data format '${ext}' (expected .jsonl, .csv or .tsv, or pass --format)`);
  const rows = kind === 'jsonl' ? parseJsonl(text, file) : parseCsv(text, file, kind === 'tsv' ? '\t' : ',');
  if (rows.length === 0) throw new Error(`${file}: holds no records`);
  return rows;
}

export function parseJsonl(text: string, file: string): DataRow[] {
  const rows: DataRow[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /at position (\d+)/.exec(msg);
      const where = pos ? `${i + 1}:${Number(pos[1]) + 1}` : `${i + 1}`;
      throw new Error(`${file}:${where}: invalid JSON (${msg.replace(/ in JSON at position \d+.*$/, '')})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${file}:${i + 1}: each line must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
    }
    rows.push({ line: i + 1, values: value as Record<string, unknown> });
  });
  return rows;
}

/** RFC 4180 CSV (quoted fields may hold separators, newlines and doubled quotes); the first row names the columns. */
export function parseCsv(text: string, file: string, sep = ','): DataRow[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1, recordLine = 1, quoteLine = 0;
  let inQuotes = false, fieldStarted = false;
  const endRecord = () => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !fieldStarted)) records.push({ line: recordLine, fields });
    fields = []; field = ''; fieldStarted = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else inQuotes = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"') {
      if (field !== '') throw new Error(`${file}:${line}: a quote inside an unquoted field (quote the whole field and double the quote)`);
      inQuotes = true; fieldStarted = true; quoteLine = line;
    } else if (ch === sep) {
      fields.push(field); field = ''; fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch; fieldStarted = true;
    }
  }
  if (inQuotes) throw new Error(`${file}:${quoteLine}: quoted field never closed`);
  if (field !== '' || fields.length > 0 || fieldStarted) endRecord();
  if (records.length === 0) return [];
  const header = records[0]!.fields.map((h) => h.trim());
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new Error(`${file}:1: column '${dup}' appears twice in the header`);
  return records.slice(1).map(({ line: l, fields: f }) => {
    if (f.length !== header.length) throw new Error(`${file}:${l}: ${f.length} fields, but the header has ${header.length} columns`);
    return { line: l, values: Object.fromEntries(header.map((h, i) => [h, f[i]!])) };
  });
}

/** Column names chosen by flags; anything left out takes the first default present in the data. */
export interface ColumnOptions {
  text?: string;
  textPair?: string;
  label?: string;
  /** Token classification: the words. */
  tokens?: string;
  /** Question answering. */
  question?: string;
  context?: string;
  answers?: string;
  /** Multiple choice: the list of endings (or columns ending0, ending1, ...). */
  choices?: string;
}

const DEFAULTS = {
  text: ['text', 'sentence', 'sentence1', 'premise', 'question1', 'content', 'review'],
  textPair: ['text_pair', 'sentence2', 'hypothesis', 'question2'],
  label: ['label', 'labels', 'class', 'category', 'target'],
  tokens: ['tokens', 'words'],
  tags: ['ner_tags', 'tags', 'labels', 'label'],
  question: ['question'],
  context: ['context', 'passage'],
  answers: ['answers', 'answer'],
  mcContext: ['context', 'sent1', 'startphrase', 'question', 'text'],
  mcPair: ['sent2'],
  choices: ['choices', 'endings', 'options'],
};

/** `label`: a name or number, or (multi-label) a list of names or a 0/1 vector. */
export interface SeqClsExample { task: 'sequence-classification'; line: number; text: string; pair?: string; label: string | string[] | number[] }
export interface TokClsExample { task: 'token-classification'; line: number; tokens: string[]; tags: string[] }
export interface QaExample { task: 'question-answering'; line: number; id: string; question: string; context: string; answers: { text: string; start: number }[] }
export interface McExample { task: 'multiple-choice'; line: number; context: string; endings: string[]; label: number }
/** One training example, tagged with the task it is for. */
export type Example = SeqClsExample | TokClsExample | QaExample | McExample;
export type ExampleOf<T extends Task> = Extract<Example, { task: T }>;

/** The examples of `task`; fails naming the line of one that is for another task. */
export function examplesOf<T extends Task>(examples: readonly Example[], task: T): ExampleOf<T>[] {
  return examples.map((e) => {
    if (e.task !== task) throw new Error(`line ${e.line}: a ${e.task} example where ${task} ones were expected`);
    return e as ExampleOf<T>;
  });
}

function pickColumn(rows: DataRow[], file: string, flag: string, given: string | undefined, defaults: string[], required: boolean): string | undefined {
  const first = rows[0]!.values;
  if (given !== undefined) {
    if (!(given in first)) throw new Error(`${flag}: column '${given}' not found in ${file} (line ${rows[0]!.line} has ${Object.keys(first).map((k) => `'${k}'`).join(', ')})`);
    return given;
  }
  const hit = defaults.find((d) => d in first);
  if (!hit && required) {
    throw new Error(`${file}: no ${flag.replace(/^--|-column$/g, '')} column (looked for ${defaults.map((d) => `'${d}'`).join(', ')}; name it with ${flag})`);
  }
  return hit;
}

function field(row: DataRow, col: string, file: string): unknown {
  const v = row.values[col];
  if (v === undefined || v === null) throw new Error(`${file}:${row.line}: column '${col}' is missing`);
  return v;
}

function str(row: DataRow, col: string, file: string): string {
  const v = field(row, col, file);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`${file}:${row.line}: column '${col}' must be text, got ${JSON.stringify(v).slice(0, 60)}`);
}

function labelValue(row: DataRow, col: string, file: string): string {
  const v = field(row, col, file);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v).trim();
  throw new Error(`${file}:${row.line}: column '${col}' must be a label (text or number), got ${JSON.stringify(v).slice(0, 60)}`);
}

/** A sequence label: a name or number, or a JSON array (in CSV, as text) of names or of 0/1 values. */
function sequenceLabel(row: DataRow, col: string, file: string): string | string[] | number[] {
  const v = field(row, col, file);
  let items: unknown[] | undefined = Array.isArray(v) ? v : undefined;
  if (typeof v === 'string' && v.trim().startsWith('[')) {
    try { const parsed: unknown = JSON.parse(v); if (Array.isArray(parsed)) items = parsed; } catch { /* a name that starts with '[' */ }
  }
  if (!items) return labelValue(row, col, file);
  if (items.every((x) => typeof x === 'string')) return items.map((x) => x.trim());
  if (items.every((x) => x === 0 || x === 1 || typeof x === 'boolean')) return items.map(Number);
  throw new Error(`${file}:${row.line}: column '${col}' holds a list that is neither label names (text) nor a 0/1 vector: ${JSON.stringify(v).slice(0, 60)}`);
}

/** A list column: a JSON array, or (in CSV) a JSON array in text or space-separated items. */
function list(row: DataRow, col: string, file: string): unknown[] {
  const v = field(row, col, file);
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s.startsWith('[')) {
      try { const parsed: unknown = JSON.parse(s); if (Array.isArray(parsed)) return parsed; } catch { /* fall through to spaces */ }
    }
    return s === '' ? [] : s.split(/\s+/);
  }
  throw new Error(`${file}:${row.line}: column '${col}' must be a list, got ${JSON.stringify(v).slice(0, 60)}`);
}

/** Reads the examples of `task` from rows. */
export function toExamples(task: Task, rows: DataRow[], file: string, cols: ColumnOptions = {}): Example[] {
  switch (task) {
    case 'sequence-classification': {
      const text = pickColumn(rows, file, '--text-column', cols.text, DEFAULTS.text, true)!;
      const pair = pickColumn(rows, file, '--text-pair-column', cols.textPair, DEFAULTS.textPair, false);
      const label = pickColumn(rows, file, '--label-column', cols.label, DEFAULTS.label, true)!;
      return rows.map((r): Example => ({ task, line: r.line, text: str(r, text, file), ...(pair ? { pair: str(r, pair, file) } : {}), label: sequenceLabel(r, label, file) }));
    }
    case 'token-classification': {
      const tokens = pickColumn(rows, file, '--tokens-column', cols.tokens, DEFAULTS.tokens, true)!;
      const tags = pickColumn(rows, file, '--label-column', cols.label, DEFAULTS.tags, true)!;
      return rows.map((r): Example => {
        const words = list(r, tokens, file).map(String);
        const t = list(r, tags, file).map((x) => String(x).trim());
        if (words.length !== t.length) throw new Error(`${file}:${r.line}: ${words.length} tokens but ${t.length} tags`);
        if (words.some((w) => w.trim() === '')) throw new Error(`${file}:${r.line}: column '${tokens}' holds an empty token`);
        return { task, line: r.line, tokens: words, tags: t };
      });
    }
    case 'question-answering': {
      const q = pickColumn(rows, file, '--question-column', cols.question, DEFAULTS.question, true)!;
      const c = pickColumn(rows, file, '--context-column', cols.context, DEFAULTS.context, true)!;
      const a = pickColumn(rows, file, '--answers-column', cols.answers, DEFAULTS.answers, true)!;
      return rows.map((r, i): Example => {
        const context = str(r, c, file);
        const answers = readAnswers(r, a, context, file);
        const id = typeof r.values.id === 'string' || typeof r.values.id === 'number' ? String(r.values.id) : String(i);
        return { task, line: r.line, id, question: str(r, q, file), context, answers };
      });
    }
    case 'multiple-choice': {
      const ctx = pickColumn(rows, file, '--text-column', cols.text, DEFAULTS.mcContext, true)!;
      const pair = pickColumn(rows, file, '--text-pair-column', cols.textPair, DEFAULTS.mcPair, false);
      const label = pickColumn(rows, file, '--label-column', cols.label, DEFAULTS.label, true)!;
      const choiceCol = pickColumn(rows, file, '--choices-column', cols.choices, DEFAULTS.choices, false);
      const endingCols = Object.keys(rows[0]!.values).filter((k) => /^ending\d+$/.test(k)).sort((x, y) => Number(x.slice(6)) - Number(y.slice(6)));
      if (!choiceCol && endingCols.length === 0) {
        throw new Error(`${file}: no choices column (looked for ${DEFAULTS.choices.map((d) => `'${d}'`).join(', ')} and ending0, ending1, ...; name it with --choices-column)`);
      }
      return rows.map((r): Example => {
        const prefix = pair ? `${str(r, pair, file)} ` : '';
        const endings = (choiceCol ? list(r, choiceCol, file).map(String) : endingCols.map((k) => str(r, k, file))).map((e) => prefix + e);
        const l = Number(labelValue(r, label, file));
        if (!Number.isSafeInteger(l) || l < 0 || l >= endings.length) {
          throw new Error(`${file}:${r.line}: column '${label}' must be the index of the right choice (0-${endings.length - 1}), got ${JSON.stringify(r.values[label])}`);
        }
        return { task, line: r.line, context: str(r, ctx, file), endings, label: l };
      });
    }
  }
}

// SQuAD's {"text": [...], "answer_start": [...]}, a list of such objects, or plain answer text (its
// first occurrence in the context).
function readAnswers(r: DataRow, col: string, context: string, file: string): { text: string; start: number }[] {
  const v = field(r, col, file);
  const bad = () => new Error(`${file}:${r.line}: column '${col}' must be {"text": [...], "answer_start": [...]} or answer text, got ${JSON.stringify(v).slice(0, 80)}`);
  let pairs: { text: string; start: number }[];
  if (typeof v === 'string') {
    const start = context.indexOf(v);
    pairs = v === '' ? [] : [{ text: v, start }];
  } else if (Array.isArray(v)) {
    pairs = v.map((x) => {
      if (typeof x !== 'object' || x === null) throw bad();
      const o = x as Record<string, unknown>;
      return { text: String(o.text), start: Number(o.answer_start ?? context.indexOf(String(o.text))) };
    });
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if (!Array.isArray(o.text) || !Array.isArray(o.answer_start) || o.text.length !== o.answer_start.length) throw bad();
    pairs = o.text.map((t, i) => ({ text: String(t), start: Number((o.answer_start as unknown[])[i]) }));
  } else throw bad();
  for (const p of pairs) {
    if (!Number.isSafeInteger(p.start) || p.start < 0 || context.slice(p.start, p.start + p.text.length) !== p.text) {
      throw new Error(`${file}:${r.line}: answer ${JSON.stringify(p.text)} is not in the context at ${p.start}`);
    }
  }
  return pairs;
}

// ---------------------------------------------------------------------------------------------------
// Features and batches

/** What the trainer asks of a tokenizer, per example. Offsets are character spans into the text each token came from. */
export interface EncodedPair {
  ids: number[];
  typeIds: number[];
  offsets: [number, number][];
  /** 0 or 1: the text or the pair the token came from; -1 for special tokens. */
  sequenceIds: number[];
}

export interface TextEncoder {
  /** Encodes `text` (and `pair`) with special tokens, truncated to `maxLength` (only the pair, with 'only_second'). */
  encode(text: string, pair: string | undefined, maxLength: number, truncation?: 'longest_first' | 'only_second'): EncodedPair;
  /** `text` whole with every window of `pair` that fits `maxLength`, consecutive windows overlapping by `stride` tokens. */
  encodeWindows(text: string, pair: string, maxLength: number, stride: number): EncodedPair[];
  padId: number;
}

/** The project tokenizer as a TextEncoder (offsets in UTF-16 units, to slice JavaScript strings). */
export function encoderFromTokenizer(tok: PreTrainedTokenizer): TextEncoder {
  return {
    padId: tok.padTokenId,
    encode(text, pair, maxLength, truncation = 'longest_first') {
      const r = tok.encodeBatch([[text, pair ?? null]], {
        truncation, maxLength, returnOffsets: true, offsetUnits: 'utf16', returnSequenceIds: true,
      });
      return {
        ids: r.inputIds[0]!, typeIds: r.tokenTypeIds[0]!, offsets: r.offsets![0]!,
        sequenceIds: r.sequenceIds![0]!.map((x) => x ?? -1),
      };
    },
    encodeWindows(text, pair, maxLength, stride) {
      const r = tok.encodeBatch([[text, pair]], {
        truncation: 'only_second', maxLength, stride, returnOverflowingTokens: true, returnOffsets: true, offsetUnits: 'utf16', returnSequenceIds: true,
      });
      return r.inputIds.map((ids, k) => ({
        ids, typeIds: r.tokenTypeIds[k]!, offsets: r.offsets![k]!, sequenceIds: r.sequenceIds![k]!.map((x) => x ?? -1),
      }));
    },
  };
}

export interface Feature {
  /** The example this feature came from (index into the example list). */
  example: number;
  inputIds: number[] | number[][];
  typeIds: number[] | number[][];
  label?: number;
  /** Multi-label sequence classification: 1 for each label that applies, else 0. */
  multiHot?: number[];
  /** Regression: the target value. */
  value?: number;
  /** Token classification: per token label id, -100 where no label applies. */
  labels?: number[];
  startPosition?: number;
  endPosition?: number;
  /** Question answering: character span of each token in the context, null outside it. */
  contextOffsets?: ([number, number] | null)[];
}

export interface FeatureOptions {
  maxLength: number;
  labels?: LabelMap;
  file: string;
  /** Sequence classification (default single_label_classification). */
  problemType?: ProblemType;
  /** Question answering: context windows overlapping by this many tokens; without it, one truncated window. */
  docStride?: number;
}

/** The features of `examples`: one each, but question answering makes one per context window. */
export function featurize(task: Task, examples: Example[], enc: TextEncoder, o: FeatureOptions): Feature[] {
  if (task === 'question-answering') return examplesOf(examples, task).flatMap((e, i) => qaFeatures(e, i, enc, o));
  return examplesOf(examples, task).map((e, i) => featurizeOne(e, i, enc, o));
}

function featurizeOne(x: Example, i: number, enc: TextEncoder, o: FeatureOptions): Feature {
  switch (x.task) {
    case 'sequence-classification': {
      const t = enc.encode(x.text, x.pair, o.maxLength);
      return { example: i, inputIds: t.ids, typeIds: t.typeIds, ...sequenceTarget(o.problemType ?? 'single_label_classification', x, o.labels!, o.file) };
    }
    case 'token-classification': {
      const { text, spans } = joinWords(x.tokens);
      const t = enc.encode(text, undefined, o.maxLength);
      const words = wordOfTokens(t, spans);
      // As transformers' run_ner: only each word's first token carries its label.
      const labels = words.map((w, k) => (w >= 0 && (k === 0 || words[k - 1] !== w) ? labelId(o.labels!, x.tags[w]!, o.file, x.line) : -100));
      return { example: i, inputIds: t.ids, typeIds: t.typeIds, labels };
    }
    case 'question-answering':
      throw new Error('question answering features come from qaFeatures');
    case 'multiple-choice': {
      const choices = x.endings.map((end) => enc.encode(x.context, end, o.maxLength));
      return { example: i, inputIds: choices.map((c) => c.ids), typeIds: choices.map((c) => c.typeIds), label: x.label };
    }
  }
}

/** Words joined by single spaces, with each word's character span. */
export function joinWords(words: string[]): { text: string; spans: [number, number][] } {
  const spans: [number, number][] = [];
  let text = '';
  for (const w of words) {
    if (text !== '') text += ' ';
    spans.push([text.length, text.length + w.length]);
    text += w;
  }
  return { text, spans };
}

/** The word each token falls in (by its character offsets), -1 for special tokens. */
export function wordOfTokens(t: EncodedPair, spans: [number, number][]): number[] {
  let w = 0;
  return t.offsets.map(([s, e], k) => {
    if (t.sequenceIds[k] !== 0 || e <= s) return -1;
    while (w < spans.length && spans[w]![1] <= s) w++;
    // A token may begin on the space before its word (a SentencePiece "▁"): it belongs to the next word.
    return w < spans.length && spans[w]![0] < e ? w : -1;
  });
}

export interface TrainBatch {
  inputIds: Tensor; attentionMask: Tensor; tokenTypeIds?: Tensor;
  labels?: Tensor; startPositions?: Tensor; endPositions?: Tensor;
}

/** Pads `features` to their longest sequence and stacks them into int64 tensors. */
export function collate(task: Task, features: Feature[], padId: number, withTypes: boolean): TrainBatch {
  const rows: { ids: number[]; types: number[] }[] = [];
  for (const f of features) {
    if (task === 'multiple-choice') (f.inputIds as number[][]).forEach((ids, c) => rows.push({ ids, types: (f.typeIds as number[][])[c]! }));
    else rows.push({ ids: f.inputIds as number[], types: f.typeIds as number[] });
  }
  const n = Math.max(1, ...rows.map((r) => r.ids.length));
  const dims = task === 'multiple-choice' ? [features.length, (features[0]!.inputIds as number[][]).length, n] : [features.length, n];
  if (task === 'multiple-choice' && features.some((f) => f.inputIds.length !== dims[1])) {
    throw new Error('multiple choice: every example of a batch needs the same number of choices');
  }
  const ids = new BigInt64Array(rows.length * n).fill(BigInt(padId));
  const mask = new BigInt64Array(rows.length * n);
  const types = new BigInt64Array(rows.length * n);
  rows.forEach((r, b) => {
    for (let k = 0; k < r.ids.length; k++) {
      ids[b * n + k] = BigInt(r.ids[k]!);
      mask[b * n + k] = 1n;
      types[b * n + k] = BigInt(r.types[k] ?? 0);
    }
  });
  const batch: TrainBatch = { inputIds: tensor('int64', dims, ids), attentionMask: tensor('int64', dims, mask) };
  if (withTypes) batch.tokenTypeIds = tensor('int64', dims, types);
  const i64 = (xs: number[], d: number[]) => tensor('int64', d, BigInt64Array.from(xs, (x) => BigInt(x)));
  if (task === 'token-classification') {
    const labels = new BigInt64Array(features.length * n).fill(-100n);
    features.forEach((f, b) => f.labels!.forEach((l, k) => { labels[b * n + k] = BigInt(l); }));
    batch.labels = tensor('int64', [features.length, n], labels);
  } else if (task === 'question-answering') {
    batch.startPositions = i64(features.map((f) => f.startPosition ?? 0), [features.length]);
    batch.endPositions = i64(features.map((f) => f.endPosition ?? 0), [features.length]);
  } else if (features[0]?.multiHot) {
    // Float targets, as BCE-with-logits and MSE take them; float64 keeps them exact for either dtype.
    batch.labels = tensor('float64', [features.length, features[0].multiHot.length], Float64Array.from(features.flatMap((f) => f.multiHot!)));
  } else if (features[0]?.value !== undefined) {
    batch.labels = tensor('float64', [features.length], Float64Array.from(features, (f) => f.value!));
  } else {
    batch.labels = i64(features.map((f) => f.label!), [features.length]);
  }
  return batch;
}

/** Real (non-padding) tokens in a batch, for tokens/s. */
export function countTokens(b: TrainBatch): number {
  let n = 0;
  for (const m of b.attentionMask.data as BigInt64Array) if (m !== 0n) n++;
  return n;
}

/** Labelled units of a batch: what its mean loss averages over (examples, or labelled tokens). */
export function lossWeight(task: Task, b: TrainBatch): number {
  if (task !== 'token-classification') return b.inputIds.dims[0]!;
  let n = 0;
  for (const l of b.labels!.data as BigInt64Array) if (l !== -100n) n++;
  return n;
}

/** Micro-batches of feature indices: shuffled by `order`, cut every `size`. */
export function batchIndices(order: number[], size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size));
  return out;
}
