// Batch jobs over a corpus: `deberta <task> --input corpus.jsonl --output out.jsonl [--shard K/N]`.
//
// - Streams: the input is read line by line (twice: once to count the records, once to run them) and
//   results are appended as they come, so memory does not grow with the corpus.
// - Runs on the server's worker pool (src/server/worker-pool.ts): one chunk of records per worker at a
//   time, results written in input order.
// - Resumable: an existing output is continued after its last complete chunk (a torn last line or a
//   chunk half written by a killed run is cut off), so kill -9 loses at most the chunks in flight.
// - Sharded: `--shard K/N` (K from 0) takes the K-th of N contiguous runs of chunks; the N outputs
//   concatenated in shard order are the unsharded output.
// Chunk boundaries depend only on the record index and --batch-size, never on workers, shards or
// resumption, so every way of running a corpus gives the same bytes.
import { closeSync, createReadStream, existsSync, ftruncateSync, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Dtype, Task } from '../pipelines/index.ts';
import { checkWritableFile } from '../train/checkpoint.ts';
import { makeFolderFor } from './flags.ts';
import type { RunnerInfo } from '../server/task-runtime.ts';
import { ItemFailure } from '../server/types.ts';
import { loadPooledModel } from '../server/worker-pool.ts';
import { ItemProgress, parseLine, type RawItem, type TaskIO } from './task-io.ts';

export interface Shard {
  index: number;
  count: number;
}

/** `K/N` with 0 ≤ K < N. */
export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]), count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new Error(`--shard: expected K/N with 0 <= K < N (e.g. 0/3), got '${value}'`);
  return { index, count };
}

export interface JobSpec {
  task: Task;
  /** A record as the worker runs it (the server's request item). */
  item(raw: RawItem): unknown;
  /** The run's options (the server's snake_case request options), from what the model is. */
  options(info: RunnerInfo): Record<string, unknown>;
}

export interface JobOptions {
  input: string;
  output: string;
  model: string | null;
  shard?: Shard;
  /** Records per chunk: one worker call, and the unit of resumption. */
  chunk: number;
  workers: number;
  threads: number;
  batchSize: number;
  maxLength?: number;
  tokenizer?: string;
  /** The pipelines' dtype (default fp32). */
  dtype?: Dtype;
  progress: boolean;
}

const strictJson = (file: string) => /\.(jsonl|ndjson)$/i.test(file);

/** The input's records (non-blank lines), streamed. */
async function* records(file: string): AsyncGenerator<RawItem> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let k = 0;
  for await (const line of lines) {
    k++;
    const item = parseLine(line, `${file}:${k}`, strictJson(file));
    if (item) yield item;
  }
}

async function countRecords(file: string): Promise<number> {
  let n = 0;
  for await (const _ of records(file)) n++;
  return n;
}

/**
 * Opens the output for appending after its last complete chunk: counts its complete lines (streaming),
 * cuts it back to a multiple of `chunk` lines, and returns the fd and the records already done.
 */
function openOutput(file: string, chunk: number): { fd: number; done: number; end: number } {
  const fd = openSync(file, existsSync(file) ? 'r+' : 'w+');
  const size = fstatSync(fd).size;
  const buf = Buffer.allocUnsafe(1 << 16);
  let lines = 0;
  let keepUpTo = 0; // bytes up to the end of the last line of the last whole chunk
  for (let at = 0; at < size; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - at), at);
    for (let i = 0; i < n; i++) {
      if (buf[i] !== 0x0a) continue;
      lines++;
      if (lines % chunk === 0) keepUpTo = at + i + 1;
    }
    at += n;
  }
  ftruncateSync(fd, keepUpTo);
  return { fd, done: Math.floor(lines / chunk) * chunk, end: keepUpTo };
}

/** The --input file, readable and not a folder, checked before any work. */
function checkInput(file: string): void {
  let folder: boolean;
  try {
    folder = statSync(file).isDirectory();
  } catch (err) {
    throw new Error(`--input: cannot read ${file} (${(err as Error).message})`);
  }
  if (folder) throw new Error(`--input: ${file} is a folder, not a file`);
}

/** Whether two paths name one file: spelled alike once resolved, or the same file through a link. */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  if (!existsSync(b)) return false;
  const x = statSync(a), y = statSync(b);
  return x.dev === y.dev && x.ino === y.ino;
}

/** Runs the job; returns the records written by this run and the failed records among them. */
export async function runBatchJob(spec: JobSpec, o: JobOptions, io: TaskIO): Promise<{ written: number; failed: number; skipped: number }> {
  checkInput(o.input);
  checkWritableFile(o.output, '--output');
  // Opening the output cuts it back to whole chunks: were it the input, the input would be lost.
  if (sameFile(o.input, o.output)) throw new Error(`--output: ${o.output} is the --input file`);
  makeFolderFor(o.output, '--output');
  const total = await countRecords(o.input);
  const chunks = Math.ceil(total / o.chunk);
  const shard = o.shard ?? { index: 0, count: 1 };
  const firstChunk = Math.floor((shard.index * chunks) / shard.count);
  const endChunk = Math.floor(((shard.index + 1) * chunks) / shard.count);
  const from = firstChunk * o.chunk;
  const to = Math.min(total, endChunk * o.chunk);

  const { fd, done, end } = openOutput(o.output, o.chunk);
  let position = end; // writes go after the records kept
  if (done > to - from) {
    closeSync(fd);
    throw new Error(`${o.output} holds ${done} records, more than the ${to - from} of this ${o.shard ? `shard (${shard.index}/${shard.count})` : 'input'}: is it the output of another input or shard?`);
  }
  const say = (s: string) => io.stderr.write(`deberta ${spec.task}: ${s}\n`);
  if (done > 0) say(`${o.output} already holds ${done} records: continuing from there`);
  if (done === to - from) {
    closeSync(fd);
    say(`nothing left to do: ${done} records in ${o.output}`);
    return { written: 0, failed: 0, skipped: done };
  }

  const model = await loadPooledModel({ name: spec.task, dir: o.model, tasks: [spec.task] }, {
    workers: o.workers, threads: o.threads, batchSize: o.batchSize, maxLength: o.maxLength, tokenizer: o.tokenizer, nice: 0,
    ...(o.dtype ? { dtype: o.dtype } : {}),
  });
  const runner = model.runners[0]!;
  const options = spec.options(runner.info!);
  try {
    runner.validate?.([], options); // the options, once: a mistake there would fail every record
  } catch (err) {
    await model.dispose!();
    closeSync(fd);
    throw err;
  }
  const progress = new ItemProgress(to - from, io, o.progress, 'records');
  let written = 0, failed = 0;
  try {
    // Chunks in flight (at most one per worker), written in order as they finish.
    const inFlight: Promise<string>[] = [];
    const flushOne = async () => {
      const text = await inFlight.shift()!;
      const bytes = Buffer.from(text);
      writeSync(fd, bytes, 0, bytes.length, position);
      position += bytes.length;
      written += text.length === 0 ? 0 : countLines(text);
      progress.update(done + written);
    };
    let chunk: RawItem[] = [];
    let index = 0;
    const start = from + done;
    const send = (part: RawItem[]) => {
      // A record the model cannot take (the server would answer 422) gets an error line and is not run.
      const lines: (string | undefined)[] = [];
      const items: unknown[] = [];
      for (const r of part) {
        const item = spec.item(r);
        try {
          runner.validate?.([item], options);
          items.push(item);
          lines.push(undefined);
        } catch (err) {
          failed++;
          lines.push(`${JSON.stringify({ error: `${r.where}: ${(err as Error).message.replace(/^inputs\[0\]/, 'input')}` })}\n`);
        }
      }
      const run = items.length > 0 ? runner.run(items, options) : Promise.resolve([]);
      inFlight.push(run.then((results) => {
        let k = 0;
        return lines.map((line) => {
          if (line !== undefined) return line;
          const r = results[k++];
          if (r instanceof ItemFailure) {
            failed++;
            return `${JSON.stringify({ error: r.describe(0).replace(/^inputs\[0\]/, 'input') })}\n`;
          }
          return `${JSON.stringify(r)}\n`;
        }).join('');
      }));
    };
    for await (const rec of records(o.input)) {
      if (index++ < start) continue;
      if (index > to) break;
      chunk.push(rec);
      if (chunk.length === o.chunk) {
        send(chunk);
        chunk = [];
        if (inFlight.length >= o.workers) await flushOne();
      }
    }
    if (chunk.length > 0) send(chunk);
    while (inFlight.length > 0) await flushOne();
  } finally {
    progress.end();
    closeSync(fd);
    await model.dispose!();
  }
  say(`${written} records written to ${o.output}${done ? ` after the ${done} already there` : ''}${failed ? `; ${failed} failed (lines {"error": ...})` : ''}`);
  return { written, failed, skipped: done };
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
