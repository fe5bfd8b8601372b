// Pre-tokenisers of the `tokenizer.json` format: each cuts aligned strings into smaller ones (the words the
// model then sees), following the split behaviours of Hugging Face `tokenizers`.
import { type NormalizedString, escapeRegExp, isWhitespace } from './normalized.ts';
import { translateRegex } from './regex.ts';
import { byteLevelAlphabet, GPT2_PATTERN, toByteLevel } from './byte-level.ts';
import { type Json, char, oneOf, optList, optBool, optChar, pattern, typeOf } from './json-fields.ts';

/** Where pieces go: an array, or a consumer that handles each piece as it comes (no list of them all). */
export interface PieceSink {
  push(piece: NormalizedString): unknown;
  /**
   * True when each piece is finished with before the next is pushed and nothing of it is kept: a
   * pre-tokeniser may then reuse a piece's alignment arrays for the next one.
   */
  readonly transient?: boolean;
}

/** Appends the pieces of `s` to `out`. */
export type PreTokenizer = (s: NormalizedString, out: PieceSink) => void;
export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';

/**
 * Splits `s` given its delimiter matches ([start, end) pairs, sorted, not overlapping), with one of the
 * `tokenizers` behaviours. Empty pieces are dropped.
 */
export function splitOn(s: NormalizedString, matches: number[], behavior: SplitBehavior, out: PieceSink, invert = false): void {
  const n = s.length;
  if (n === 0) return;
  // Build the alternating list of (start, end, isMatch) pieces covering the string.
  const pieces: number[] = [];
  let prev = 0;
  for (let k = 0; k < matches.length; k += 2) {
    const a = matches[k]!;
    const b = matches[k + 1]!;
    if (a > prev) pieces.push(prev, a, invert ? 1 : 0);
    pieces.push(a, b, invert ? 0 : 1);
    prev = b;
  }
  if (prev < n) pieces.push(prev, n, invert ? 1 : 0);

  const result: number[] = [];
  switch (behavior) {
    case 'Removed':
      for (let k = 0; k < pieces.length; k += 3) if (!pieces[k + 2]) result.push(pieces[k]!, pieces[k + 1]!);
      break;
    case 'Isolated':
      for (let k = 0; k < pieces.length; k += 3) result.push(pieces[k]!, pieces[k + 1]!);
      break;
    case 'MergedWithPrevious': {
      let prevMatch = false;
      for (let k = 0; k < pieces.length; k += 3) {
        const isMatch = pieces[k + 2] === 1;
        if (isMatch && !prevMatch && result.length) result[result.length - 1] = pieces[k + 1]!;
        else result.push(pieces[k]!, pieces[k + 1]!);
        prevMatch = isMatch;
      }
      break;
    }
    case 'MergedWithNext': {
      // Walk backwards: a delimiter joins the piece after it unless that piece is a delimiter too.
      const rev: number[] = [];
      let nextMatch = false;
      for (let k = pieces.length - 3; k >= 0; k -= 3) {
        const isMatch = pieces[k + 2] === 1;
        if (isMatch && !nextMatch && rev.length) rev[rev.length - 2] = pieces[k]!;
        else rev.push(pieces[k]!, pieces[k + 1]!);
        nextMatch = isMatch;
      }
      for (let k = rev.length - 2; k >= 0; k -= 2) result.push(rev[k]!, rev[k + 1]!);
      break;
    }
    case 'Contiguous': {
      let prevMatch = false;
      for (let k = 0; k < pieces.length; k += 3) {
        const isMatch = pieces[k + 2] === 1;
        if (isMatch === prevMatch && result.length) result[result.length - 1] = pieces[k + 1]!;
        else result.push(pieces[k]!, pieces[k + 1]!);
        prevMatch = isMatch;
      }
      break;
    }
  }
  for (let k = 0; k < result.length; k += 2) {
    const a = result[k]!;
    const b = result[k + 1]!;
    if (b > a) out.push(s.slice(a, b));
  }
}

/** Delimiter ranges of a global regex over `text`. */
export function regexMatches(re: RegExp, text: string): number[] {
  const m: number[] = [];
  re.lastIndex = 0;
  let r: RegExpExecArray | null;
  while ((r = re.exec(text))) {
    if (r[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    m.push(r.index, r.index + r[0].length);
  }
  return m;
}

/** Delimiter ranges where `pred` holds, one per character. */
function charMatches(text: string, pred: (c: string) => boolean): number[] {
  const m: number[] = [];
  for (let i = 0; i < text.length; ) {
    const len = text.charCodeAt(i) >= 0xd800 && text.charCodeAt(i) <= 0xdbff ? 2 : 1;
    if (pred(text.slice(i, i + len))) m.push(i, i + len);
    i += len;
  }
  return m;
}

export function sequence(list: PreTokenizer[]): PreTokenizer {
  if (list.length === 1) return list[0]!;
  return (s, out) => {
    let cur = [s];
    for (const p of list.slice(0, -1)) {
      const next: NormalizedString[] = [];
      for (const piece of cur) p(piece, next);
      cur = next;
    }
    const last = list[list.length - 1];
    for (const piece of cur) {
      if (last) last(piece, out);
      else out.push(piece);
    }
  };
}

export type PrependScheme = 'always' | 'first' | 'never';

/** Spaces become the meta character, one is put in front, and each word starts at a meta character. */
export function metaspace(replacement: string, prependScheme: PrependScheme, split: boolean): PreTokenizer {
  return (s, out) => {
    s = s.replaceChar(' ', replacement);
    if (s.length && !s.text.startsWith(replacement)) {
      if (prependScheme === 'always' || (prependScheme === 'first' && s.originalStart === 0)) s = s.prepend(replacement);
    }
    if (!split) {
      if (s.length) out.push(s);
      return;
    }
    if (replacement.length === 1) {
      // Hot path: cut in front of every meta character (MergedWithNext on a one-character delimiter).
      const t = s.text;
      let start = 0;
      let i = t.indexOf(replacement, 1);
      while (i !== -1) {
        out.push(s.slice(start, i));
        start = i;
        i = t.indexOf(replacement, i + 1);
      }
      if (start < t.length) out.push(s.slice(start, t.length));
      return;
    }
    splitOn(s, regexMatches(new RegExp(escapeRegExp(replacement), 'gu'), s.text), 'MergedWithNext', out);
  };
}

/** GPT-2's byte-level pre-tokeniser: optional leading space, the GPT-2 split, then bytes as characters. */
export function byteLevel(addPrefixSpace: boolean, useRegex: boolean): PreTokenizer {
  const re = new RegExp(GPT2_PATTERN.source, 'gu');
  const alphabet = byteLevelAlphabet();
  return (s, out) => {
    if (addPrefixSpace && s.length && !s.text.startsWith(' ')) s = s.prepend(' ');
    const t = s.text;
    const transient = out.transient === true;
    if (!useRegex) {
      if (t.length) out.push(toByteLevel(s, alphabet, transient));
      return;
    }
    // The 'Isolated' split, inlined: matches and the gaps between them are all words.
    re.lastIndex = 0;
    let prev = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(t))) {
      const a = m.index;
      const b = a + m[0].length;
      if (b === a) {
        re.lastIndex++;
        continue;
      }
      if (a > prev) out.push(toByteLevel(s.slice(prev, a), alphabet, transient));
      out.push(toByteLevel(s.slice(a, b), alphabet, transient));
      prev = b;
    }
    if (prev < t.length) out.push(toByteLevel(s.slice(prev, t.length), alphabet, transient));
  };
}

const PUNCT_RE = /^[\p{P}]$/u;
const ASCII_PUNCT_RE = /^[!-/:-@[-`{-~]$/;
export function isPunctuation(c: string): boolean {
  return ASCII_PUNCT_RE.test(c) || PUNCT_RE.test(c);
}

export function punctuation(behavior: SplitBehavior): PreTokenizer {
  return (s, out) => splitOn(s, charMatches(s.text, isPunctuation), behavior, out);
}

export function whitespaceSplit(): PreTokenizer {
  return (s, out) => splitOn(s, charMatches(s.text, isWhitespace), 'Removed', out);
}

export function whitespace(): PreTokenizer {
  const re = translateRegex('\\w+|[^\\w\\s]+', 'Whitespace');
  return (s, out) => splitOn(s, regexMatches(re, s.text), 'Removed', out, true);
}

export function bertPreTokenizer(): PreTokenizer {
  return sequence([whitespaceSplit(), punctuation('Isolated')]);
}

const NUMERIC_RE = /^[\p{N}]$/u;
export function digits(individual: boolean): PreTokenizer {
  return (s, out) => splitOn(s, charMatches(s.text, (c) => NUMERIC_RE.test(c)), individual ? 'Isolated' : 'Contiguous', out);
}

const BEHAVIORS: readonly SplitBehavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];
function behaviorOf(json: Json, where: string, fallback: SplitBehavior): SplitBehavior {
  return oneOf(json, 'behavior', where, BEHAVIORS, fallback);
}

const PREPEND_SCHEMES: readonly PrependScheme[] = ['always', 'first', 'never'];
export function prependSchemeOf(json: Json, where = 'Metaspace'): PrependScheme {
  if (json.prepend_scheme != null) return oneOf(json, 'prepend_scheme', where, PREPEND_SCHEMES, 'always');
  // Older files: `add_prefix_space` only.
  return optBool(json, 'add_prefix_space', where, true) ? 'always' : 'never';
}

export function buildPreTokenizer(json: Json, where: string): PreTokenizer {
  const type = typeOf(json, where, 'pre_tokenizer');
  switch (type) {
    case 'Sequence':
      return sequence(optList(json, 'pretokenizers', where).map((p, i) => buildPreTokenizer(p as Json, `${where}.pretokenizers[${i}]`)));
    case 'Metaspace':
      return metaspace(optChar(json, 'replacement', where, '▁'), prependSchemeOf(json, where), optBool(json, 'split', where, true));
    case 'ByteLevel':
      return byteLevel(optBool(json, 'add_prefix_space', where, false), optBool(json, 'use_regex', where, true));
    case 'Whitespace':
      return whitespace();
    case 'WhitespaceSplit':
      return whitespaceSplit();
    case 'BertPreTokenizer':
      return bertPreTokenizer();
    case 'Punctuation':
      return punctuation(behaviorOf(json, where, 'Isolated'));
    case 'Digits':
      return digits(optBool(json, 'individual_digits', where, false));
    case 'CharDelimiterSplit': {
      const d = char(json.delimiter, `${where}.delimiter`);
      return (s, out) => splitOn(s, charMatches(s.text, (c) => c === d), 'Removed', out);
    }
    case 'Split': {
      const pat = pattern(json, where);
      const re = 'String' in pat ? new RegExp(escapeRegExp(pat.String), 'gu') : translateRegex(pat.Regex, `${where}.pattern`);
      const behavior = behaviorOf(json, where, 'Isolated');
      const invert = optBool(json, 'invert', where, false);
      return (s, out) => splitOn(s, regexMatches(re, s.text), behavior, out, invert);
    }
    default:
      throw new Error(`${where}: unsupported pre_tokenizer ${JSON.stringify(type)}`);
  }
}
