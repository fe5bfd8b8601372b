// Options of tokenizer training, their defaults (SentencePiece's, with the DeBERTa-v3 special pieces
// and the character coverage of the project's reference models) and their checks.

export type ModelKind = 'unigram' | 'bpe';
export type InputFormat = 'text' | 'brown';

export interface SpecialPieces {
  pad: string;
  cls: string;
  sep: string;
  unk: string;
  /** Appended after the SentencePiece vocabulary (id = vocabSize), as DeBERTa-v3 does. */
  mask: string;
}

export interface TrainOptions {
  modelType: ModelKind;
  /** Pieces in `spm.model`, the four special pieces included ([MASK] comes on top). */
  vocabSize: number;
  /** Share of character occurrences the alphabet must cover; rarer characters become [UNK]. */
  characterCoverage: number;
  maxSentencepieceLength: number;
  /** Keep a piece within one Unicode script. */
  splitByUnicodeScript: boolean;
  /** Digits count as their own script (Common); false lets them join any script. */
  splitByNumber: boolean;
  /** Every digit is a piece of its own. */
  splitDigits: boolean;
  /** Unigram: how many frequent substrings seed the EM. */
  seedSentencepieceSize: number;
  /** Unigram: share of pieces each pruning round keeps. */
  shrinkingFactor: number;
  /** Unigram: EM iterations between prunings. */
  numSubIterations: number;
  /** Sentences longer than this many UTF-8 bytes are skipped. */
  maxSentenceLength: number;
  /** Train on a uniform sample of this many sentences (0 = all of them, streamed). */
  maxSentences: number;
  /** Seed of the sampling. */
  seed: number;
  /** `nmt_nfkc` (SentencePiece's default) or `identity`. */
  normalization: 'nmt_nfkc' | 'identity';
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  inputFormat: InputFormat;
  specialPieces: SpecialPieces;
  /** Progress lines (the CLI sends them to stderr); silent when absent. */
  log?: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<TrainOptions, 'modelType' | 'vocabSize'> = {
  characterCoverage: 0.9999,
  maxSentencepieceLength: 16,
  splitByUnicodeScript: true,
  splitByNumber: true,
  splitDigits: false,
  seedSentencepieceSize: 1_000_000,
  shrinkingFactor: 0.75,
  numSubIterations: 2,
  maxSentenceLength: 4192,
  maxSentences: 0,
  seed: 1,
  normalization: 'nmt_nfkc',
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  inputFormat: 'text',
  specialPieces: { pad: '[PAD]', cls: '[CLS]', sep: '[SEP]', unk: '[UNK]', mask: '[MASK]' },
};

/** Fills defaults and rejects bad values, naming the option at fault. */
export function resolveOptions(opts: Partial<TrainOptions> & Pick<TrainOptions, 'modelType' | 'vocabSize'>): TrainOptions {
  const o: TrainOptions = { ...DEFAULT_OPTIONS, ...opts, specialPieces: { ...DEFAULT_OPTIONS.specialPieces, ...opts.specialPieces } };
  const fail = (name: string, why: string): never => {
    const flag = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new Error(`tokenizer training: ${name} (--${flag}) ${why}`);
  };
  if (o.modelType !== 'unigram' && o.modelType !== 'bpe') fail('modelType', `must be "unigram" or "bpe" (got ${JSON.stringify(o.modelType)})`);
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < 6) fail('vocabSize', `must be an integer of at least 6: 4 special pieces and some characters (got ${o.vocabSize})`);
  if (!(o.characterCoverage > 0 && o.characterCoverage <= 1)) fail('characterCoverage', `must be in (0, 1] (got ${o.characterCoverage})`);
  if (!Number.isInteger(o.maxSentencepieceLength) || o.maxSentencepieceLength < 1 || o.maxSentencepieceLength > 512)
    fail('maxSentencepieceLength', `must be an integer in 1..512 (got ${o.maxSentencepieceLength})`);
  if (!Number.isInteger(o.seedSentencepieceSize) || o.seedSentencepieceSize < 1) fail('seedSentencepieceSize', `must be a positive integer`);
  if (!(o.shrinkingFactor >= 0.5 && o.shrinkingFactor < 1)) fail('shrinkingFactor', `must be in [0.5, 1) (got ${o.shrinkingFactor})`);
  if (!Number.isInteger(o.numSubIterations) || o.numSubIterations < 1) fail('numSubIterations', `must be a positive integer`);
  if (!Number.isInteger(o.maxSentences) || o.maxSentences < 0) fail('maxSentences', `must be a non-negative integer (got ${o.maxSentences})`);
  if (!Number.isInteger(o.maxSentenceLength) || o.maxSentenceLength < 1) fail('maxSentenceLength', `must be a positive integer`);
  if (o.normalization !== 'nmt_nfkc' && o.normalization !== 'identity') fail('normalization', `must be "nmt_nfkc" or "identity"`);
  if (o.inputFormat !== 'text' && o.inputFormat !== 'brown') fail('inputFormat', `must be "text" or "brown"`);
  const sp = o.specialPieces;
  const names = [sp.pad, sp.cls, sp.sep, sp.unk, sp.mask];
  if (names.some((n) => typeof n !== 'string' || n.length === 0 || /\s/.test(n))) fail('specialPieces', 'must be non-empty strings without whitespace');
  if (new Set(names).size !== names.length) fail('specialPieces', `must be distinct (got ${names.join(', ')})`);
  return o;
}

/** The pieces at the start of the vocabulary, in id order. */
export function metaPieces(o: TrainOptions): { piece: string; type: 'CONTROL' | 'UNKNOWN' }[] {
  const sp = o.specialPieces;
  return [
    { piece: sp.pad, type: 'CONTROL' },
    { piece: sp.cls, type: 'CONTROL' },
    { piece: sp.sep, type: 'CONTROL' },
    { piece: sp.unk, type: 'UNKNOWN' },
  ];
}
