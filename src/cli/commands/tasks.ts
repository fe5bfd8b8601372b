// The task commands: `deberta fill-mask | classify | zero-shot | ner | qa | embed | rerank`. Each reads its
// inputs from arguments, `--input FILE` (JSON Lines, or one text per line) or stdin, runs the pipeline in
// chunks (so JSON Lines output streams and a progress bar can follow a file), and writes a table, JSON or
// JSON Lines (one result per input, in input order). Without --model, the task's embedded model is used.
// With `--output FILE` (all but rerank), the command is a batch job over the --input corpus on worker
// threads: streamed, in order, resumable, and shardable with --shard K/N (src/cli/batch-job.ts).
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { DEFAULT_WORKERS } from './serve.ts';
import { parseShard, runBatchJob, type JobSpec } from '../batch-job.ts';
import { DEVICES, pipeline, type AnyPipeline, type RunOptions, type Task } from '../../pipelines/index.ts';
import type { FillMaskOutput, FillMaskPipeline, FillMaskResult } from '../../pipelines/fill-mask.ts';
import type { ClassificationResult, TextClassificationInput, TextClassificationPipeline, FunctionToApply } from '../../pipelines/text-classification.ts';
import { parseLabels, type ZeroShotClassificationPipeline, type ZeroShotResult } from '../../pipelines/zero-shot.ts';
import { AGGREGATION_STRATEGIES, type AggregationStrategy, type TokenClassificationOutput, type TokenClassificationPipeline } from '../../pipelines/token-classification.ts';
import type { QuestionAnsweringInput, QuestionAnsweringOutput, QuestionAnsweringPipeline } from '../../pipelines/question-answering.ts';
import { POOLINGS, type FeatureExtractionPipeline, type Pooling } from '../../pipelines/feature-extraction.ts';
import type { RerankPipeline, RerankResult } from '../../pipelines/rerank.ts';
import { FORMATS, ItemProgress, defaultFormat, fmt, optionalField, processIO, readItems, renderTable, textField,
  type OutputFormat, type RawItem, type TaskIO } from '../task-io.ts';
import { checkRevision, DownloadProgress, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { oneOf, parseIntFlag } from '../flags.ts';

export interface CommonFlags {
  model?: string;
  tokenizer?: string;
  input?: string;
  format?: string;
  batchSize?: string;
  threads?: string;
  device?: string;
  maxLength?: string;
  progress?: boolean;
  output?: string;
  shard?: string;
  workers?: string;
  revision?: string;
}

/** How one command turns items into pipeline calls and results into a table. */
interface TaskSpec<I, R> {
  task: Task;
  parse(raw: RawItem): I;
  /** Runs all items at once (one result for all of them) instead of in chunks. */
  group?(items: I[]): I[];
  run(pipe: AnyPipeline, items: I[], o: RunOptions): Promise<R[]>;
  table(items: I[], results: R[]): string;
  /** The same task as a batch job on worker threads (--output); results as `run` gives them. */
  job?: JobSpec;
}

const int = (v: string | undefined, flag: string, min = 1) => (v === undefined ? undefined : parseIntFlag(v, flag, min));

/** Reads the items, loads the pipeline, runs it and writes the results. Exported for tests (`io` replaces the process streams). */
export async function runTaskCommand<I, R>(spec: TaskSpec<I, R>, args: string[], flags: CommonFlags, io: TaskIO = processIO()): Promise<void> {
  flags = await withLocalCheckpoints(flags);
  if (flags.output !== undefined) return batchJob(spec, args, flags, io);
  if (flags.shard !== undefined || flags.workers !== undefined) throw new Error('--shard and --workers are for batch jobs: give --input FILE and --output FILE');
  const format: OutputFormat = flags.format === undefined ? defaultFormat(io) : oneOf(flags.format, FORMATS, '--format');
  const batchSize = int(flags.batchSize, '--batch-size') ?? 8;
  const { items: raw, fromFile } = await readItems(args, flags.input, io);
  let items = raw.map((r) => spec.parse(r));
  if (spec.group) items = spec.group(items);
  if (items.length === 0) throw new Error(`no input: ${flags.input ?? 'stdin'} holds no non-blank line; give texts as arguments, --input FILE.jsonl, or lines on stdin`);
  const pipe = await pipeline(spec.task, flags.model ?? null, {
    batchSize, threads: int(flags.threads, '--threads'), device: flags.device === undefined ? undefined : oneOf(flags.device, DEVICES, '--device'), maxLength: int(flags.maxLength, '--max-length'), tokenizer: flags.tokenizer,
  });
  try {
    const whole = spec.group !== undefined;
    const chunk = whole ? items.length : batchSize * 16;
    const progress = new ItemProgress(items.length, io, fromFile && flags.progress !== false);
    const results: R[] = [];
    for (let s = 0; s < items.length; s += chunk) {
      const part = items.slice(s, s + chunk);
      // Progress inside a chunk: its share of the rows done, in items.
      const out = await spec.run(pipe, part, { onProgress: (d, t) => progress.update(s + Math.floor((part.length * d) / t)) });
      progress.update(s + part.length);
      if (format === 'jsonl') for (const r of out) io.stdout.write(`${JSON.stringify(r)}\n`);
      else results.push(...out);
    }
    progress.end();
    if (format === 'json') io.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    if (format === 'table') io.stdout.write(spec.table(items, results));
  } finally {
    await pipe.dispose();
  }
}

/** Hub ids in --model and --tokenizer fetched into the cache, the flags then naming their snapshot folders. */
async function withLocalCheckpoints(flags: CommonFlags): Promise<CommonFlags> {
  checkRevision(flags.revision, [flags.model, flags.tokenizer]);
  const progress = new DownloadProgress();
  const model = await localCheckpoint(flags.model, { revision: flags.revision, progress, parts: flags.tokenizer === undefined ? 'all' : 'model' });
  const tokenizer = await localCheckpoint(flags.tokenizer, { revision: flags.revision, progress, parts: 'tokenizer' });
  return { ...flags, model, tokenizer };
}

/** `--input FILE --output FILE`: the batch job. */
async function batchJob<I, R>(spec: TaskSpec<I, R>, args: string[], flags: CommonFlags, io: TaskIO): Promise<void> {
  if (!spec.job) throw new Error(`${spec.task}: --output (a batch job) is not available for this command; write its JSON Lines to stdout`);
  if (args.length > 0 || flags.input === undefined) throw new Error('--output needs the inputs in a file: --input FILE (and no inputs as arguments)');
  if (flags.format !== undefined && flags.format !== 'jsonl') throw new Error('--output writes JSON Lines: leave out --format or give --format jsonl');
  const workers = int(flags.workers, '--workers') ?? DEFAULT_WORKERS;
  const batchSize = int(flags.batchSize, '--batch-size') ?? 8;
  if (flags.device !== undefined && flags.device !== 'cpu') throw new Error('--output runs on CPU worker threads: leave out --device');
  await runBatchJob(spec.job, {
    input: flags.input, output: flags.output!, model: flags.model ?? null,
    shard: flags.shard === undefined ? undefined : parseShard(flags.shard),
    chunk: batchSize, workers, batchSize,
    threads: int(flags.threads, '--threads') ?? Math.max(1, Math.floor(availableParallelism() / workers)),
    maxLength: int(flags.maxLength, '--max-length'), tokenizer: flags.tokenizer, progress: flags.progress !== false,
  }, io);
}

/** The flags all task commands share. */
function common(cmd: Command): Command {
  return cmd
    .option('-m, --model <dir|id>', 'checkpoint folder (config.json, weights, tokenizer), URL or Hugging Face Hub id (org/name); default: the embedded model of the task')
    .option('--tokenizer <dir|id>', 'read the tokenizer from this folder (URL, Hub id) instead of the model\'s')
    .option('--revision <rev>', REVISION_HELP)
    .option('-i, --input <file>', 'inputs from a file: .jsonl (one JSON value per line) or one text per line; default: arguments, else stdin')
    .option('-f, --format <fmt>', `output: ${FORMATS.join(' | ')} (default: table on a terminal, else jsonl)`)
    .option('--batch-size <n>', 'rows per model call', '8')
    .option('--threads <n>', 'intra-op threads (default: all cores)')
    .option('--device <name>', 'cpu or webgpu (ONNX Runtime\'s WebGPU provider)', 'cpu')
    .option('--max-length <n>', 'longest row in tokens (default: the tokenizer\'s limit)')
    .option('--no-progress', 'no progress bar while reading --input')
    .option('-o, --output <file>', 'a batch job: run the --input corpus on worker threads into this JSON Lines file, in input order; rerun to resume')
    .option('--shard <K/N>', 'with --output: the K-th (from 0) of N contiguous parts of the input; the N outputs in order are the whole output')
    .option('--workers <n>', `with --output: worker threads, each with its own model session (default ${DEFAULT_WORKERS})`);
}

function block(title: string, body: string): string {
  return `${title}\n${body}\n`;
}

// --- fill-mask -----------------------------------------------------------------------------------------

function fillMaskSpec(f: { topK?: string; targets?: string }): TaskSpec<string, FillMaskOutput> {
  const topK = int(f.topK, '--top-k');
  const targets = f.targets === undefined ? undefined : f.targets.split(',').map((t) => t.trim()).filter(Boolean);
  return {
    task: 'fill-mask',
    parse: (r) => textField(r),
    run: (p, items, o) => (p as FillMaskPipeline)(items, { ...o, topK, targets }),
    job: { task: 'fill-mask', item: (r) => textField(r), options: () => ({ top_k: topK, targets }) },
    table: (items, results) => results.map((r, i) => {
      const masks = (Array.isArray(r[0]) ? r : [r]) as FillMaskResult[][];
      return masks.map((m, k) => block(masks.length > 1 ? `${items[i]}  (mask ${k + 1})` : items[i]!,
        renderTable(['#', 'token', 'score', 'sequence'], m.map((c, j) => [j + 1, c.token_str, fmt(c.score), c.sequence])))).join('');
    }).join(''),
  };
}

// --- classify ------------------------------------------------------------------------------------------

function classifySpec(f: { topK?: string; function?: string; pair?: string }): TaskSpec<TextClassificationInput, ClassificationResult[]> {
  const topK = f.topK === 'all' ? null : int(f.topK, '--top-k');
  const fn = f.function === undefined ? undefined : oneOf<FunctionToApply>(f.function, ['softmax', 'sigmoid', 'none'], '--function');
  const parse = (r: RawItem): TextClassificationInput => {
    const text = textField(r);
    const pair = optionalField(r, 'text_pair') ?? optionalField(r, 'textPair') ?? (typeof r.value === 'string' ? f.pair : undefined);
    return pair === undefined ? text : { text, textPair: pair };
  };
  return {
    task: 'text-classification',
    parse,
    job: {
      task: 'text-classification',
      item: (r) => { const x = parse(r); return typeof x === 'string' ? x : { text: x.text, text_pair: x.textPair }; },
      options: () => ({ top_k: topK, function_to_apply: fn }),
    },
    run: (p, items, o) => (p as TextClassificationPipeline).run(items, { ...o, topK, functionToApply: fn }),
    table: (items, results) => renderTable(['text', 'label', 'score'], results.flatMap((r, i) => {
      const x = items[i]!;
      const text = typeof x === 'string' ? x : `${x.text} ‖ ${x.textPair}`;
      return r.map((c, k) => [k === 0 ? text : '', c.label, fmt(c.score)]);
    })),
  };
}

// --- zero-shot -----------------------------------------------------------------------------------------

function zeroShotSpec(f: { labels?: string; template?: string; multiLabel?: boolean }): TaskSpec<string, ZeroShotResult> {
  if (f.labels === undefined) throw new Error('zero-shot: --labels is required (comma-separated candidate labels)');
  const labels = parseLabels(f.labels);
  return {
    task: 'zero-shot-classification',
    parse: (r) => textField(r),
    run: (p, items, o) => (p as ZeroShotClassificationPipeline)(items, labels, { ...o, hypothesisTemplate: f.template, multiLabel: f.multiLabel }),
    job: {
      task: 'zero-shot-classification', item: (r) => textField(r),
      options: () => ({ candidate_labels: labels, hypothesis_template: f.template, multi_label: f.multiLabel }),
    },
    table: (_items, results) => results.map((r) => block(r.sequence,
      renderTable(['label', 'score'], r.labels.map((l, k) => [l, fmt(r.scores[k]!)])))).join(''),
  };
}

// --- ner -----------------------------------------------------------------------------------------------

function nerSpec(f: { aggregation?: string; ignoreLabels?: string; stride?: string }): TaskSpec<string, TokenClassificationOutput> {
  const chosen = f.aggregation === undefined ? undefined : oneOf<AggregationStrategy>(f.aggregation, AGGREGATION_STRATEGIES, '--aggregation');
  const ignoreLabels = f.ignoreLabels === undefined ? undefined : f.ignoreLabels.split(',').map((s) => s.trim()).filter(Boolean);
  const stride = int(f.stride, '--stride', 0);
  return {
    task: 'token-classification',
    parse: (r) => textField(r),
    run: (p, items, o) => {
      // Default: group B-/I- tagged entities; list tokens for other tag sets (POS tags).
      const bio = Object.values(p.model.config.id2label).some((l) => /^[BI]-/.test(l));
      return (p as TokenClassificationPipeline)(items, { ...o, aggregationStrategy: chosen ?? (bio ? 'simple' : 'none'), ignoreLabels, stride });
    },
    job: {
      task: 'token-classification', item: (r) => textField(r),
      options: (info) => ({
        aggregation_strategy: chosen ?? ((info.labels ?? []).some((l) => /^[BI]-/.test(l)) ? 'simple' : 'none'), ignore_labels: ignoreLabels, stride,
      }),
    },
    table: (items, results) => results.map((r, i) => block(items[i]!, r.length === 0 ? '(no entities)\n'
      : renderTable(['entity', 'text', 'start', 'end', 'score'],
        r.map((e) => ['entity' in e ? e.entity : e.entity_group, items[i]!.slice(e.start, e.end), e.start, e.end, fmt(e.score)])))).join(''),
  };
}

// --- qa ------------------------------------------------------------------------------------------------

function qaSpec(f: { question?: string; topK?: string; maxAnswerLen?: string; docStride?: string; maxSeqLen?: string; handleImpossible?: boolean },
  args: string[]): { spec: TaskSpec<QuestionAnsweringInput, QuestionAnsweringOutput>; args: string[] } {
  // `deberta qa QUESTION CONTEXT`, or `--question Q` with contexts as arguments, lines or JSON items.
  let question = f.question;
  if (question === undefined && args.length > 0) {
    if (args.length !== 2) throw new Error('qa: give QUESTION CONTEXT as two arguments, or --question Q with the contexts');
    question = args[0];
    args = args.slice(1);
  }
  const opts = {
    topK: int(f.topK, '--top-k'), maxAnswerLen: int(f.maxAnswerLen, '--max-answer-len'), docStride: int(f.docStride, '--doc-stride', 0),
    maxSeqLen: int(f.maxSeqLen, '--max-seq-len'), handleImpossibleAnswer: f.handleImpossible,
  };
  const parse = (r: RawItem): QuestionAnsweringInput => {
    const q = optionalField(r, 'question') ?? question;
    if (q === undefined) throw new Error(`${r.where}: no question: give --question or items {"question", "context"}`);
    return { question: q, context: textField(r, 'context') };
  };
  const spec: TaskSpec<QuestionAnsweringInput, QuestionAnsweringOutput> = {
    task: 'question-answering',
    parse,
    job: {
      task: 'question-answering', item: parse,
      options: () => ({
        top_k: opts.topK, max_answer_len: opts.maxAnswerLen, doc_stride: opts.docStride, max_seq_len: opts.maxSeqLen,
        handle_impossible_answer: opts.handleImpossibleAnswer,
      }),
    },
    run: (p, items, o) => (p as QuestionAnsweringPipeline)(items, { ...o, ...opts }),
    table: (items, results) => renderTable(['question', 'answer', 'score', 'start', 'end'], results.flatMap((r, i) =>
      (Array.isArray(r) ? r : [r]).map((a, k) => [k === 0 ? items[i]!.question : '', a.answer === '' ? '(no answer)' : a.answer, fmt(a.score), a.start, a.end]))),
  };
  return { spec, args };
}

// --- embed ---------------------------------------------------------------------------------------------

function embedSpec(f: { pooling?: string; normalize?: boolean }): TaskSpec<string, number[] | number[][]> {
  const pooling = oneOf<Pooling>(f.pooling ?? 'mean', POOLINGS, '--pooling');
  return {
    task: 'feature-extraction',
    parse: (r) => textField(r),
    run: (p, items, o) => (p as FeatureExtractionPipeline).run(items, { ...o, pooling, normalize: f.normalize === true } as { pooling: 'mean' }),
    job: { task: 'feature-extraction', item: (r) => textField(r), options: () => ({ pooling, normalize: f.normalize === true }) },
    table: (items, results) => renderTable(['text', 'dims', 'norm', 'vector'], results.map((r, i) => {
      const v = (pooling === 'none' ? (r as number[][])[0]! : r) as number[];
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      const dims = pooling === 'none' ? `${(r as number[][]).length}×${v.length}` : String(v.length);
      return [items[i]!, dims, fmt(norm), `[${v.slice(0, 4).map((x) => x.toFixed(4)).join(', ')}, …]`];
    })),
  };
}

// --- rerank --------------------------------------------------------------------------------------------

interface RerankItem { query?: string; documents: string[] }

function rerankSpec(f: { query?: string; topK?: string }): TaskSpec<RerankItem, RerankResult[]> {
  const topK = int(f.topK, '--top-k');
  return {
    task: 'rerank',
    parse: (r): RerankItem => {
      const v = r.value as Record<string, unknown> | undefined;
      if (v && typeof v === 'object' && !Array.isArray(v) && 'documents' in v) {
        if (!Array.isArray(v.documents) || !v.documents.every((d) => typeof d === 'string')) throw new Error(`${r.where}: "documents" must be a list of strings`);
        return { query: optionalField(r, 'query'), documents: v.documents as string[] };
      }
      return { documents: [textField(r)] };
    },
    // With --query, every line is one document of a single ranking; otherwise each item is {query, documents}.
    group: (items) => {
      if (f.query === undefined) {
        const bad = items.findIndex((x) => x.query === undefined);
        if (bad >= 0) throw new Error(`rerank: item ${bad + 1} has no query: give --query, or items {"query", "documents"}`);
        return items;
      }
      if (items.some((x) => x.query !== undefined)) throw new Error('rerank: --query is given, so the items must be documents, not {query, documents}');
      return [{ query: f.query, documents: items.flatMap((x) => x.documents) }];
    },
    run: async (p, items, o) => {
      const out: RerankResult[][] = [];
      for (const [i, x] of items.entries()) {
        // Progress over all queries: this query's share of its rows.
        const onProgress = (d: number, t: number) => o.onProgress?.(i * t + d, items.length * t);
        out.push(await (p as RerankPipeline)(x.query!, x.documents, { ...o, onProgress, topK, returnDocuments: true }));
      }
      return out;
    },
    table: (items, results) => results.map((r, i) => block(`query: ${items[i]!.query}`,
      renderTable(['rank', 'score', 'index', 'document'], r.map((x, k) => [k + 1, fmt(x.score), x.index, x.document ?? ''])))).join(''),
  };
}

// --- registration --------------------------------------------------------------------------------------

/** Registers the task commands; `io` replaces the process streams (tests). */
export function register(program: Command, io: TaskIO = processIO()): void {
  common(program.command('fill-mask').argument('[texts...]', 'texts with [MASK] where a word is missing')
    .description('predict the masked words of each text')
    .option('-k, --top-k <n>', 'candidates per mask', '5')
    .option('--targets <words>', 'score only these comma-separated words'))
    .action((texts: string[], f: CommonFlags & { topK?: string; targets?: string }) => runTaskCommand(fillMaskSpec(f), texts, f, io));

  common(program.command('classify').alias('text-classification').argument('[texts...]', 'texts to classify')
    .description('classify texts (or text pairs) with a sequence-classification model')
    .option('-k, --top-k <n>', "labels per text, or 'all'", '1')
    .option('--function <fn>', 'softmax | sigmoid | none (default: from the config\'s problem_type)')
    .option('--pair <text>', 'second text of the pair for every text given as a plain string'))
    .action((texts: string[], f: CommonFlags & { topK?: string; function?: string; pair?: string }) => runTaskCommand(classifySpec(f), texts, f, io));

  common(program.command('zero-shot').alias('zero-shot-classification').argument('[texts...]', 'texts to classify')
    .description('classify texts into any labels with an NLI model')
    .option('-l, --labels <labels>', 'comma-separated candidate labels (required)')
    .option('--template <text>', 'hypothesis template, {} standing for the label', 'This example is {}.')
    .option('--multi-label', 'score each label on its own (entailment against contradiction)'))
    .action((texts: string[], f: CommonFlags & { labels?: string; template?: string; multiLabel?: boolean }) => runTaskCommand(zeroShotSpec(f), texts, f, io));

  common(program.command('ner').alias('token-classification').argument('[texts...]', 'texts to tag')
    .description('tag the tokens of each text (entities, parts of speech), with character offsets')
    .option('-a, --aggregation <strategy>', `${AGGREGATION_STRATEGIES.join(' | ')} (default: simple for B-/I- labels, else none)`)
    .option('--ignore-labels <labels>', "comma-separated labels to leave out (default 'O')")
    .option('--stride <n>', 'split long texts into windows overlapping by n tokens instead of truncating'))
    .action((texts: string[], f: CommonFlags & { aggregation?: string; ignoreLabels?: string; stride?: string }) => runTaskCommand(nerSpec(f), texts, f, io));

  common(program.command('qa').alias('question-answering').argument('[inputs...]', 'QUESTION CONTEXT, or contexts with --question')
    .description('find the answer to a question in a context (long contexts are read in overlapping windows)')
    .option('-q, --question <text>', 'the question to ask of every context')
    .option('-k, --top-k <n>', 'answers per question', '1')
    .option('--max-answer-len <n>', 'longest answer in tokens', '15')
    .option('--doc-stride <n>', 'tokens shared by consecutive windows (default: min(max-seq-len / 2, 128))')
    .option('--max-seq-len <n>', 'tokens per window, question included (default: min(max-length, 384))')
    .option('--handle-impossible', 'allow "no answer"'))
    .action((inputs: string[], f: CommonFlags & { question?: string; topK?: string; maxAnswerLen?: string; docStride?: string; maxSeqLen?: string; handleImpossible?: boolean }) => {
      const { spec, args } = qaSpec(f, inputs);
      return runTaskCommand(spec, args, f, io);
    });

  common(program.command('embed').alias('feature-extraction').argument('[texts...]', 'texts to embed')
    .description('embed texts: the mean (or [CLS]) of the last hidden states')
    .option('--pooling <mode>', POOLINGS.join(' | '), 'mean')
    .option('--normalize', 'scale each vector to unit length'))
    .action((texts: string[], f: CommonFlags & { pooling?: string; normalize?: boolean }) => runTaskCommand(embedSpec(f), texts, f, io));

  common(program.command('rerank').argument('[documents...]', 'documents to rank against --query')
    .description('rank documents by relevance to a query with a cross-encoder')
    .option('-q, --query <text>', 'the query (else items {"query", "documents"})')
    .option('-k, --top-k <n>', 'documents to list (default: all)'))
    .action((docs: string[], f: CommonFlags & { query?: string; topK?: string }) => runTaskCommand(rerankSpec(f), docs, f, io));
}
