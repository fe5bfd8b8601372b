// The task commands (fill-mask, classify, zero-shot, ner, qa, embed, rerank): inputs from arguments, a
// JSONL file and stdin; table, JSON and JSON Lines output checked against the pipelines' own results;
// the progress bar on a terminal; errors naming the flag. One run goes through bin/deberta.js.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Command } from 'commander';
import { register } from '../src/cli/commands/tasks.ts';
import type { TaskIO } from '../src/cli/task-io.ts';
import { DEFAULT_MODELS, pipeline } from '../src/pipelines/index.ts';
import { MODELS_DIR } from '../src/platform/node.ts';
import { cleanup, tempDir, withTinyTokenizer } from './helpers/pipeline-models.ts';

const M: Record<string, string> = {};
before(() => {
  M.mlm = withTinyTokenizer('v3-buckets-mlm');
  M.nli = withTinyTokenizer('v3-buckets-seqcls', (c) => {
    c.id2label = { 0: 'contradiction', 1: 'neutral', 2: 'entailment' };
    delete c.label2id;
  });
  M.ner = withTinyTokenizer('v3-buckets-tokcls', (c) => {
    c.id2label = { 0: 'O', 1: 'B-PER', 2: 'I-PER', 3: 'B-LOC', 4: 'I-LOC' };
    delete c.label2id;
  });
  M.qa = withTinyTokenizer('v3-buckets-qa');
  M.cross = withTinyTokenizer('v3-buckets-seqcls-regression');
  M.base = withTinyTokenizer('v3-buckets-base');
});
after(cleanup);

class Sink extends Writable {
  text = '';
  constructor(public isTTY = false, public columns = 100) {
    super();
  }
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** Runs `deberta <args>` with the task commands on fake streams. */
async function run(args: string[], opts: { stdin?: string; tty?: boolean; stderrTTY?: boolean } = {}) {
  const stdout = new Sink(opts.tty ?? false), stderr = new Sink(opts.stderrTTY ?? false);
  const stdin = Object.assign(Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]), { isTTY: opts.stdin === undefined });
  const io = { stdin, stdout, stderr } as unknown as TaskIO;
  const program = new Command('deberta').exitOverride();
  register(program, io);
  await program.parseAsync([...args, '--threads', '1'], { from: 'user' });
  return { out: stdout.text, err: stderr.text };
}
const lines = (s: string) => s.trim().split('\n').map((l) => JSON.parse(l) as unknown);

test('cli fill-mask: arguments in, JSON Lines out (not a terminal), as the pipeline returns', async () => {
  const texts = ['The cat [MASK] on the mat.', 'A [MASK] day'];
  const { out } = await run(['fill-mask', ...texts, '-m', M.mlm!, '-k', '3']);
  const pipe = await pipeline('fill-mask', M.mlm!, { threads: 1 });
  try {
    const want = await pipe(texts, { topK: 3 });
    const got = lines(out) as typeof want;
    assert.equal(got.length, 2);
    got.forEach((r, i) => assert.deepEqual((r as { token: number }[]).map((x) => x.token), (want[i] as { token: number }[]).map((x) => x.token)));
  } finally {
    await pipe.dispose();
  }
  // On a terminal: a table with each text and its candidates.
  const table = (await run(['fill-mask', texts[0]!, '-m', M.mlm!, '-k', '2'], { tty: true })).out;
  assert.match(table, /^The cat \[MASK\] on the mat\.\n#\s+token\s+score\s+sequence\n/);
  assert.equal(table.trim().split('\n').length, 5);
});

test('cli classify: a JSONL file with pairs, JSON output, a progress bar on a terminal', async () => {
  const file = join(tempDir(), 'in.jsonl');
  const items = [{ text: 'great film' }, { text: 'the plot', text_pair: 'was thin' }, 'just a string'];
  writeFileSync(file, items.map((x) => JSON.stringify(x)).join('\n') + '\n');
  const { out, err } = await run(['classify', '-m', M.nli!, '-i', file, '-f', 'json', '-k', 'all', '--batch-size', '2'], { stderrTTY: true });
  const got = JSON.parse(out) as { label: string; score: number }[][];
  const pipe = await pipeline('text-classification', M.nli!, { threads: 1 });
  try {
    const want = await pipe.run(['great film', { text: 'the plot', textPair: 'was thin' }, 'just a string'], { topK: null });
    assert.equal(got.length, 3);
    got.forEach((r, i) => r.forEach((c, k) => {
      assert.equal(c.label, want[i]![k]!.label);
      assert.ok(Math.abs(c.score - want[i]![k]!.score) < 1e-15); // measured 0 (JSON keeps every digit): a float64 floor
    }));
  } finally {
    await pipe.dispose();
  }
  assert.match(err, /\[#{24}\] 3\/3 items/);
  // No terminal, no bar; --no-progress too.
  assert.equal((await run(['classify', '-m', M.nli!, '-i', file])).err, '');
  assert.equal((await run(['classify', '-m', M.nli!, '-i', file, '--no-progress'], { stderrTTY: true })).err, '');
});

test('cli ner / zero-shot / qa / embed / rerank: stdin lines and arguments', async () => {
  // ner: stdin text lines (a JSON string line is read as JSON); spans map back into each text.
  const texts = ['Alice went to New York.', 'Bob stayed home'];
  const ner = lines((await run(['ner', '-m', M.ner!, '-a', 'first', '--ignore-labels', ''], { stdin: `${texts[0]}\n\n${JSON.stringify(texts[1])}\n` })).out) as { entity_group: string; word: string; start: number; end: number }[][];
  assert.equal(ner.length, 2);
  ner.forEach((ents, i) => {
    assert.ok(ents.length > 0);
    for (const e of ents) assert.equal(texts[i]!.slice(e.start, e.end), e.word);
    // With no label ignored, the words cover the text.
    assert.equal(ents.map((e) => e.word).join(' ').replace(/ \./g, '.'), texts[i]);
  });

  const zs = lines((await run(['zero-shot', 'The game ended late.', '-m', M.nli!, '-l', 'sport,politics,food'])).out) as { labels: string[]; scores: number[] }[];
  assert.equal(zs.length, 1);
  assert.ok(Math.abs(zs[0]!.scores.reduce((a, b) => a + b, 0) - 1) < 1e-15); // measured 1.1e-16: a float64 floor (~4.5 ulp)
  await assert.rejects(run(['zero-shot', 'text', '-m', M.nli!]), /--labels is required/);

  const qa = (await run(['qa', 'Who did it?', 'The man in the hat did it.', '-m', M.qa!], { tty: true })).out;
  assert.match(qa, /^question\s+answer\s+score\s+start\s+end\n/);
  const qaJson = lines((await run(['qa', '-q', 'Who did it?', 'The man in the hat did it.', 'Nobody.', '-m', M.qa!, '-k', '2'])).out) as { answer: string }[][];
  assert.equal(qaJson.length, 2);
  assert.equal(qaJson[0]!.length, 2);
  await assert.rejects(run(['qa', 'only one', '-m', M.qa!]), /QUESTION CONTEXT as two arguments/);

  const emb = lines((await run(['embed', 'hello', 'world', '-m', M.base!, '--normalize'])).out) as number[][];
  assert.equal(emb.length, 2);
  assert.ok(Math.abs(Math.hypot(...emb[0]!) - 1) < 2e-15); // measured 3.3e-16: a float64 floor (~9 ulp)

  // rerank: --query with documents on stdin gives one ranking; {query, documents} items give one each.
  const one = lines((await run(['rerank', '-m', M.cross!, '-q', 'cats'], { stdin: 'cats sleep\ndogs bark\nfish swim\n' })).out) as { index: number; document: string }[][];
  assert.equal(one.length, 1);
  assert.deepEqual(one[0]!.map((r) => r.index).sort(), [0, 1, 2]);
  assert.equal(one[0]!.find((r) => r.index === 1)!.document, 'dogs bark');
  const many = lines((await run(['rerank', '-m', M.cross!], { stdin: '{"query":"a","documents":["x","y"]}\n{"query":"b","documents":["z"]}\n' })).out);
  assert.equal(many.length, 2);
  await assert.rejects(run(['rerank', '-m', M.cross!], { stdin: 'just a document\n' }), /item 1 has no query/);
  // --activation none: the raw logits, as the pipeline scores the pairs.
  const raw = lines((await run(['rerank', 'cats sleep', 'dogs bark', '-m', M.cross!, '-q', 'cats', '--activation', 'none'])).out) as { index: number; score: number }[][];
  const pipe = await pipeline('rerank', M.cross!, { threads: 1 });
  try {
    const want = await pipe.score([['cats', 'cats sleep'], ['cats', 'dogs bark']], { activation: 'none' });
    assert.equal(raw[0]!.length, 2);
    for (const r of raw[0]!) assert.ok(Math.abs(r.score - want[r.index]!) < 1e-6, `${r.score} vs ${want[r.index]}`);
    assert.ok(raw[0]!.some((r) => r.score < 0 || r.score > 1), `raw logits expected, got ${JSON.stringify(raw)}`);
  } finally {
    await pipe.dispose();
  }
});

test('cli: errors name the flag, the input line or the missing default model', async () => {
  await assert.rejects(run(['fill-mask', 'a [MASK]', '-m', M.mlm!, '-f', 'xml']), /--format: expected one of table, json, jsonl, got 'xml'/);
  await assert.rejects(run(['fill-mask', 'a [MASK]', '-m', M.mlm!, '--batch-size', '0']), /--batch-size: expected an integer >= 1, got '0'/);
  await assert.rejects(run(['ner', 'x', '-m', M.ner!, '-a', 'longest']), /--aggregation: expected one of none, simple, first, average, max/);
  await assert.rejects(run(['rerank', 'd', '-q', 'q', '-m', M.cross!, '--activation', 'relu']), /--activation: expected one of sigmoid, none, got 'relu'/);
  await assert.rejects(run(['zero-shot', 'x', '-m', M.nli!, '-l', 'a', '--template', 'no slot']), /^Error: --template: has no \{\} where the label goes$/);
  await assert.rejects(run(['qa', 'q', 'c', '-m', M.qa!, '--doc-stride', '-1']), /--doc-stride: expected an integer >= 0, got '-1'/);
  await assert.rejects(run(['fill-mask', 'a [MASK]', '-m', M.mlm!, '--device', 'cuda']), /--device: expected one of cpu, webgpu, got 'cuda'/);
  await assert.rejects(run(['fill-mask', 'a [MASK]', '-m', M.mlm!, '--dtype', 'q4']), /--dtype: expected one of fp32, fp16, q8, int8, got 'q4'/);
  const bad = join(tempDir(), 'bad.jsonl');
  writeFileSync(bad, '{"text": "ok"}\n{oops\n');
  await assert.rejects(run(['embed', '-m', M.base!, '-i', bad]), /bad\.jsonl:2: invalid JSON/);
  await assert.rejects(run(['embed', '-m', M.base!]), /no input: give texts as arguments, a file with --input FILE\.jsonl, or pipe lines into stdin/);
  await assert.rejects(run(['qa', '-m', M.qa!], { stdin: '{"context": "no question"}\n' }), /stdin:1: no question/);
  if (!existsSync(join(MODELS_DIR, DEFAULT_MODELS['fill-mask']!, 'config.json'))) {
    await assert.rejects(run(['fill-mask', 'a [MASK]']), /fill-mask: the embedded default model .*deberta-v3-brown-small is missing .*--model <Hub id, dir or URL>/);
  }
  await assert.rejects(run(['qa', 'q', 'c']), /question-answering: there is no embedded default model for this task; name a model \(--model <Hub id, dir or URL>, or pipeline\('question-answering', model\)\), e\.g\. deepset\/deberta-v3-base-squad2$/m);
});

test('cli: bin/deberta.js reads stdin and writes JSON Lines', () => {
  const bin = join(import.meta.dirname, '..', 'bin', 'deberta.js');
  const out = execFileSync(process.execPath, [bin, 'fill-mask', '-m', M.mlm!, '-k', '2', '--threads', '1'], { input: 'The [MASK] sat.\n' }).toString();
  const got = lines(out) as { token_str: string; score: number }[][];
  assert.equal(got.length, 1);
  assert.equal(got[0]!.length, 2);
  assert.ok(got[0]![0]!.score >= got[0]![1]!.score);
});

test('cli: a 40 KB text as an argument is classified, and ONNX Runtime leaves no file in $TMPDIR', async () => {
  // ONNX Runtime's telemetry client overflows the stack on a command line this long (the process dies of
  // SIGSEGV) and writes $TMPDIR/mat-debug-<pid>.log; importing deberta-ts turns the client off.
  const bin = join(import.meta.dirname, '..', 'bin', 'deberta.js');
  const text = 'word '.repeat(8_000);
  const tmp = tempDir();
  const env = { ...process.env, TMPDIR: tmp, ORT_DISABLE_TELEMETRY: undefined };
  const out = execFileSync(process.execPath, [bin, 'classify', text, '-m', M.nli!, '-f', 'json', '--threads', '1'], { env }).toString();
  const pipe = await pipeline('text-classification', M.nli!, { threads: 1 });
  try {
    assert.deepEqual(JSON.parse(out), [await pipe(text)]);
  } finally {
    await pipe.dispose();
  }
  assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('mat-debug')), []);
  // A value the user set is kept.
  const probe = `await import(${JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.ts'))}); console.log(process.env.ORT_DISABLE_TELEMETRY);`;
  const seen = (value?: string) => execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe],
    { env: { ...process.env, ORT_DISABLE_TELEMETRY: value } }).toString().trim();
  assert.equal(seen(undefined), '1');
  assert.equal(seen('0'), '0');
});

test('cli: a pipeline error names the input where it was read, not its index in a chunk', async () => {
  // With --batch-size 1 the command runs 16 inputs a call: line 20 is the 4th input of the second call.
  const file = join(tempDir(), 'texts.txt');
  writeFileSync(file, `${Array.from({ length: 19 }, (_, i) => `word ${i} [MASK]`).join('\n')}\nno mask here\n`);
  await assert.rejects(run(['fill-mask', '-m', M.mlm!, '-i', file, '--batch-size', '1']),
    { message: `fill-mask: ${file}:20 cannot be filled: it has no mask token; write [MASK] where the word to predict goes` });
  await assert.rejects(run(['fill-mask', 'a [MASK]', 'b', '-m', M.mlm!]),
    { message: 'fill-mask: argument 2 cannot be filled: it has no mask token; write [MASK] where the word to predict goes' });
  await assert.rejects(run(['qa', '-m', M.qa!], { stdin: '{"question": "Who?", "context": "Al."}\n{"question": " ", "context": "c"}\n' }),
    { message: 'question-answering: stdin:2: question is empty' });
  // 'all' is a valid --top-k too, and the message says so.
  await assert.rejects(run(['classify', 'x', '-m', M.nli!, '-k', 'ALL']), { message: "--top-k: expected an integer >= 1 or 'all', got 'ALL'" });
  await assert.rejects(run(['classify', 'x', '-m', M.nli!, '--revision', 'main']), { message: `--revision is for Hugging Face Hub ids, and ${M.nli} is no Hub id` });
  await assert.rejects(run(['classify', 'x', '--revision', 'main']), { message: '--revision is for Hugging Face Hub ids, and no --model is given' });
});

test('cli batch job: the --input file is never the output, bad paths name their flag, missing folders are made', async () => {
  const dir = tempDir();
  const input = join(dir, 'in.jsonl');
  const text = '{"text": "great film"}\n"the plot was thin"\n';
  writeFileSync(input, text);
  // The same file spelled otherwise, or through a link: refused before the output is cut back to whole chunks.
  const dotted = join(dir, '.', 'in.jsonl');
  await assert.rejects(run(['classify', '-m', M.nli!, '-i', input, '-o', dotted]), { message: `--output: ${dotted} is the --input file` });
  const link = join(dir, 'link.jsonl');
  symlinkSync(input, link);
  await assert.rejects(run(['classify', '-m', M.nli!, '-i', input, '-o', link]), { message: `--output: ${link} is the --input file` });
  assert.equal(readFileSync(input, 'utf8'), text);
  const missing = join(dir, 'nope.jsonl');
  await assert.rejects(run(['classify', '-m', M.nli!, '-i', missing, '-o', join(dir, 'o.jsonl')]),
    { message: `--input: cannot read ${missing} (ENOENT: no such file or directory, stat '${missing}')` });
  await assert.rejects(run(['classify', '-m', M.nli!, '-i', dir, '-o', join(dir, 'o.jsonl')]), { message: `--input: ${dir} is a folder, not a file` });
  await assert.rejects(run(['classify', '-m', M.nli!, '-i', input, '-o', dir]), { message: `--output: ${dir} is a folder, not a file` });
  const out = join(dir, 'new', 'sub', 'out.jsonl');
  const { err } = await run(['classify', '-m', M.nli!, '-i', input, '-o', out, '--workers', '1']);
  assert.equal(err, `deberta text-classification: 2 records written to ${out}\n`);
  assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 2);
});

const ROOT = join(import.meta.dirname, '..');
/** `deberta <args>` from the sources in a child process. */
const cli = (args: string[], input = '') => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, input, encoding: 'utf8' });

test('cli: piped into a reader that stops early (| head -1), the command ends quietly with status 0', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classify', '-m', M.nli!, '--threads', '1'], { cwd: ROOT });
  child.stdin.end(Array.from({ length: 2000 }, (_, i) => `text number ${i}`).join('\n'));
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout.once('data', () => child.stdout.destroy()); // the first results read, the pipe closed
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  assert.equal(err, '');
  assert.equal(code, 0);
});

test('cli tokenize and forward: flags that would do nothing, empty stdin, --out in a folder still to be made', () => {
  const t = cli(['tokenize', '--tokenizer', M.mlm!, '--truncation', 'only_first'], '["x"]');
  assert.equal(t.stderr, 'deberta: --truncation: needs --max-length\n');
  assert.equal(t.status, 1);
  const empty = cli(['tokenize', '--tokenizer', M.mlm!], '');
  assert.equal(empty.stderr, 'deberta: stdin: empty; expected a JSON array of strings\n');
  assert.equal(empty.status, 1);
  const fixture = join(ROOT, 'test', 'fixtures', 'models', 'v3-buckets-seqcls');
  const out = join(tempDir(), 'new', 'out.safetensors');
  const f = cli(['forward', '--model', fixture, '--inputs', join(fixture, 'expected.safetensors'), '--out', out, '--threads', '1']);
  assert.equal(f.stderr, `wrote logits to ${out}\n`);
  assert.equal(f.status, 0);
  assert.ok(existsSync(out));
});

test('cli --dtype: the pipeline with that dtype (fp16 here on the CPU provider), in the task command and the batch job', async () => {
  const texts = ['great film', 'the plot was thin'];
  const { out } = await run(['classify', ...texts, '-m', M.nli!, '-f', 'json', '-k', 'all', '--dtype', 'fp16']);
  const got = JSON.parse(out) as { label: string; score: number }[][];
  const half = await pipeline('text-classification', M.nli!, { threads: 1, dtype: 'fp16' });
  const full = await pipeline('text-classification', M.nli!, { threads: 1 });
  try {
    const want = await half.run(texts, { topK: null }) as { label: string; score: number }[][];
    const f32 = await full.run(texts, { topK: null }) as { label: string; score: number }[][];
    assert.deepEqual(got, want); // the same pipeline: the same numbers
    // And not float32's: float16 moves the scores (measured 1e-4 to 1e-3 on this fixture).
    const moved = Math.max(...want.flatMap((r, i) => r.map((c) => Math.abs(c.score - f32[i]!.find((x) => x.label === c.label)!.score))));
    assert.ok(moved > 1e-6 && moved < 2e-2, `fp16 scores moved ${moved} from float32's`);
  } finally {
    await half.dispose();
    await full.dispose();
  }
  const input = join(tempDir(), 'dtype.jsonl');
  writeFileSync(input, texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  const output = join(tempDir(), 'dtype-out.jsonl');
  await run(['classify', '-m', M.nli!, '-i', input, '-o', output, '-k', 'all', '--workers', '1', '--dtype', 'fp16']);
  const job = readFileSync(output, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { label: string; score: number }[]);
  assert.deepEqual(job, got);
});
