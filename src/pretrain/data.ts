// Pretraining data: text files are read one at a time, tokenized in chunks, and their tokens packed into
// sequences of at most `maxLength` ([CLS] tokens [SEP]), cut between words where one ends near the limit.
// The packed corpus is one flat array of ids plus offsets, so a large corpus costs 4 bytes a token.
// Masks are not stored: each batch is masked when it is built (src/pretrain/masking.ts), seeded by
// (seed, epoch, sequence), so every epoch sees new masks and a resumed run sees the same ones.
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { tensor, type Tensor } from '../tensor.ts';
import { readTextFile } from '../train/data.ts';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.ts';
import { maskRng, maskSequence, type MaskingOptions, type MaskVocabulary } from './masking.ts';

/** text: one text per line; brown: the Brown corpus's `word/tag` files; jsonl: a `text` field per line; json: an array of strings. */
export type CorpusFormat = 'text' | 'brown' | 'jsonl' | 'json';
export const CORPUS_FORMATS: CorpusFormat[] = ['text', 'brown', 'jsonl', 'json'];

/** Files of a folder that are documentation or metadata, not text to train on. */
const NOT_TEXT = /^(readme|contents|license|licence|changelog|package\.json|\.)/i;

/** Expands folders into their files (sorted, skipping README, CONTENTS, LICENSE, package.json, dot files). */
export function corpusFiles(paths: readonly string[], flag: string): string[] {
  if (paths.length === 0) throw new Error(`${flag}: no files given`);
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new Error(`${flag}: ${p} does not exist`);
    }
    if (st.isDirectory()) {
      const files = readdirSync(p).filter((f) => !NOT_TEXT.test(f)).sort().map((f) => join(p, f)).filter((f) => statSync(f).isFile());
      if (files.length === 0) throw new Error(`${flag}: folder ${p} holds no text files`);
      out.push(...files);
    } else out.push(p);
  }
  return out;
}

/** The format of a file: from its extension (.jsonl, .json, .txt), else Brown when its words carry /tags. */
export function detectFormat(file: string, text: string): CorpusFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  if (ext === '.txt' || ext === '.text') return 'text';
  const words = text.slice(0, 4000).split(/\s+/).filter(Boolean);
  const tagged = words.filter((w) => /^\S+\/[^/\s]+$/.test(w)).length;
  return words.length > 0 && tagged >= 0.9 * words.length ? 'brown' : 'text';
}

/** One Brown sentence (`The/at jury/nn ./.`) as plain text. */
export function brownSentence(line: string): string {
  const words = line.trim().split(/\s+/).filter(Boolean).map((w) => {
    const slash = w.lastIndexOf('/');
    const word = slash > 0 ? w.slice(0, slash) : w;
    return word === '``' || word === "''" ? '"' : word;
  });
  return words.join(' ').replace(/ ([.,;:!?)])/g, '$1').replace(/\( /g, '(');
}

/** The texts of one file, in order. Errors name the file and line. */
export function readTexts(file: string, format?: CorpusFormat): string[] {
  const text = readTextFile(file, 'text');
  const kind = format ?? detectFormat(file, text);
  const lines = text.split(/\r?\n/);
  switch (kind) {
    case 'text':
      return lines.map((l) => l.trim()).filter(Boolean);
    case 'brown':
      return lines.filter((l) => l.trim()).map(brownSentence);
    case 'jsonl':
      return lines.flatMap((l, i) => {
        if (!l.trim()) return [];
        let v: unknown;
        try {
          v = JSON.parse(l);
        } catch (err) {
          throw new Error(`${file}:${i + 1}: invalid JSON (${(err as Error).message})`);
        }
        const t = typeof v === 'string' ? v : (v as { text?: unknown } | null)?.text;
        if (typeof t !== 'string') throw new Error(`${file}:${i + 1}: expected a string or an object with a string field 'text'`);
        return t.trim() ? [t] : [];
      });
    case 'json': {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch (err) {
        throw new Error(`${file}: invalid JSON (${(err as Error).message})`);
      }
      if (!Array.isArray(v)) throw new Error(`${file}: expected a JSON array of strings (or of objects with 'text')`);
      return v.flatMap((x, i) => {
        const t = typeof x === 'string' ? x : (x as { text?: unknown } | null)?.text;
        if (typeof t !== 'string') throw new Error(`${file}: element ${i} is not a string or an object with a string field 'text'`);
        return t.trim() ? [t] : [];
      });
    }
  }
}

/** Packed sequences: sequence i is ids[starts[i] .. starts[i + 1]), [CLS] ... [SEP] included. */
export interface PackedCorpus {
  ids: Int32Array;
  starts: Int32Array;
  /** Sequences. */
  count: number;
  /** Tokens of text (special tokens not counted). */
  tokens: number;
  files: string[];
}

/** Token facts masking and packing need: word starts, special tokens, the random-replacement ids. */
export function maskVocabulary(tok: PreTrainedTokenizer): MaskVocabulary {
  const n = tok.vocabSize;
  const special = new Uint8Array(n);
  for (const id of tok.allSpecialIds) if (id >= 0 && id < n) special[id] = 1;
  const wordStart = new Uint8Array(n);
  const pieces: string[] = [];
  for (let id = 0; id < n; id++) {
    try {
      pieces.push(tok.convertIdsToTokens(id));
    } catch {
      pieces.push('');
    }
  }
  // SentencePiece marks word starts with '▁', byte-level BPE with 'Ġ'; WordPiece marks continuations with '##'.
  const marker = pieces.some((p) => p.startsWith('▁')) ? '▁' : pieces.some((p) => p.startsWith('Ġ')) ? 'Ġ' : undefined;
  pieces.forEach((p, id) => {
    wordStart[id] = special[id] || (marker ? p.startsWith(marker) : !p.startsWith('##')) ? 1 : 0;
  });
  const randomIds = Int32Array.from([...special.keys()].filter((id) => !special[id]));
  return { maskId: tok.maskTokenId, wordStart, special, randomIds };
}

export interface PackOptions {
  maxLength: number;
  format?: CorpusFormat;
  /** Tokenized texts per call of the tokenizer. */
  chunk?: number;
  /** Called after each file (progress of a long tokenization). */
  onFile?: (file: string, tokens: number) => void;
}

/**
 * Tokenizes the files and packs the token stream into sequences of maxLength - 2 text tokens. A cut that
 * would split a word moves back to the word's start when that loses at most a quarter of the sequence.
 */
export function packCorpus(files: readonly string[], tok: PreTrainedTokenizer, vocab: MaskVocabulary, o: PackOptions): PackedCorpus {
  const capacity = o.maxLength - 2;
  if (!Number.isSafeInteger(o.maxLength) || capacity < 2) throw new Error(`max length must be an integer >= 4, got ${o.maxLength}`);
  const cls = tok.clsTokenId, sep = tok.sepTokenId;
  let ids = new Int32Array(1 << 16);
  let used = 0;
  const starts: number[] = [0];
  const push = (xs: ArrayLike<number>) => {
    while (used + xs.length > ids.length) {
      const bigger = new Int32Array(ids.length * 2);
      bigger.set(ids.subarray(0, used));
      ids = bigger;
    }
    ids.set(xs, used);
    used += xs.length;
  };
  let pending: number[] = [];
  let tokens = 0;
  const emit = (n: number) => {
    push([cls]);
    push(pending.slice(0, n));
    push([sep]);
    starts.push(used);
    pending = pending.slice(n);
  };
  const chunk = o.chunk ?? 256;
  for (const file of files) {
    const texts = readTexts(file, o.format);
    let fileTokens = 0;
    for (let i = 0; i < texts.length; i += chunk) {
      const enc = tok.encodeBatch(texts.slice(i, i + chunk).map((t) => [t, null] as [string, null]), { addSpecialTokens: false });
      for (const row of enc.inputIds) {
        for (const id of row) pending.push(id);
        fileTokens += row.length;
        while (pending.length > capacity) {
          let cut = capacity;
          if (!vocab.wordStart[pending[cut]!]) {
            let w = cut;
            while (w > capacity - capacity / 4 && !vocab.wordStart[pending[w]!]) w--;
            if (vocab.wordStart[pending[w]!] && w > 0) cut = w;
          }
          emit(cut);
        }
      }
    }
    tokens += fileTokens;
    o.onFile?.(file, fileTokens);
  }
  if (pending.length > 0) emit(pending.length);
  if (starts.length === 1) throw new Error(`${files.map((f) => basename(f)).join(', ')}: no text to train on`);
  return { ids: ids.slice(0, used), starts: Int32Array.from(starts), count: starts.length - 1, tokens, files: [...files] };
}

export function sequenceOf(c: PackedCorpus, i: number): Int32Array {
  return c.ids.subarray(c.starts[i]!, c.starts[i + 1]!);
}

/**
 * A masked batch as the pretraining graphs take it: ids [B, n] (masked), attention mask, and the masked
 * positions as indices into the flattened [B * n] batch with the original ids there.
 */
export interface PretrainBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  maskedIndex: Tensor;
  maskedLabels: Tensor;
}

/** Masks the sequences `indices` of the corpus (masks seeded by (seed, epoch, index)) and pads them. */
export function maskedBatch(c: PackedCorpus, indices: readonly number[], v: MaskVocabulary, o: MaskingOptions,
  padId: number, seed: number, epoch: number): PretrainBatch {
  const seqs = indices.map((i) => maskSequence(sequenceOf(c, i), v, o, maskRng(seed, epoch, i)));
  const n = Math.max(...seqs.map((s) => s.inputIds.length));
  const B = seqs.length;
  const ids = new BigInt64Array(B * n).fill(BigInt(padId));
  const mask = new BigInt64Array(B * n);
  const where: bigint[] = [], labels: bigint[] = [];
  seqs.forEach((s, b) => {
    for (let i = 0; i < s.inputIds.length; i++) {
      ids[b * n + i] = BigInt(s.inputIds[i]!);
      mask[b * n + i] = 1n;
      if (s.labels[i] !== -100) { where.push(BigInt(b * n + i)); labels.push(BigInt(s.labels[i]!)); }
    }
  });
  return {
    inputIds: tensor('int64', [B, n], ids),
    attentionMask: tensor('int64', [B, n], mask),
    maskedIndex: tensor('int64', [where.length], BigInt64Array.from(where)),
    maskedLabels: tensor('int64', [labels.length], BigInt64Array.from(labels)),
  };
}

/** Real (non-padding) tokens of a batch. */
export function batchTokens(b: PretrainBatch): number {
  let n = 0;
  for (const x of b.attentionMask.data as BigInt64Array) if (x) n++;
  return n;
}
