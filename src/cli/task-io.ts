// Input and output of the task commands (fill-mask, classify, ...): items from arguments, a file or stdin;
// results as a table, JSON or JSON Lines; a progress bar on stderr while a file is processed.
import { readFileSync } from 'node:fs';
import { formatDuration } from '../train/progress.ts';

export interface TaskIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export const processIO = (): TaskIO => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });

export type OutputFormat = 'table' | 'json' | 'jsonl';
export const FORMATS: OutputFormat[] = ['table', 'json', 'jsonl'];

/** One input as read: a JSON value (JSON Lines) or a plain line of text, and where it came from for errors. */
export interface RawItem {
  value: unknown;
  where: string;
}

/**
 * The raw items: the arguments if any, else the lines of `--input FILE`, else the lines of stdin.
 * `.jsonl` / `.ndjson` files hold one JSON value per line. Other files and stdin hold text lines, where a
 * line that is a JSON object or string (starting with `{` or `"`) is read as JSON. Blank lines are skipped.
 */
export async function readItems(args: string[], file: string | undefined, io: TaskIO): Promise<{ items: RawItem[]; fromFile: boolean }> {
  if (args.length > 0) {
    if (file) throw new Error('give inputs as arguments or with --input, not both');
    return { items: args.map((value, i) => ({ value, where: `argument ${i + 1}` })), fromFile: false };
  }
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`--input: cannot read ${file} (${(err as Error).message})`);
    }
    return { items: parseLines(text, file, /\.(jsonl|ndjson)$/i.test(file)), fromFile: true };
  }
  if (io.stdin.isTTY) throw new Error('no input: give texts as arguments, a file with --input FILE.jsonl, or pipe lines into stdin');
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return { items: parseLines(Buffer.concat(chunks).toString('utf8'), 'stdin', false), fromFile: false };
}

export function parseLines(text: string, source: string, strictJson: boolean): RawItem[] {
  const items: RawItem[] = [];
  text.split(/\r?\n/).forEach((line, k) => {
    const item = parseLine(line, `${source}:${k + 1}`, strictJson);
    if (item) items.push(item);
  });
  return items;
}

/** One line as an item (see readItems); undefined for a blank line. */
export function parseLine(line: string, where: string, strictJson: boolean): RawItem | undefined {
  if (line.trim() === '') return undefined;
  if (strictJson) {
    try {
      return { value: JSON.parse(line), where };
    } catch (err) {
      throw new Error(`${where}: invalid JSON (${(err as Error).message})`);
    }
  }
  const t = line.trimStart();
  if (t.startsWith('{') || t.startsWith('"')) {
    try {
      return { value: JSON.parse(line), where };
    } catch { /* not JSON after all: a text line */ }
  }
  return { value: line, where };
}

/** A string item, or the `field` of an object item. */
export function textField(item: RawItem, field = 'text'): string {
  const v = item.value;
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as Record<string, unknown>)[field] === 'string') {
    return (v as Record<string, string>)[field]!;
  }
  throw new Error(`${item.where}: expected a string or an object with a "${field}" string`);
}

/** An optional string field of an object item. */
export function optionalField(item: RawItem, field: string): string | undefined {
  const v = item.value;
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const f = (v as Record<string, unknown>)[field];
  if (f === undefined || f === null) return undefined;
  if (typeof f !== 'string') throw new Error(`${item.where}: "${field}" must be a string`);
  return f;
}

export function defaultFormat(io: TaskIO): OutputFormat {
  return io.stdout.isTTY ? 'table' : 'jsonl';
}

/** A plain text table: columns padded to their widest cell, cells cut to `max` characters. */
export function renderTable(headers: string[], rows: (string | number)[][], max = 60): string {
  const cell = (v: string | number) => {
    const s = String(v).replace(/\s+/g, ' ');
    return s.length > max ? `${s.slice(0, max - 1)}…` : s;
  };
  const cells = [headers, ...rows].map((r) => r.map(cell));
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const numeric = headers.map((_, c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number'));
  const line = (r: string[]) => r.map((v, c) => (numeric[c] ? v.padStart(widths[c]!) : v.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n') + '\n';
}

export function fmt(score: number): string {
  return Number.isFinite(score) ? score.toFixed(4) : String(score);
}

/** A one-line progress bar on a terminal's stderr (nothing elsewhere, so pipes and logs stay clean). */
export class ItemProgress {
  private readonly start = performance.now();
  private drawn = false;
  constructor(private readonly total: number, private readonly io: TaskIO, private readonly enabled: boolean, private readonly unit = 'items') {}

  update(done: number): void {
    if (!this.enabled || !this.io.stderr.isTTY) return;
    const elapsed = (performance.now() - this.start) / 1000;
    const width = 24;
    const filled = Math.round((done / Math.max(1, this.total)) * width);
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? formatDuration((this.total - done) / rate) : '?';
    const text = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total} ${this.unit}  ${rate.toFixed(1)}/s  ETA ${eta}`;
    this.io.stderr.write(`\r${text.slice(0, Math.max(20, (this.io.stderr.columns ?? 120) - 1))}\x1b[K`);
    this.drawn = true;
  }

  end(): void {
    if (this.drawn) this.io.stderr.write('\n');
    this.drawn = false;
  }
}
