// Full-size check of tokenizer training, on the Brown corpus with 8000 pieces, unigram and BPE:
//  - time to train on the training split (450 files) and on the whole corpus (500 files);
//  - average tokens per word on the held-out files (every tenth file) for our model and for the
//    reference model SentencePiece trained on the whole corpus (test/fixtures/tokenizers/deberta-v3-*);
//  - the written spm.model read back by the project's reader, and ids from spm.model (SentencePiece's
//    algorithm) equal to ids from the written tokenizer.json (AutoTokenizer) on the held-out text;
//  - when a Python with the `sentencepiece` package is on this machine, ids from it on our spm.model.
// Usage: npm run bench:tokenizer-train [-- --out DIR] [-- --skip-full]
import '../src/platform/node.ts';
import { pythonWithSentencePiece } from '../test/helpers/python-sentencepiece.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSentencePieceModel } from '../src/tokenizers/sentencepiece-proto.ts';
import { SentencePieceProcessor } from '../src/tokenizers/sentencepiece.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { brownFiles, brownLineToText, brownSplit, SpmEncoder, tokensPerWord, trainTokenizerToDir } from '../src/tokenizers/train/index.ts';

const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
const outRoot = outArg >= 0 ? args[outArg + 1]! : mkdtempSync(join(tmpdir(), 'tokenizer-train-bench-'));
const skipFull = args.includes('--skip-full');
const TOLERANCE = 0.03;
const TIME_LIMIT_S = 120;

const { train, heldOut } = brownSplit();
const heldLines = heldOut.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .map(brownLineToText)
    .filter((s): s is string => s !== null),
);
const fixtureDir = (type: string): string => new URL(`../test/fixtures/tokenizers/deberta-v3-${type}/`, import.meta.url).pathname;

const python = pythonWithSentencePiece();

/** Ids from Python sentencepiece for each line, or null without it. */
function pythonIds(modelFile: string, lines: string[]): number[][] | null {
  if (!python) return null;
  const dir = mkdtempSync(join(tmpdir(), 'spm-py-'));
  const input = join(dir, 'lines.json');
  writeFileSync(input, JSON.stringify(lines));
  const script = 'import json,sys,sentencepiece as s\np=s.SentencePieceProcessor(model_file=sys.argv[1])\nprint(json.dumps([p.encode(l) for l in json.load(open(sys.argv[2]))]))';
  const out = execFileSync(python, ['-c', script, modelFile, input], { maxBuffer: 1 << 28 }).toString();
  rmSync(dir, { recursive: true, force: true });
  return JSON.parse(out) as number[][];
}

function countMismatches(a: number[][], b: number[][]): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) n++;
  return n;
}

interface Row {
  type: string;
  training: string;
  seconds: number;
  ours: number;
  fixture: number;
  rel: number;
}
const rows: Row[] = [];
const failures: string[] = [];

async function run(type: 'unigram' | 'bpe', training: 'train split' | 'whole corpus', files: string[]): Promise<void> {
  const dir = join(outRoot, `${type}-${training === 'train split' ? 'split' : 'full'}`);
  process.stderr.write(`\n== ${type}, ${training} (${files.length} files) -> ${dir}\n`);
  const t0 = Date.now();
  await trainTokenizerToDir({ files }, { modelType: type, vocabSize: 8000, inputFormat: 'brown', log: (l) => process.stderr.write(`  ${l}\n`) }, dir);
  const seconds = (Date.now() - t0) / 1000;

  const written = readSentencePieceModel(new Uint8Array(readFileSync(join(dir, 'spm.model'))), join(dir, 'spm.model'));
  if (written.pieces.length !== 8000) failures.push(`${type} ${training}: spm.model has ${written.pieces.length} pieces`);
  const fixture = readSentencePieceModel(new Uint8Array(readFileSync(join(fixtureDir(type), 'spm.model'))), 'fixture spm.model');
  const ours = tokensPerWord(new SpmEncoder(written), heldLines).ratio;
  const ref = tokensPerWord(new SpmEncoder(fixture), heldLines).ratio;
  const rel = ours / ref - 1;
  rows.push({ type, training, seconds, ours, fixture: ref, rel });

  // Same ids three ways: SentencePiece's algorithm on spm.model (ours, and the tokenizers module's),
  // and the written tokenizer.json through AutoTokenizer.
  const enc = new SpmEncoder(written);
  const spp = new SentencePieceProcessor(written, join(dir, 'spm.model'));
  const tok = await AutoTokenizer.fromPretrained(dir, { use: 'tokenizer.json' });
  const a = heldLines.map((l) => enc.encode(l));
  const b = heldLines.map((l) => spp.encode(l).ids);
  const c = heldLines.map((l) => tok.encode(l, null, { addSpecialTokens: false }));
  const ab = countMismatches(a, b);
  const ac = countMismatches(a, c);
  process.stderr.write(`  ids: SpmEncoder vs SentencePieceProcessor ${ab} / tokenizer.json ${ac} differing lines of ${heldLines.length}\n`);
  if (ab || ac) failures.push(`${type} ${training}: ids differ between spm.model and tokenizer.json on ${Math.max(ab, ac)} lines`);
  const py = pythonIds(join(dir, 'spm.model'), heldLines);
  if (py) {
    const ap = countMismatches(a, py);
    process.stderr.write(`  ids: Python sentencepiece on our spm.model differs on ${ap} lines\n`);
    if (ap) failures.push(`${type} ${training}: Python sentencepiece ids differ on ${ap} lines`);
  }
  if (training === 'whole corpus' && seconds > TIME_LIMIT_S) failures.push(`${type}: training on the whole corpus took ${seconds.toFixed(1)} s`);
}

async function main(): Promise<void> {
  process.stderr.write(`Brown: ${train.length} training files, ${heldOut.length} held-out files (${heldLines.length} sentences)\n`);
  process.stderr.write(python ? `Python sentencepiece: ${python}\n` : 'Python sentencepiece: not found (skipping that check)\n');
  for (const type of ['unigram', 'bpe'] as const) {
    await run(type, 'train split', train);
    if (!skipFull) await run(type, 'whole corpus', brownFiles());
  }
  console.log('\nmodel    trained on     seconds  tokens/word ours  fixture  difference');
  for (const r of rows) {
    console.log(
      `${r.type.padEnd(8)} ${r.training.padEnd(14)} ${r.seconds.toFixed(1).padStart(7)}  ${r.ours.toFixed(4).padStart(16)}  ${r.fixture.toFixed(4)}  ${(100 * r.rel).toFixed(2).padStart(6)} %`,
    );
  }
  console.log(
    '\nThe fixtures were trained by SentencePiece on all 500 files, held-out ones included; the "whole corpus"\n' +
      'rows compare like with like, the "train split" rows show our model on text it never saw.',
  );
  for (const r of rows) if (r.training === 'whole corpus' && Math.abs(r.rel) > TOLERANCE) failures.push(`${r.type}: tokens/word ${(100 * r.rel).toFixed(2)} % from the fixture`);
  console.log(`\nmodels written under ${outRoot}`);
  if (failures.length) {
    console.log(`FAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  } else console.log('all checks passed');
}

await main();
