// The task commands: `deberta fill-mask | classify | zero-shot | ner | qa | embed | rerank`, one per task
// of the task table (src/pipelines/tasks.ts), whose declaration gives the command's name, its flags (one
// per option, with its help, default and checks) and how a batch runs. Each command reads its inputs from
// arguments, `--input FILE` (JSON Lines, or one text per line) or stdin, runs the pipeline in chunks (so
// JSON Lines output streams and a progress bar can follow a file), and writes a table, JSON or JSON Lines
// (one result per input, in input order). Without --model, the task's embedded model is used.
// With `--output FILE`, the command is a batch job over the --input corpus on worker threads: streamed,
// in order, resumable, and shardable with --shard K/N (src/cli/batch-job.ts).
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { DEFAULT_WORKERS } from './serve.ts';
import { parseShard, runBatchJob } from '../batch-job.ts';
import { DEVICES, pipeline, TASK_TABLE, TASKS, taskDecl, type AnyPipeline, type RunOptions, type Task, type TaskResult } from '../../pipelines/index.ts';
import { optionProblem, snakeName, type OptionSpec } from '../../pipelines/options.ts';
import type { InputKindName } from '../../pipelines/tasks.ts';
import type { FillMaskResult } from '../../pipelines/fill-mask.ts';
import type { QuestionAnsweringInput } from '../../pipelines/question-answering.ts';
import type { RerankInput } from '../../pipelines/rerank.ts';
import { FORMATS, ItemProgress, defaultFormat, fmt, optionalField, processIO, readItems, renderTable, textField,
  type OutputFormat, type RawItem, type TaskIO } from '../task-io.ts';
import { checkRevision, DownloadProgress, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { DTYPE_HELP, dtypeFlag, oneOf, parseIntFlag } from '../flags.ts';

export interface CommonFlags {
  model?: string;
  tokenizer?: string;
  input?: string;
  format?: string;
  batchSize?: string;
  threads?: string;
  device?: string;
  dtype?: string;
  maxLength?: string;
  progress?: boolean;
  output?: string;
  shard?: string;
  workers?: string;
  revision?: string;
}

/** The flags of one command as commander gives them: the common ones, the task's options', its input's. */
type Flags = CommonFlags & Record<string, unknown>;

const int = (v: string | undefined, flag: string, min = 1) => (v === undefined ? undefined : parseIntFlag(v, flag, min));

/** `--top-k` of `-k, --top-k <n>`, and commander's name for its value (`topK`). */
function flagNames(flag: string): { long: string; key: string } {
  const long = /--[a-z][a-z-]*/.exec(flag)![0];
  return { long, key: long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) };
}

/** What a task's records are, for the command line: the flag that fills a field of every record, and how a record becomes an input. */
interface RecordKind {
  flag?: [flag: string, help: string];
  parse(r: RawItem, f: Flags): unknown;
  /** All items at once instead of one input each (rerank with --query: the lines are the documents of one query). */
  group?(items: unknown[], f: Flags): unknown[];
  /** Positional arguments that are not all inputs (qa: QUESTION CONTEXT). */
  args?(args: string[], f: Flags): string[];
}

const RECORDS: Record<InputKindName, RecordKind> = {
  text: { parse: (r) => textField(r) },
  'text-pair': {
    flag: ['--pair <text>', 'second text of the pair for every text given as a plain string'],
    parse: (r, f) => {
      const text = textField(r);
      const pair = optionalField(r, 'text_pair') ?? optionalField(r, 'textPair') ?? (typeof r.value === 'string' ? f.pair as string | undefined : undefined);
      return pair === undefined ? text : { text, text_pair: pair };
    },
  },
  'question-context': {
    flag: ['-q, --question <text>', 'the question to ask of every context'],
    // `deberta qa QUESTION CONTEXT`, or `--question Q` with contexts as arguments, lines or JSON items.
    args: (args, f) => {
      if (f.question !== undefined || args.length === 0) return args;
      if (args.length !== 2) throw new Error('qa: give QUESTION CONTEXT as two arguments, or --question Q with the contexts');
      f.question = args[0];
      return args.slice(1);
    },
    parse: (r, f): QuestionAnsweringInput => {
      const question = optionalField(r, 'question') ?? f.question as string | undefined;
      if (question === undefined) throw new Error(`${r.where}: no question: give --question or items {"question", "context"}`);
      return { question, context: textField(r, 'context') };
    },
  },
  'query-documents': {
    flag: ['-q, --query <text>', 'the query (else items {"query", "documents"})'],
    parse: (r): Partial<RerankInput> => {
      const v = r.value as Record<string, unknown> | undefined;
      if (v && typeof v === 'object' && !Array.isArray(v) && 'documents' in v) {
        if (!Array.isArray(v.documents) || !v.documents.every((d) => typeof d === 'string')) throw new Error(`${r.where}: "documents" must be a list of strings`);
        return { query: optionalField(r, 'query'), documents: v.documents as string[] };
      }
      return { documents: [textField(r)] };
    },
    // With --query, every line is one document of a single ranking; otherwise each item is {query, documents}.
    group: (items, f) => {
      const xs = items as Partial<RerankInput>[];
      if (f.query === undefined) {
        const bad = xs.findIndex((x) => x.query === undefined);
        if (bad >= 0) throw new Error(`rerank: item ${bad + 1} has no query: give --query, or items {"query", "documents"}`);
        return xs;
      }
      if (xs.some((x) => x.query !== undefined)) throw new Error('rerank: --query is given, so the items must be documents, not {query, documents}');
      return [{ query: f.query, documents: xs.flatMap((x) => x.documents!) }];
    },
  },
};

/** Options the command line sets where the pipeline's default would not suit it. */
const COMMAND_DEFAULTS: Partial<Record<Task, (labels: string[]) => Record<string, unknown>>> = {
  // Group B-/I- tagged entities; list tokens for other tag sets (POS tags).
  'token-classification': (labels) => ({ aggregationStrategy: labels.some((l) => /^[BI]-/.test(l)) ? 'simple' : 'none' }),
  // The table shows the documents.
  rerank: () => ({ returnDocuments: true }),
};
const COMMAND_DEFAULT_HELP: Record<string, string> = { aggregationStrategy: 'simple for B-/I- labels, else none' };

/** An option's value from its flag, checked as the task declares (camelCase name), or undefined. */
function optionFromFlag(command: string, spec: OptionSpec, f: Flags): unknown {
  if (!spec.flag) return undefined;
  const { long, key } = flagNames(spec.flag);
  const raw = f[key];
  if (raw === undefined) {
    if (spec.required) throw new Error(`${command}: ${long} is required (${spec.help})`);
    return undefined;
  }
  let value: unknown = raw;
  if (spec.kind === 'int') value = intValue(spec, raw as string, long);
  else if (spec.kind === 'enum') value = oneOf(raw as string, spec.values!, long);
  else if (spec.kind === 'strings') value = (raw as string).split(',').map((s) => s.trim()).filter(Boolean);
  const p = optionProblem(spec, value);
  if (p) throw new Error(`${long}${p.at ?? ''}: ${p.problem}`);
  return value;
}

/** An int option's flag value; the word standing for null (`all`) is valid too, and its error says so. */
function intValue(spec: OptionSpec, raw: string, long: string): number | null {
  if (spec.nullWord !== undefined && raw === spec.nullWord) return null;
  try {
    return parseIntFlag(raw, long, spec.min ?? 1);
  } catch (err) {
    if (spec.nullWord === undefined) throw err;
    throw new Error(`${long}: expected an integer >= ${spec.min ?? 1} or '${spec.nullWord}', got '${raw}'`);
  }
}

/** The task's options from the flags (camelCase), before the command's own defaults. */
function optionsFromFlags(task: Task, f: Flags): Record<string, unknown> {
  const { cli, options } = taskDecl(task);
  return Object.fromEntries(options.map((o) => [o.name, optionFromFlag(cli.command, o, f)]).filter(([, v]) => v !== undefined));
}

/** Reads the items, loads the pipeline, runs it and writes the results. Exported for tests (`io` replaces the process streams). */
export async function runTaskCommand(task: Task, args: string[], flags: Flags, io: TaskIO = processIO()): Promise<void> {
  const decl = taskDecl(task);
  const records = RECORDS[decl.input];
  flags = { ...(await withLocalCheckpoints(flags)) };
  args = records.args?.(args, flags) ?? args;
  const options = optionsFromFlags(task, flags);
  if (flags.output !== undefined) return batchJob(task, args, flags, options, io);
  if (flags.shard !== undefined || flags.workers !== undefined) throw new Error('--shard and --workers are for batch jobs: give --input FILE and --output FILE');
  const format: OutputFormat = flags.format === undefined ? defaultFormat(io) : oneOf(flags.format, FORMATS, '--format');
  const batchSize = int(flags.batchSize, '--batch-size') ?? 8;
  const { items: raw, fromFile } = await readItems(args, flags.input, io);
  let items = raw.map((r) => records.parse(r, flags));
  if (records.group) items = records.group(items, flags);
  // Where each input was read, for the pipeline's errors (none where rerank's --query merged the lines).
  const wheres = items.length === raw.length ? raw.map((r) => r.where) : undefined;
  if (items.length === 0) throw new Error(`no input: ${flags.input ?? 'stdin'} holds no non-blank line; give texts as arguments, --input FILE.jsonl, or lines on stdin`);
  const pipe = await pipeline(task, flags.model ?? null, {
    batchSize, threads: int(flags.threads, '--threads'), device: flags.device === undefined ? undefined : oneOf(flags.device, DEVICES, '--device'), dtype: dtypeFlag(flags.dtype), maxLength: int(flags.maxLength, '--max-length'), tokenizer: flags.tokenizer,
  });
  try {
    const o = { ...COMMAND_DEFAULTS[task]?.(Object.values(pipe.model.config.id2label)), ...options };
    const chunk = records.group ? items.length : batchSize * 16;
    const progress = new ItemProgress(items.length, io, fromFile && flags.progress !== false);
    const results: unknown[] = [];
    for (let s = 0; s < items.length; s += chunk) {
      const part = items.slice(s, s + chunk);
      // Progress inside a chunk: its share of the rows done, in items.
      const onProgress: RunOptions['onProgress'] = (d, t) => progress.update(s + Math.floor((part.length * d) / t));
      const out = await decl.run(pipe as AnyPipeline, part, { ...o, onProgress }).catch((err: unknown) => {
        throw located(err, task, wheres?.slice(s, s + chunk));
      });
      progress.update(s + part.length);
      if (format === 'jsonl') for (const r of out) io.stdout.write(`${JSON.stringify(r)}\n`);
      else results.push(...out);
    }
    progress.end();
    if (format === 'json') io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    if (format === 'table') io.stdout.write((TABLES[task] as (items: unknown[], results: unknown[]) => string)(items, results));
  } finally {
    await pipe.dispose();
  }
}

/**
 * A pipeline's error names an input by its index in the call (`fill-mask: input 3 cannot be filled`); the
 * command calls it a chunk at a time, so name where the input was read instead (`texts.txt:131`, `argument 2`).
 */
function located(err: unknown, task: Task, wheres: string[] | undefined): unknown {
  if (!(err instanceof Error) || !wheres) return err;
  const m = new RegExp(`^${task}: input (\\d+)\\b`).exec(err.message);
  const where = m ? wheres[Number(m[1])] : undefined;
  if (where === undefined) return err;
  err.message = `${task}: ${where}${err.message.slice(m![0].length)}`;
  return err;
}

/** Hub ids in --model and --tokenizer fetched into the cache, the flags then naming their snapshot folders. */
async function withLocalCheckpoints(flags: Flags): Promise<Flags> {
  checkRevision(flags.revision, [flags.model, flags.tokenizer]);
  const progress = new DownloadProgress();
  const model = await localCheckpoint(flags.model, { revision: flags.revision, progress, parts: flags.tokenizer === undefined ? 'all' : 'model' });
  const tokenizer = await localCheckpoint(flags.tokenizer, { revision: flags.revision, progress, parts: 'tokenizer' });
  return { ...flags, model, tokenizer };
}

/** `--input FILE --output FILE`: the batch job, its records run as the server runs request inputs. */
async function batchJob(task: Task, args: string[], flags: Flags, options: Record<string, unknown>, io: TaskIO): Promise<void> {
  const records = RECORDS[taskDecl(task).input];
  if (records.group && flags.query !== undefined) throw new Error('rerank: --output runs each record {"query", "documents"} on its own: leave out --query');
  if (args.length > 0 || flags.input === undefined) throw new Error('--output needs the inputs in a file: --input FILE (and no inputs as arguments)');
  if (flags.format !== undefined && flags.format !== 'jsonl') throw new Error('--output writes JSON Lines: leave out --format or give --format jsonl');
  const workers = int(flags.workers, '--workers') ?? DEFAULT_WORKERS;
  const batchSize = int(flags.batchSize, '--batch-size') ?? 8;
  if (flags.device !== undefined && flags.device !== 'cpu') throw new Error('--output runs on CPU worker threads: leave out --device');
  await runBatchJob({
    task,
    item: (r) => {
      const x = records.parse(r, flags);
      if (records.group && (x as Partial<RerankInput>).query === undefined) throw new Error(`${r.where}: no query: give records {"query", "documents"}`);
      return x;
    },
    // The server's request options: snake_case.
    options: (info) => Object.fromEntries(Object.entries({ ...COMMAND_DEFAULTS[task]?.(info.labels ?? []), ...options }).map(([k, v]) => [snakeName(k), v])),
  }, {
    input: flags.input, output: flags.output!, model: flags.model ?? null,
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
    chunk: batchSize, workers, batchSize,
    threads: int(flags.threads, '--threads') ?? Math.max(1, Math.floor(availableParallelism() / workers)),
    maxLength: int(flags.maxLength, '--max-length'), tokenizer: flags.tokenizer, progress: flags.progress !== false, dtype: dtypeFlag(flags.dtype),
  }, io);
}

/** The flags all task commands share: flag, help, default. */
const COMMON_FLAGS: [string, string, string?][] = [
  ['-m, --model <dir|id>', 'checkpoint folder (config.json, weights, tokenizer), URL or Hugging Face Hub id (org/name); default: the embedded model of the task'],
  ['--tokenizer <dir|id>', 'read the tokenizer from this folder (URL, Hub id) instead of the model\'s'],
  ['--revision <rev>', REVISION_HELP],
  ['-i, --input <file>', 'inputs from a file: .jsonl (one JSON value per line) or one text per line; default: arguments, else stdin'],
  ['-f, --format <fmt>', `output: ${FORMATS.join(' | ')} (default: table on a terminal, else jsonl)`],
  ['--batch-size <n>', 'rows per model call', '8'],
  ['--threads <n>', 'intra-op threads (default: all cores)'],
  ['--device <name>', `${DEVICES.join(' or ')} (ONNX Runtime's WebGPU provider)`, 'cpu'],
  ['--dtype <name>', DTYPE_HELP, 'fp32'],
  ['--max-length <n>', 'longest row in tokens (default: the tokenizer\'s limit)'],
  ['--no-progress', 'no progress bar while reading --input'],
  ['-o, --output <file>', 'a batch job: run the --input corpus on worker threads into this JSON Lines file, in input order; rerun to resume'],
  ['--shard <K/N>', 'with --output: the K-th (from 0) of N contiguous parts of the input; the N outputs in order are the whole output'],
  ['--workers <n>', `with --output: worker threads, each with its own model session (default ${DEFAULT_WORKERS})`],
];

/** An option's flag help: its values, its help, how null and lists are written, its default in words. */
function flagHelp(o: OptionSpec): string {
  const parts = [o.kind === 'enum' ? `${o.values!.join(' | ')}: ${o.help}` : o.help];
  if (o.kind === 'strings') parts.push(', comma-separated');
  if (o.nullWord !== undefined) parts.push(`, or '${o.nullWord}' for ${o.nullMeans}`);
  const defaultText = COMMAND_DEFAULT_HELP[o.name] ?? o.defaultText;
  if (o.required) parts.push(' (required)');
  else if (defaultText !== undefined) parts.push(` (default: ${defaultText})`);
  return parts.join('');
}

// --- tables --------------------------------------------------------------------------------------------

function block(title: string, body: string): string {
  return `${title}\n${body}\n`;
}

type Table<T extends Task> = (items: never[], results: TaskResult<T>[]) => string;

/** How each task's results read on a terminal. */
const TABLES: { [T in Task]: Table<T> } = {
  'fill-mask': (items: string[], results) => results.map((r, i) => {
    const masks = (Array.isArray(r[0]) ? r : [r]) as FillMaskResult[][];
    return masks.map((m, k) => block(masks.length > 1 ? `${items[i]}  (mask ${k + 1})` : items[i]!,
      renderTable(['#', 'token', 'score', 'sequence'], m.map((c, j) => [j + 1, c.token_str, fmt(c.score), c.sequence])))).join('');
  }).join(''),
  'text-classification': (items: (string | { text: string; text_pair: string })[], results) => renderTable(['text', 'label', 'score'], results.flatMap((r, i) => {
    const x = items[i]!;
    const text = typeof x === 'string' ? x : `${x.text} ‖ ${x.text_pair}`;
    return r.map((c, k) => [k === 0 ? text : '', c.label, fmt(c.score)]);
  })),
  'zero-shot-classification': (_items, results) => results.map((r) => block(r.sequence,
    renderTable(['label', 'score'], r.labels.map((l, k) => [l, fmt(r.scores[k]!)])))).join(''),
  'token-classification': (items: string[], results) => results.map((r, i) => block(items[i]!, r.length === 0 ? '(no entities)\n'
    : renderTable(['entity', 'text', 'start', 'end', 'score'],
      r.map((e) => ['entity' in e ? e.entity : e.entity_group, items[i]!.slice(e.start, e.end), e.start, e.end, fmt(e.score)])))).join(''),
  'question-answering': (items: QuestionAnsweringInput[], results) => renderTable(['question', 'answer', 'score', 'start', 'end'], results.flatMap((r, i) =>
    (Array.isArray(r) ? r : [r]).map((a, k) => [k === 0 ? items[i]!.question : '', a.answer === '' ? '(no answer)' : a.answer, fmt(a.score), a.start, a.end]))),
  'feature-extraction': (items: string[], results) => renderTable(['text', 'dims', 'norm', 'vector'], results.map((r, i) => {
    const perToken = Array.isArray(r[0]);
    const v = (perToken ? r[0] : r) as number[];
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return [items[i]!, perToken ? `${r.length}×${v.length}` : String(v.length), fmt(norm), `[${v.slice(0, 4).map((x) => x.toFixed(4)).join(', ')}, …]`];
  })),
  rerank: (items: RerankInput[], results) => results.map((r, i) => block(`query: ${items[i]!.query}`,
    renderTable(['rank', 'score', 'index', 'document'], r.map((x, k) => [k + 1, fmt(x.score), x.index, x.document ?? ''])))).join(''),
};

// --- registration --------------------------------------------------------------------------------------

/** Registers one command per task; `io` replaces the process streams (tests). */
export function register(program: Command, io: TaskIO = processIO()): void {
  for (const task of TASKS) {
    const { cli, input, options } = TASK_TABLE[task];
    const cmd = program.command(cli.command).argument(cli.argument, cli.argumentHelp).description(cli.description);
    if (cli.command !== task) cmd.alias(task);
    const recordFlag = RECORDS[input].flag;
    if (recordFlag) cmd.option(...recordFlag);
    for (const o of options as readonly OptionSpec[]) {
      if (!o.flag) continue;
      const shown = o.kind !== 'boolean' && o.default !== undefined && COMMAND_DEFAULT_HELP[o.name] === undefined ? String(o.default) : undefined;
      cmd.option(o.flag, flagHelp(o), shown);
    }
    for (const [flag, help, value] of COMMON_FLAGS) cmd.option(flag, help, value);
    cmd.action((args: string[], f: Flags) => runTaskCommand(task, args, f, io));
  }
}
