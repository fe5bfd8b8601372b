// Batch jobs over a corpus (`deberta classify --input corpus.jsonl --output out.jsonl`) with the embedded
// spam model on worker threads: killed with SIGKILL mid-run and resumed, the output is byte for byte the
// uninterrupted one; three shards concatenated in order are the unsharded output; records the model
// cannot take get an error line and the rest still run.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseShard } from '../src/cli/batch-job.ts';
import { sleep, text } from './helpers/serve-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'deberta-job-'));
const CORPUS = join(dir, 'corpus.jsonl');
const FULL = join(dir, 'full.jsonl');
const N = 240;

before(() => {
  // Long records (so that a run takes seconds and can be killed in the middle), of varied lengths.
  const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ text: text(300 + ((i * 397) % 1700), i + 1) }));
  writeFileSync(CORPUS, `${lines.join('\n')}\n`);
});
after(() => { if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); });

function job(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classify', '--input', CORPUS, '--no-progress', ...args],
    { encoding: 'utf8', timeout: 300_000 });
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

describe('batch job', () => {
  it('writes one result per record, in input order', { timeout: 300_000 }, () => {
    const r = job(['--output', FULL, '--workers', '2', '--threads', '1', '--batch-size', '4']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`${N} records written to `));
    const out = lines(FULL).map((l) => JSON.parse(l) as { label: string; score: number }[]);
    assert.equal(out.length, N);
    for (const x of out) {
      assert.ok(['spam', 'ham'].includes(x[0]!.label));
      assert.ok(x[0]!.score > 0.5 && x[0]!.score <= 1);
    }
    // In input order: record 5 alone gives the 5th line's answer.
    const one = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classify', '--format', 'jsonl', '--threads', '1',
      (JSON.parse(readFileSync(CORPUS, 'utf8').split('\n')[4]!) as { text: string }).text], { encoding: 'utf8' });
    assert.equal(one.status, 0, one.stderr);
    const alone = JSON.parse(one.stdout) as { label: string; score: number }[];
    assert.equal(alone[0]!.label, out[4]![0]!.label);
    assert.ok(Math.abs(alone[0]!.score - out[4]![0]!.score) < 4 * 2 ** -23); // measured 0 (1 and 2 threads): a float32 floor
    // Run again: nothing left to do, the output untouched.
    const again = job(['--output', FULL, '--workers', '2', '--threads', '1', '--batch-size', '4']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`nothing left to do: ${N} records`));
    assert.equal(lines(FULL).length, N);
  });

  it('killed with SIGKILL mid-run and resumed: byte for byte the uninterrupted output', { timeout: 300_000 }, async () => {
    const out = join(dir, 'killed.jsonl');
    const args = ['--output', out, '--workers', '1', '--threads', '1', '--batch-size', '4'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'classify', '--input', CORPUS, '--no-progress', ...args], { stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    let seen = 0;
    for (let i = 0; i < 3000; i++) {
      if (existsSync(out) && statSync(out).size > 0) {
        seen = lines(out).length;
        if (seen >= 40) break;
      }
      await sleep(10);
    }
    child.kill('SIGKILL');
    await exited;
    const atKill = lines(out).length;
    assert.ok(seen >= 40 && atKill < N, `killed after ${atKill} of ${N} records`);
    const resumed = job(args);
    assert.equal(resumed.status, 0, resumed.stderr);
    const kept = Number(/already holds (\d+) records: continuing/.exec(resumed.stderr)?.[1]);
    // At most the chunk in flight (4 records, one worker) is lost.
    assert.ok(kept >= atKill - 4 && kept <= atKill, `kept ${kept} of the ${atKill} written before the kill`);
    assert.ok(readFileSync(out).equals(readFileSync(FULL)), 'resumed output = uninterrupted output');
  });

  it('three shards concatenated in order = the unsharded output', { timeout: 300_000 }, () => {
    const parts = [0, 1, 2].map((k) => {
      const file = join(dir, `shard-${k}.jsonl`);
      const r = job(['--output', file, '--shard', `${k}/3`, '--workers', '1', '--threads', '1', '--batch-size', '4']);
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(file);
    });
    assert.ok(parts.every((p) => p.length > 0));
    assert.ok(Buffer.concat(parts).equals(readFileSync(FULL)), 'shards 0/3 + 1/3 + 2/3 = the whole output');
  });

  it('an unreadable record gets an error line; the others run', { timeout: 300_000 }, () => {
    const qa = join(dir, 'qa.jsonl');
    writeFileSync(qa, [
      JSON.stringify({ question: 'Who won?', context: 'The home team won the match.' }),
      JSON.stringify({ question: ' ', context: 'An empty question.' }),
      JSON.stringify({ question: 'Where?', context: 'They played in the rain in Leeds.' }),
    ].join('\n'));
    const out = join(dir, 'qa-out.jsonl');
    const model = join(dir, 'qa-model');
    // No embedded QA model: a small random one (the answers mean nothing; their shape does).
    const init = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { writeTinyCheckpoint } from './test/helpers/tiny-checkpoint.ts'; writeTinyCheckpoint(${JSON.stringify(model)}, { architecture: 'DebertaV2ForQuestionAnswering' });`],
    { encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'qa', '--model', model, '--input', qa, '--output', out, '--workers', '1', '--no-progress'],
      { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const got = lines(out).map((l) => JSON.parse(l) as { answer?: string; error?: string });
    assert.equal(got.length, 3);
    assert.equal(typeof got[0]!.answer, 'string');
    assert.equal(got[1]!.error, `${qa}:2: input.question is empty`);
    assert.equal(typeof got[2]!.answer, 'string');
    assert.match(r.stderr, /3 records written to .*; 1 failed/);
  });

  it('parses --shard', () => {
    assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
    assert.throws(() => parseShard('3/3'), /--shard: expected K\/N with 0 <= K < N/);
    assert.throws(() => parseShard('1-3'), /--shard/);
  });
});
