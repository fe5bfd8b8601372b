// Training runs and commands given bad state or flags: what killed runs leave behind is tidied, a resume
// with nothing to do says so and reports only folders that exist, tampered trainer state is refused
// naming the field, and every numeric flag and output folder is checked, naming the flag, before any work.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCheckpoint } from '../src/cli/commands/init.ts';
import { checkWritableFolder, readResumeState, removeStaleTemporaries } from '../src/train/checkpoint.ts';
import { train, type TrainOptions } from '../src/train/trainer.ts';
import { pretrain } from '../src/pretrain/trainer.ts';

const TOKENIZER = join(import.meta.dirname, 'fixtures', 'tokenizers', 'deberta-v3-unigram');
const DEAD = 4_000_000_000; // above any pid_max: no such process
let dir: string;
let base: TrainOptions;
let finished: string; // OUT/last of a finished 2-update run

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hardening-train-'));
  const rows = Array.from({ length: 8 }, (_, i) => ({ text: `${i % 2 ? 'great' : 'awful'} film number ${i}`, label: i % 2 ? 'good' : 'bad' }));
  writeFileSync(join(dir, 'train.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'deberta-v2', vocab_size: 8001, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2,
    intermediate_size: 32, max_position_embeddings: 64, relative_attention: true, position_buckets: 8,
    pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true, position_biased_input: false,
  }));
  initCheckpoint({ config: join(dir, 'config.json'), out: join(dir, 'init'), seed: 1, head: 'sequence-classification', tokenizer: TOKENIZER });
  base = {
    model: join(dir, 'init'), task: 'sequence-classification', train: join(dir, 'train.jsonl'), out: join(dir, 'run'),
    batchSize: 4, maxSteps: 2, maxLength: 16, seed: 1, threads: 1, progress: false, log: () => {},
  };
  const r = await train(base);
  assert.equal(r.globalStep, 2);
  finished = r.lastDir;
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('stale temporary folders are removed, and a checkpoint caught between its renames is restored', () => {
  const out = join(dir, 'stale');
  mkdirSync(join(out, 'last'), { recursive: true });
  mkdirSync(join(out, `.last.${DEAD}.0123abcd.tmp`));
  writeFileSync(join(out, `.last.${DEAD}.0123abcd.tmp`, 'model.safetensors'), 'x'.repeat(1000));
  mkdirSync(join(out, `.last.${DEAD}.89abcdef.old`));
  mkdirSync(join(out, `.best.${DEAD}.00000000.old`)); // best was moved aside and never replaced
  writeFileSync(join(out, `.best.${DEAD}.00000000.old`, 'config.json'), '{}');
  mkdirSync(join(out, `.last.${process.pid}.11111111.tmp`)); // a live process's: left alone
  writeFileSync(join(out, 'notes.txt'), 'kept');
  const done = removeStaleTemporaries(out);
  assert.deepEqual(done, [
    `restored ${join(out, 'best')} from .best.${DEAD}.00000000.old`,
    `removed ${join(out, `.last.${DEAD}.0123abcd.tmp`)}`,
    `removed ${join(out, `.last.${DEAD}.89abcdef.old`)}`,
  ]);
  assert.deepEqual(readdirSync(out).sort(), [`.last.${process.pid}.11111111.tmp`, 'best', 'last', 'notes.txt']);
  assert.equal(readFileSync(join(out, 'best', 'config.json'), 'utf8'), '{}');
  assert.deepEqual(removeStaleTemporaries(join(dir, 'no-such-folder')), []);
});

test('train tidies the output folder when it starts, and says what it removed', async () => {
  const out = join(dir, 'tidy');
  mkdirSync(join(out, `.last.${DEAD}.0badf00d.tmp`), { recursive: true });
  const lines: string[] = [];
  const r = await train({ ...base, out, maxSteps: 1, log: (l) => lines.push(l) });
  assert.equal(r.globalStep, 1);
  assert.ok(lines.includes(`removed ${join(out, `.last.${DEAD}.0badf00d.tmp`)}`), lines.join('\n'));
  assert.deepEqual(readdirSync(out).sort(), ['last']);
});

test('resuming a finished run into a new --out does nothing, says so and reports only what exists', async () => {
  const out = join(dir, 'again');
  const lines: string[] = [];
  const r = await train({ ...base, out, resume: finished, log: (l) => lines.push(l) });
  assert.equal(r.nothingToDo, true);
  assert.equal(r.globalStep, 2);
  assert.equal(r.lastDir, finished);
  assert.equal(r.bestDir, null);
  assert.ok(lines.includes(`nothing to do: ${finished} has already done all 2 updates; nothing was trained or written`), lines.join('\n'));
  assert.equal(existsSync(join(out, 'last')), false);
  // The command line prints no ms/update (no update ran) and only the folder that exists.
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'train', '--model', base.model, '--task', 'sequence-classification',
    '--train', base.train, '--out', out, '--resume', finished, '--batch-size', '4', '--max-steps', '2', '--max-length', '16', '--seed', '1',
    '--threads', '1', '--no-progress'], { encoding: 'utf8' });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /^nothing to do: .* has already done all 2 updates; nothing was trained or written\nnothing to do: 2 updates, peak memory \d+ MiB\nlast checkpoint: .*\n$/);
  assert.ok(!cli.stderr.includes('NaN'));
  assert.equal(existsSync(join(out, 'last')), false);
});

test('tampered trainer state is refused naming the file and the field', () => {
  const copy = join(dir, 'tampered');
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy);
  for (const f of readdirSync(finished)) writeFileSync(join(copy, f), readFileSync(join(finished, f)));
  const stateFile = join(copy, 'trainer_state.json');
  const good = JSON.parse(readFileSync(stateFile, 'utf8')) as Record<string, unknown>;
  const tamper = (patch: Record<string, unknown>) => {
    writeFileSync(stateFile, JSON.stringify({ ...good, ...patch }));
    return () => readResumeState(copy);
  };
  assert.throws(tamper({ globalStep: 'abc' }), { message: `${stateFile}: field 'globalStep' must be a non-negative integer, got "abc"` });
  assert.throws(tamper({ globalStep: -3 }), { message: `${stateFile}: field 'globalStep' must be a non-negative integer, got -3` });
  assert.throws(tamper({ globalStep: 99999 }), { message: `${stateFile}: field 'globalStep' must be at most totalSteps (2), got 99999` });
  assert.throws(tamper({ globalStep: 1 }), { message: `${copy}: optimizer.safetensors was saved at update 2 but trainer_state.json says 1; the checkpoint was altered` });
  assert.throws(tamper({ totalSteps: 0, globalStep: 0 }), { message: `${stateFile}: field 'totalSteps' must be a positive integer, got 0` });
  assert.throws(tamper({ logHistory: null }), { message: `${stateFile}: field 'logHistory' must be a list, got null` });
  assert.throws(tamper({ args: [] }), { message: `${stateFile}: field 'args' must be an object, got []` });
  writeFileSync(stateFile, `{"globalStep":${'['.repeat(10000)}${']'.repeat(10000)}}`);
  assert.throws(() => readResumeState(copy), { message: `${stateFile}: JSON nested more than 64 levels deep` });
  rmSync(stateFile);
  mkdirSync(stateFile);
  assert.throws(() => readResumeState(copy), { message: `${stateFile}: cannot read (EISDIR)` });
  rmSync(stateFile, { recursive: true });
  writeFileSync(stateFile, JSON.stringify(good));
  assert.equal(readResumeState(copy).trainerState.globalStep, 2);
});

test('output folders are checked before anything is loaded', async () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  assert.throws(() => checkWritableFolder(join(file, 'sub', 'out'), '--out'), { message: `--out: ${join(file, 'sub', 'out')} cannot be created: ${file} is a file, not a folder` });
  assert.throws(() => checkWritableFolder(file, '--out'), { message: `--out: ${file} is a file, not a folder` });
  checkWritableFolder(join(dir, 'not', 'yet', 'there'), '--out'); // creatable
  const started = performance.now();
  await assert.rejects(train({ ...base, out: join(file, 'out') }), { message: `--out: ${join(file, 'out')} cannot be created: ${file} is a file, not a folder` });
  assert.ok(performance.now() - started < 200, 'fails before loading or tokenizing anything');
  await assert.rejects(pretrain({ config: join(dir, 'config.json'), objective: 'mlm', train: [base.train], out: join(file, 'pre'), tokenizer: TOKENIZER, log: () => {} }),
    { message: `--out: ${join(file, 'pre')} cannot be created: ${file} is a file, not a folder` });
});

function cli(...args: string[]) {
  // Offline: a Hub id would be answered from the cache alone, never fetched.
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', input: '["hello"]', env: { ...process.env, HF_HUB_OFFLINE: '1' } });
}

test('numeric flags are checked with the flag\'s name before any work', () => {
  const cases: [string[], string][] = [
    [['tokenize', '--tokenizer', TOKENIZER, '--max-length', 'abc'], "deberta: --max-length: expected an integer >= 1, got 'abc'\n"],
    [['tokenize', '--tokenizer', TOKENIZER, '--max-length', '8', '--stride', '-1'], "deberta: --stride: expected an integer >= 0, got '-1'\n"],
    [['tokenize', '--tokenizer', TOKENIZER, '--truncation', 'sideways'], "deberta: --truncation: expected one of longest_first, only_first, only_second, got 'sideways'\n"],
    [['forward', '--model', base.model, '--inputs', 'x', '--out', 'y', '--threads', 'abc'], "deberta: --threads: expected an integer >= 1, got 'abc'\n"],
    [['grad', '--model', base.model, '--inputs', 'x', '--out', 'y', '--threads', '0'], "deberta: --threads: expected an integer >= 1, got '0'\n"],
    [['train', '--model', base.model, '--train', base.train, '--out', join(dir, 'x'), '--threads', 'abc'], "deberta: --threads: expected an integer >= 1, got 'abc'\n"],
    [['init', '--config', join(dir, 'config.json'), '--out', join(dir, 'a-file', 'x'), '--seed', '1'], `deberta: --out: ${join(dir, 'a-file', 'x')} cannot be created: ${join(dir, 'a-file')} is a file, not a folder\n`],
    // With a Hub id, the flags and --out are checked before anything would be downloaded.
    [['train', '--model', 'nobody/nothing', '--train', base.train, '--out', join(dir, 'a-file', 'x')], `deberta: --out: ${join(dir, 'a-file', 'x')} cannot be created: ${join(dir, 'a-file')} is a file, not a folder\n`],
    [['train', '--model', 'nobody/nothing', '--train', base.train, '--out', join(dir, 'x'), '--seed', '-1'], "deberta: --seed: expected an integer >= 0, got '-1'\n"],
    [['export', '--model', 'nobody/nothing', '--out', join(dir, 'x.onnx'), '--quantize', 'int4'], "deberta: --quantize: unsupported 'int4' (expected int8)\n"],
    [['export', '--model', 'nobody/nothing', '--out', join(dir, 'x.onnx'), '--dtype', 'bf16'], "deberta: --dtype: unsupported 'bf16' (expected fp32 or fp16)\n"],
    [['export', '--model', 'nobody/nothing', '--out', join(dir, 'x.onnx'), '--dtype', 'fp16', '--quantize', 'int8'], 'deberta: --dtype fp16 and --quantize int8 exclude each other: int8 products take float32 activations\n'],
    [['forward', '--model', 'nobody/nothing', '--inputs', 'x', '--out', join(dir, 'a-file', 'y')], `deberta: --out: ${join(dir, 'a-file', 'y')} cannot be created: ${join(dir, 'a-file')} is a file, not a folder\n`],
  ];
  writeFileSync(join(dir, 'a-file'), 'x');
  for (const [args, want] of cases) {
    const r = cli(...args);
    assert.equal(r.stderr, want, args.join(' '));
    assert.equal(r.status, 1);
  }
  // The same tokenize with a good flag works.
  const ok = cli('tokenize', '--tokenizer', TOKENIZER, '--max-length', '3');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { input_ids: number[] }[])[0]!.input_ids.length, 3);
});
