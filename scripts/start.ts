// `npm start`: the library's main job on its embedded default models (models/, see docs/models.md):
// fill-mask through the Enhanced Mask Decoder, spam classification and part-of-speech tagging on a few
// built-in examples, printed as tables; then how to run the CLI and the server.
import '../src/platform/node.ts';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from '../src/pipelines/index.ts';
import type { FillMaskResult } from '../src/pipelines/fill-mask.ts';
import type { EntityGroup } from '../src/pipelines/token-classification.ts';

export const FILL_MASK_EXAMPLES = [
  'The jury said the city [MASK] had done a good job.',
  'He walked into the [MASK] and sat down.',
  'She was born in the [MASK] of May.',
];
export const SPAM_EXAMPLES = [
  'Subject: Make money fast! Earn $5000 a week from home. Click here now to claim your FREE offer, limited time only!!!',
  'Subject: Re: meeting notes. Thanks for sending the draft, I will read it tonight and send comments before the call tomorrow.',
  'Subject: Your account. Dear friend, we have selected you to receive a cash prize. Reply with your bank details to claim it.',
  'Subject: Re: patch for the build script. The attached patch fixes the failing test on Linux; can you review it?',
];
export const POS_EXAMPLES = [
  'The old man walked slowly to the river.',
  'She quickly read two long letters from her brother.',
];

export interface StartResult {
  fillMask: { text: string; candidates: { token: string; score: number }[] }[];
  spam: { text: string; label: string; score: number }[];
  pos: { text: string; words: { word: string; tag: string }[] }[];
}

/** A table with a header row, columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(header), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Runs the three embedded models on the examples; prints the tables (and the how-to) to `out`. */
export async function main(out: (s: string) => void = (s) => process.stdout.write(s), opts: { threads?: number; howTo?: boolean } = {}): Promise<StartResult> {
  const threads = opts.threads ?? 1;
  const result: StartResult = { fillMask: [], spam: [], pos: [] };

  const fill = await pipeline('fill-mask', null, { threads });
  try {
    out('\nFill-mask (models/deberta-v3-brown-small, decoded through the Enhanced Mask Decoder)\n\n');
    const rows: string[][] = [];
    for (const text of FILL_MASK_EXAMPLES) {
      const got = (await fill(text.replace('[MASK]', fill.tokenizer.maskToken), { topK: 5 })) as FillMaskResult[];
      const candidates = got.map((r) => ({ token: r.token_str.trim(), score: r.score }));
      result.fillMask.push({ text, candidates });
      rows.push([text, candidates.map((c) => `${c.token} (${c.score.toFixed(3)})`).join(', ')]);
    }
    out(table(['text', 'top 5 fillers'], rows) + '\n');
  } finally {
    await fill.dispose();
  }

  const spam = await pipeline('text-classification', null, { threads });
  try {
    out('\nSpam classification (models/deberta-v3-brown-small-spam)\n\n');
    const got = await spam.run(SPAM_EXAMPLES);
    const rows = SPAM_EXAMPLES.map((text, i) => {
      const best = got[i]![0]!;
      result.spam.push({ text, label: best.label, score: best.score });
      return [cut(text, 72), best.label, best.score.toFixed(3)];
    });
    out(table(['email', 'label', 'score'], rows) + '\n');
  } finally {
    await spam.dispose();
  }

  const pos = await pipeline('token-classification', null, { threads });
  try {
    out('\nPart-of-speech tagging, universal tags (models/deberta-v3-brown-small-pos)\n\n');
    for (const text of POS_EXAMPLES) {
      const words = ((await pos(text, { aggregationStrategy: 'first', ignoreLabels: [] })) as EntityGroup[])
        .map((w) => ({ word: w.word, tag: w.entity_group }));
      result.pos.push({ text, words });
      out(table(words.map((w) => w.word), [words.map((w) => w.tag)]) + '\n\n');
    }
  } finally {
    await pos.dispose();
  }

  if (opts.howTo !== false) {
    out(`Metrics of these models on held-out data: models/metrics.json, docs/models.md.

The CLI (bin/deberta.js; \`npx deberta\` once installed as a package):
  node bin/deberta.js fill-mask "The cat sat on the [MASK]."
  node bin/deberta.js classify "WIN a FREE prize now!!!"
  node bin/deberta.js ner "The old man walked to the river." --aggregation first
  node bin/deberta.js embed "A sentence to embed."
  node bin/deberta.js --help                     (every command: train, pretrain, tokenizer-train, export, …)

The HTTP server (POST /v1/<task>, GET /health, GET /ready, GET /metrics; the API described at /docs):
  node bin/deberta.js serve --model models/deberta-v3-brown-small-spam --model models/deberta-v3-brown-small-pos --port 8080
  curl -s localhost:8080/v1/text-classification -H 'content-type: application/json' -d '{"inputs": "WIN a FREE prize now!!!"}'
`);
  }
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`npm start: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
