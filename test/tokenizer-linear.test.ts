// Tokenisation work linear in the text, checked by counting work rather than timing it (timings live in
// `npm run bench:tokenize`). The quadratic stage was `Intl.Segmenter` iterated over a whole text (for
// the precompiled charsmap of every SentencePiece model): graphemes are now found piecewise, and these
// tests check that the pieces give exactly the whole text's graphemes, that the charsmap normalises
// exactly as the plain whole-text algorithm does, and that the segmenter sees each character a bounded
// number of times whatever the text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AutoTokenizer } from '../src/tokenizers/index.ts';
import { NormalizedString } from '../src/tokenizers/normalized.ts';
import { PrecompiledCharsMap, applyCharsMap, forEachGrapheme, segmenterWork } from '../src/tokenizers/precompiled.ts';

/** Pieces that meet every grapheme rule, glued at random: their joins are where piecewise cutting could go wrong. */
const POOL = [
  'ab', 'c', ' ', 'x', 'Ｚ', '中', 'の', 'é', 'ש', 'ب', 'и', 'α', '각', // standalone characters
  '\r\n', '\r', '\n', '\t', '\u0000', '\u00ad', // controls, CR LF, soft hyphen (a control)
  'e\u0301', 'a\u0300\u0301', '\u0301', '\u0301\u0301\u0301\u0301\u0301\u0301\u0301\u0301', 'ש\u05bc\u05b7', 'ب\u0650\u0651', '\u20dd', // marks, an enclosing one
  'क', 'क्ष', '\u094d', 'ष', 'क\u093c\u094d', 'ि', 'ा', // Devanagari: conjuncts (virama as linker), spacing marks
  '\u0e01\u0e33', '\u0e33', '\u1000\u102b', '\u102b', // Thai SARA AM (SpacingMark), Myanmar U+102B (Mc but no SpacingMark)
  '\u0600', '\u0600a', '\u06dd', // Prepend characters
  '\u1100', '\u1161', '\u11a8', '\u1100\u1161\u11a8', '가', '\uac00\u11a8', // Hangul jamo and syllables
  'ｶ\uff9e', '\uff9e', '\u302a', // half-width voiced mark, ideographic tone mark (Extend)
  '😀', '👍🏽', '\u{1f3fd}', '👨\u200d👩\u200d👧', '\u200d', '\u200d〰', '〰', '❤️', '🏳️\u200d🌈', // emoji, ZWJ, modifiers
  '🇫🇷', '🇯', '🇵', '\u{e0067}\u{e0062}', // regional indicators (odd runs), tags
  '\ud83d', '\ude00', '\udfff\ud800', // lone surrogates
];

function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomText(r: () => number, maxPieces: number): string {
  let t = '';
  const k = 1 + Math.floor(r() * maxPieces);
  for (let i = 0; i < k; i++) t += POOL[Math.floor(r() * POOL.length)]!;
  return t;
}

const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
const wholeTextStarts = (t: string): number[] => [...segmenter.segment(t)].map((s) => s.index);

test('graphemes found piecewise are the whole text\'s, for any window size', () => {
  const r = rng(12345);
  let texts = 0;
  for (let i = 0; i < 3000; i++) {
    const t = randomText(r, 60);
    const expected = wholeTextStarts(t);
    for (const w of [1, 2, 3, 5, 8, 64, 256]) {
      const starts: number[] = [];
      let end = 0;
      forEachGrapheme(t, (a, b) => {
        assert.equal(a, end, `${JSON.stringify(t)} window ${w}: pieces not contiguous`);
        starts.push(a);
        end = b;
      }, w);
      assert.equal(end, t.length);
      assert.deepEqual(starts, expected, `${JSON.stringify(t)} window ${w}`);
    }
    texts++;
  }
  assert.equal(texts, 3000);
});

test('graphemes found piecewise: every triple of characters from each grapheme break class', () => {
  // Control, CR, LF, lone surrogates, Extend (and virama, VS16, emoji modifier), ZWJ, SpacingMark and the
  // Mc that is not one, Prepend, Hangul L V T LV LVT, pictographs in and out of the emoji blocks, regional
  // indicators, an Indic consonant, and standalone characters of several scripts.
  const chars = [
    '\u0000', '\r', '\n', '\u0085', '\u00ad', '\udfff', '\ud800', '\u0301', '\u094d', '\ufe0f', '\u{1f3fd}', '\u200d', '\u0e33', '\u102b', '\u0903',
    '\u0600', '\u1100', '\u1161', '\u11a8', '가', '각', '😀', '〰', '©', '🇵', 'क', 'a', ' ', '中', 'ש', 'Ｚ', 'é',
  ];
  let checked = 0;
  for (const a of chars) for (const b of chars) for (const c of chars) {
    const t = a + b + c;
    const starts: number[] = [];
    forEachGrapheme(t, (x) => starts.push(x), 1);
    assert.deepEqual(starts, wholeTextStarts(t), JSON.stringify(t));
    checked++;
  }
  assert.equal(checked, chars.length ** 3);
});

/** The charsmap normalisation done the plain way: whole-text segmentation, a list of tagged characters. */
function referenceCharsMap(map: PrecompiledCharsMap, s: NormalizedString): NormalizedString {
  const items: [string, number][] = [];
  let modified = false;
  const replace = (old: string, repl: string): void => {
    const diff = [...repl].length - [...old].length;
    for (const c of repl) items.push([c, 0]);
    if (diff > 0) for (let k = items.length - diff; k < items.length; k++) items[k]![1] = 1;
    else if (diff < 0 && items.length) items[items.length - 1]![1] += diff;
  };
  for (const { segment } of segmenter.segment(s.text)) {
    if (new TextEncoder().encode(segment).length < 6) {
      const norm = map.lookup(segment);
      if (norm !== null) {
        modified = true;
        replace(segment, norm);
        continue;
      }
    }
    for (const ch of segment) {
      const norm = map.lookup(ch);
      if (norm !== null) {
        modified = true;
        replace(ch, norm);
      } else items.push([ch, 0]);
    }
  }
  return modified ? s.transform(items) : s;
}

const aligned = (s: NormalizedString): string => JSON.stringify([s.text, Array.from({ length: s.length }, (_, i) => [s.start(i), s.end(i)])]);

test('the streamed charsmap normalisation equals the plain one, text and alignments', () => {
  const json = JSON.parse(readFileSync('models/deberta-v3-brown-small/tokenizer.json', 'utf8')) as { normalizer: { normalizers: { precompiled_charsmap: string }[] } };
  const bytes = Uint8Array.from(atob(json.normalizer.normalizers[0]!.precompiled_charsmap), (c) => c.charCodeAt(0));
  const map = new PrecompiledCharsMap(bytes, 'brown-small');
  const r = rng(777);
  const extra = ['ﬁ', '㎏', 'ℌ', 'Ａ', '\u00a0', '\u200b', '\u3000', '①', '½', 'ｶﾞ', '\u2028', '\u0085'];
  let changed = 0;
  for (let i = 0; i < 3000; i++) {
    let t = randomText(r, 40);
    if (i % 2) t += extra[i % extra.length]! + randomText(r, 5);
    const s = NormalizedString.fromOriginal(t, 3);
    const ours = applyCharsMap(map, s);
    assert.equal(aligned(ours), aligned(referenceCharsMap(map, s)), JSON.stringify(t));
    if (ours !== s) changed++;
  }
  assert.ok(changed > 1000, `${changed} texts changed by the map`);
});

/** About `n` characters of one kind of text. */
function longText(kind: string, n: number): string {
  const r = rng(99);
  const parts: string[] = [];
  let len = 0;
  const pieces: Record<string, string[]> = {
    words: ['the ', 'jury ', 'said ', 'Friday, ', 'an ', 'investigation ', "Atlanta's "],
    cjk: ['中', '文', '本', 'の', 'テ', '，', '。'],
    emoji: ['😀', '👍🏽', '👨\u200d👩\u200d👧', '🇫🇷', '❤️', ' '],
    rtl: ['שָׁלוֹם ', 'עולם ', 'مرحبا ', 'كِتَابٌ '],
    surrogates: ['ab', '\ud83d', 'c', '\ude00', ' ', '😀'],
    marks: ['a\u0300\u0301', 'e\u0323\u0302\u0301 ', 'क\u094d', '\u0301\u0301\u0301', 'ש\u05bc\u05b7'],
  };
  while (len < n) {
    const p = pieces[kind]![Math.floor(r() * pieces[kind]!.length)]!;
    parts.push(p);
    len += p.length;
  }
  return parts.join('');
}

test('the segmenter sees each character a bounded number of times, for every kind of text', async () => {
  const tok = await AutoTokenizer.fromPretrained('models/deberta-v3-brown-small', { use: 'tokenizer.json' });
  for (const kind of ['words', 'cjk', 'emoji', 'rtl', 'surrogates', 'marks']) {
    const perChar: number[] = [];
    for (const n of [20_000, 200_000]) {
      const t = longText(kind, n);
      segmenterWork.chars = 0;
      segmenterWork.calls = 0;
      tok.encode(t);
      perChar.push(segmenterWork.chars / t.length);
      // No call sees more than a window's worth beyond one grapheme (the longest here is short).
      assert.ok(segmenterWork.calls === 0 || segmenterWork.chars / segmenterWork.calls <= 2 * 256 + 64, `${kind}: ${segmenterWork.chars} characters in ${segmenterWork.calls} calls`);
    }
    // Work per character does not grow with the text (it would grow tenfold if quadratic).
    assert.ok(perChar[1]! <= 2.5 && perChar[1]! <= perChar[0]! * 1.1 + 0.01, `${kind}: segmenter characters per text character ${perChar.join(' -> ')}`);
    // Texts of standalone characters never reach the segmenter.
    if (kind === 'words' || kind === 'cjk') assert.deepEqual(perChar, [0, 0]);
  }
});

test('a single grapheme of 200k characters is segmented in work linear in its length', () => {
  const t = `x${'\u0301'.repeat(200_000)}y${'\u0301'.repeat(1000)}`;
  segmenterWork.chars = 0;
  segmenterWork.calls = 0;
  const pieces: [number, number][] = [];
  forEachGrapheme(t, (a, b) => pieces.push([a, b]));
  assert.deepEqual(pieces, [[0, 200_001], [200_001, t.length]]);
  // A standalone letter with marks only is one grapheme without asking the segmenter.
  assert.equal(segmenterWork.chars, 0);
  const u = `\u0600${'\u0301'.repeat(200_000)}`; // a Prepend character: the segmenter decides
  segmenterWork.chars = 0;
  const got: number[] = [];
  forEachGrapheme(u, (a) => got.push(a));
  assert.deepEqual(got, wholeTextStarts(u));
  // The window doubles inside the grapheme: at most about 4 times its length in all.
  assert.ok(segmenterWork.chars <= 4 * u.length, `${segmenterWork.chars} characters segmented for ${u.length}`);
});

// String.prototype.normalize orders marks by insertion (quadratic in a run of marks: 100k mixed marks took
// seconds); long runs are ordered by our own stable sort.
const STORM_MARKS = ['\u0301', '\u0323', '\u0334', '\u0345', '\u05bc', '\u094d', '\u0300', '\u0327', '\u0308', '\u20d7', '\u0f71', '\u0f72'];

function storm(r: () => number, marks: number, kinds: number): string {
  let t = '';
  for (let k = 0; k < marks; k++) t += STORM_MARKS[Math.floor(r() * kinds)]!;
  return t;
}

test('long runs of marks normalise as String.prototype.normalize does, with or without a base', () => {
  const r = rng(31337);
  const bases = ['a', 'e', 'o', '\u1100\u1161', 'ᾳ', '', ' ', 'x\u0301'];
  for (const form of ['NFC', 'NFD', 'NFKC', 'NFKD'] as const) {
    for (let i = 0; i < 40; i++) {
      const text = `${bases[i % bases.length]}${storm(r, 30 + Math.floor(r() * 400), 1 + (i % STORM_MARKS.length))} tail ${bases[(i + 3) % bases.length]}${storm(r, 40, 4)}é`;
      const ns = NormalizedString.fromOriginal(text).unicodeNormalize(form);
      assert.equal(ns.text, text.normalize(form), `${form} ${JSON.stringify(text.slice(0, 20))}`);
      // Alignments stay inside the text and in order.
      for (let k = 1; k < ns.length; k++) assert.ok(ns.start(k) >= ns.start(k - 1) && ns.end(k) <= text.length);
    }
  }
});

test('no run of 32 marks or more reaches String.prototype.normalize while tokenising', async () => {
  const tok = await AutoTokenizer.fromPretrained('test/fixtures/tokenizers/deberta-v3-unigram', { use: 'tokenizer.json' });
  const original = String.prototype.normalize;
  let longest = 0;
  let calls = 0;
  String.prototype.normalize = function (this: string, form?: string) {
    calls++;
    for (const m of this.matchAll(/\p{M}+/gu)) longest = Math.max(longest, m[0].length);
    return original.call(this, form);
  };
  try {
    const text = `word a${storm(rng(5), 20_000, STORM_MARKS.length)} more words e\u0301 ${storm(rng(6), 5_000, 3)}`;
    const ids = tok.encode(text);
    assert.ok(ids.length >= 6);
  } finally {
    String.prototype.normalize = original;
  }
  assert.ok(calls > 0);
  assert.ok(longest < 32, `a run of ${longest} marks was normalised by String.prototype.normalize`);
});

test('normalisation piece by piece gives String.prototype.normalize\'s text on mixed scripts', () => {
  const pool = [
    'a', 'e\u0301', '\u0301', '\u0323', 'ｶ', 'ﾞ', 'ﾟ', '\u3099', 'か', '\u1100', '\u1161', '\u11a8', '가', '\u0b47', '\u0b3e', '\u0b57', '\u0bc6', '\u0bbe',
    '\u0d46', '\u0d3e', '\u1025', '\u102e', '中', 'ﬁ', '㎏', 'ℌ', 'Å', 'Ω', '\u0958', 'ǅ', '\u1e9b', '\u0344', '\u0f73', '\u0f71', '\u0f72', '😀', '\ud800', ' ', 'x',
  ];
  const r = rng(2024);
  for (let i = 0; i < 4000; i++) {
    let text = '';
    const k = 1 + Math.floor(r() * 30);
    for (let j = 0; j < k; j++) text += pool[Math.floor(r() * pool.length)]!;
    for (const form of ['NFC', 'NFD', 'NFKC', 'NFKD'] as const) {
      const ns = NormalizedString.fromOriginal(text).unicodeNormalize(form);
      assert.equal(ns.text, text.normalize(form), `${form} ${JSON.stringify(text)}`);
    }
  }
});

test('every standalone character: the boundaries claimed around it are the segmenter\'s', () => {
  // The characters forEachGrapheme cuts without the segmenter, each after every kind of character it claims
  // a boundary after (another standalone one, a mark, ZWJ, an emoji) and before a standalone one.
  const ranges: [number, number][] = [
    [0x20, 0x7e], [0xc0, 0x2ff], [0x370, 0x3ff], [0x400, 0x482], [0x48a, 0x52f], [0x5d0, 0x5ea], [0x620, 0x64a],
    [0x3000, 0x3029], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xff01, 0xff9d],
  ];
  const before = ['a', '中', '\u0301', '\u20dd', '\u200d', '😀', '\u{1f3fd}', '🇫', '\u0000'];
  const after = ['a', '가', 'Ｚ'];
  let checked = 0;
  for (const [lo, hi] of ranges) {
    for (let c = lo; c <= hi; c++) {
      const ch = String.fromCharCode(c);
      for (const p of before) {
        const t = p + ch;
        const starts: number[] = [];
        forEachGrapheme(t, (x) => starts.push(x));
        assert.deepEqual(starts, wholeTextStarts(t), JSON.stringify(t));
        assert.ok(starts.includes(p.length), `no boundary before ${JSON.stringify(ch)} after ${JSON.stringify(p)}`);
      }
      for (const q of after) assert.deepEqual(wholeTextStarts(ch + q), [0, 1], JSON.stringify(ch + q));
      checked++;
    }
  }
  assert.ok(checked > 40_000);
});

test('alignment scratch memory reused from text to text: each encoding as on a fresh tokenizer, whatever came before', async () => {
  // The normalisation steps' alignments are cut from memory a tokenizer reuses from text to text, and
  // encode() takes its ids from the post-processed pieces without merging the other columns: the
  // results of a text must not depend on what the tokenizer encoded before, nor differ from the call's.
  const setups: [string, 'tokenizer.json' | 'spm.model' | 'vocab.json'][] = [
    ['test/fixtures/tokenizers/deberta-v3-unigram', 'tokenizer.json'],
    ['test/fixtures/tokenizers/deberta-v3-unigram', 'spm.model'],
    ['test/fixtures/tokenizers/deberta-v1-gpt2bpe', 'tokenizer.json'],
    ['models/deberta-v3-brown-small', 'tokenizer.json'],
  ];
  const r = rng(11);
  const texts = [
    'naïve café  résumé\tcoöperate a\u0300\u0301 e\u0301 ﬁne 中文文本 😀 שָׁלוֹם   ',
    ...Array.from({ length: 6 }, () => randomText(r, 400)),
    Array.from({ length: 300 }, () => randomText(r, 30)).join(' '),
    'x',
  ];
  const options = { returnOffsets: true, returnTokens: true, returnSpecialTokensMask: true, returnSequenceIds: true } as const;
  for (const [dir, use] of setups) {
    const want = await Promise.all(
      texts.map(async (t) => (await AutoTokenizer.fromPretrained(dir, { use }))(t, `${t.slice(0, 40)} pair`, options)),
    );
    const tok = await AutoTokenizer.fromPretrained(dir, { use });
    // Outside an encode, normalisation allocates as before: what it made survives the encodes after it.
    const kept = tok.pipeline.normalizer?.(NormalizedString.fromOriginal(texts[0]!)) ?? null;
    const keptStarts = kept ? Array.from(kept.starts.subarray(kept.base, kept.base + kept.length)) : [];
    for (const order of [[...texts.keys()], [...texts.keys()].reverse(), [7, 8, 0, 7, 1, 8, 2]]) {
      for (const i of order) {
        const got = tok(texts[i]!, `${texts[i]!.slice(0, 40)} pair`, options);
        assert.deepEqual(got, want[i], `${dir} from ${use}: text ${i}`);
        assert.deepEqual(tok.encode(texts[i]!, `${texts[i]!.slice(0, 40)} pair`), want[i]!.inputIds[0], `${dir} from ${use}: encode of text ${i}`);
        const cut = tok(texts[i]!, { truncation: true, maxLength: 9, stride: 2, returnOverflowingTokens: true });
        assert.deepEqual(tok.encode(texts[i]!, null, { truncation: true, maxLength: 9 }), cut.inputIds[0], `${dir} from ${use}: truncated encode of text ${i}`);
      }
    }
    if (kept) assert.deepEqual(Array.from(kept.starts.subarray(kept.base, kept.base + kept.length)), keptStarts, `${dir}: alignments made outside an encode`);
  }
});

/**
 * The unigram Viterbi over the whole word at once, as `tokenizers` runs it (the oracle for the windowed
 * one): best score per position, ties to the first candidate found, unknown characters scored
 * `unkScore`, runs of unknown tokens fused, then byte fallback for them when every byte piece exists.
 */
function wholeWordViterbi(vocab: [string, number][], unkId: number, byteFallback: boolean, word: string): [number, number][] {
  const ids = new Map<string, number>();
  vocab.forEach(([p], id) => {
    if (!ids.has(p)) ids.set(p, id);
  });
  const unkScore = Math.min(...vocab.map((v) => v[1])) - 10;
  const maxLen = Math.max(...vocab.map((v) => v[0].length));
  const n = word.length;
  const score = new Float64Array(n + 1);
  const from = new Int32Array(n + 1).fill(-1);
  const best = new Int32Array(n + 1);
  for (let s = 0; s < n; ) {
    const len = word.codePointAt(s)! > 0xffff && s + 1 < n ? 2 : 1;
    let single = false;
    for (let e = s + 1; e <= Math.min(n, s + maxLen); e++) {
      const id = ids.get(word.slice(s, e));
      if (id === undefined) continue;
      const cand = score[s]! + vocab[id]![1];
      if (from[e] === -1 || cand > score[e]!) [score[e], from[e], best[e]] = [cand, s, id];
      if (e - s === len) single = true;
    }
    if (!single && (from[s + len] === -1 || score[s]! + unkScore > score[s + len]!)) [score[s + len], from[s + len], best[s + len]] = [score[s]! + unkScore, s, unkId];
    s += len;
  }
  const path: [number, number][] = [];
  for (let e = n; e > 0; e = from[e]!) {
    if (best[e] === unkId && path.length && path[path.length - 1]![0] === unkId) continue; // fused into the later one
    path.push([best[e]!, e]);
  }
  path.reverse();
  const out: [number, number][] = [];
  let prev = 0;
  for (const [id, e] of path) {
    const bytes = [...new TextEncoder().encode(word.slice(prev, e))].map((b) => ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
    if (id === unkId && byteFallback && bytes.every((b) => b !== undefined)) for (const b of bytes) out.push([b!, e]);
    else out.push([id, e]);
    prev = e;
  }
  return out;
}

test('unigram Viterbi in windows gives the whole word\'s tokens: long words, unknown runs and byte fallback across windows', async () => {
  const { UnigramModel } = await import('../src/tokenizers/models/unigram.ts');
  const { WordTokens } = await import('../src/tokenizers/models/model.ts');
  const tokens = (m: InstanceType<typeof UnigramModel>, w: string): [number, number][] => {
    const t = new WordTokens();
    m.tokenize(w, t);
    return Array.from(t.ids.subarray(0, t.length), (id, i) => [id, t.ends[i]!]);
  };
  // Pieces that overlap (long stretches where some piece spans every position), scores with ties.
  const vocab: [string, number][] = [
    ['<unk>', 0], ['a', -2], ['b', -2.5], ['c', -3], ['ab', -4], ['bc', -4.5], ['abc', -5], ['ca', -5], ['cab', -6.5], ['bcabca', -8],
    ['中', -3], ['中文', -4], ['文', -3.5], ['😀', -2], ['<0x78>', -20], ['<0x79>', -20], ['<0xF0>', -20], ['<0x9F>', -20], ['<0x98>', -20], ['<0x81>', -20],
  ];
  const r = rng(21);
  const alphabet = ['a', 'b', 'c', 'ab', 'bca', '中', '文', 'x', 'y', 'xy', '😀', '🙁', 'z'];
  let checked = 0;
  for (const byteFallback of [false, true]) {
    const m = new UnigramModel(vocab, 0, byteFallback);
    for (const size of [1, 7, 300, 4095, 4096, 4097, 9000, 30_000]) {
      for (let trial = 0; trial < 3; trial++) {
        let w = '';
        // Now and then long runs of unknown characters, so that some runs straddle a window's end.
        while (w.length < size) w += r() < 0.002 ? 'x'.repeat(1 + Math.floor(r() * 5000)) : alphabet[Math.floor(r() * alphabet.length)]!;
        w = w.slice(0, size).replace(/[\ud800-\udbff]$/, 'a');
        assert.deepEqual(tokens(m, w), wholeWordViterbi(vocab, 0, byteFallback, w), `byte fallback ${byteFallback}, ${w.length} units`);
        checked++;
      }
    }
    // A short word after a long one reuses the long one's slots.
    assert.deepEqual(tokens(m, 'abcab'), wholeWordViterbi(vocab, 0, byteFallback, 'abcab'));
  }
  // The real vocabulary on CJK without spaces (one word of 50k units through a Metaspace pre-tokeniser).
  const json = JSON.parse(readFileSync('test/fixtures/tokenizers/deberta-v3-unigram/tokenizer.json', 'utf8')) as { model: { vocab: [string, number][]; unk_id: number } };
  const real = new UnigramModel(json.model.vocab, json.model.unk_id);
  let cjk = '▁';
  while (cjk.length < 50_000) cjk += String.fromCharCode(r() < 0.8 ? 0x4e00 + Math.floor(r() * 20000) : 0x3041 + Math.floor(r() * 86)) + (r() < 0.05 ? '，' : '');
  assert.deepEqual(tokens(real, cjk), wholeWordViterbi(json.model.vocab, json.model.unk_id, false, cjk));
  assert.equal(checked, 48);
});
