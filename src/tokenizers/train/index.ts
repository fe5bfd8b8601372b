// Training a SentencePiece-compatible tokenizer (unigram or BPE) from text: the entry point of
// `deberta tokenizer-train`. See docs/tokenizer-training.md.
import type { SentencePiece, SentencePieceModel } from '../sentencepiece-proto.ts';
import { nmtNfkcCharsMap } from './charsmap.ts';
import { buildTrainingWords, checkInputs, countWords, readSentences, sampleSentences, type TrainingWords } from './corpus.ts';
import { SpmNormalizer } from './normalize.ts';
import { metaPieces, resolveOptions, type TrainOptions } from './options.ts';
import { trainBpe } from './bpe-trainer.ts';
import { trainUnigram, type ScoredPiece } from './unigram-trainer.ts';
import { writeTokenizerFiles } from './write.ts';

export { DEFAULT_OPTIONS, resolveOptions, type TrainOptions, type ModelKind, type InputFormat, type SpecialPieces } from './options.ts';
export { writeTokenizerFiles, tokenizerJson, tokenizerConfig, specialTokensMap, bpeMerges } from './write.ts';
export { SpmEncoder, tokensPerWord } from './segment.ts';
export { SpmNormalizer } from './normalize.ts';
export { nmtNfkcCharsMap, compileCharsMap, decompileCharsMap, buildNmtNfkcRules } from './charsmap.ts';
export { brownLineToText, brownFiles, brownSplit, brownDir } from './brown.ts';

export type TrainInput =
  /** Text files, read as a stream (format per `inputFormat`). */
  | { files: string[] }
  /** Sentences already in memory (or produced lazily). */
  | { sentences: Iterable<string> | AsyncIterable<string> };

export interface TrainStats {
  sentences: number;
  sentencesSeen: number;
  skippedTooLong: number;
  distinctWords: number;
  alphabet: number;
  characterCoverage: number;
  seconds: number;
}

export interface TrainResult {
  model: SentencePieceModel;
  options: TrainOptions;
  stats: TrainStats;
}

export type TrainRequest = Partial<TrainOptions> & Pick<TrainOptions, 'modelType' | 'vocabSize'>;

/** The corpus read and counted for training: what both trainers start from. */
export interface LoadedCorpus {
  words: TrainingWords;
  charsMap: Uint8Array | null;
  files: string[];
  stats: Omit<TrainStats, 'seconds'>;
}

/** Reads, samples, normalises and counts the corpus (the part of training shared by both model types). */
export async function loadCorpus(input: TrainInput, request: TrainRequest): Promise<LoadedCorpus> {
  const o = resolveOptions(request);
  const log = o.log ?? (() => {});
  const files = 'files' in input ? input.files : [];
  if ('files' in input) checkInputs(files);

  const charsMap = o.normalization === 'nmt_nfkc' ? nmtNfkcCharsMap() : null;
  const normalizer = new SpmNormalizer({
    charsMap,
    addDummyPrefix: o.addDummyPrefix,
    removeExtraWhitespaces: o.removeExtraWhitespaces,
    escapeWhitespaces: true,
  });
  const reserved = [...metaPieces(o).map((m) => m.piece), o.specialPieces.mask];

  let source: Iterable<string> | AsyncIterable<string> = 'files' in input ? readSentences(files, o.inputFormat) : input.sentences;
  let seen = -1;
  if (o.maxSentences > 0) {
    const { sample, seen: n } = await sampleSentences(toAsync(source), o.maxSentences, o.seed);
    log(`sampled ${sample.length} of ${n} sentences`);
    source = sample;
    seen = n;
  }
  const counts = await countWords(source, { normalizer, reserved, maxSentenceLength: o.maxSentenceLength, log });
  if (seen < 0) seen = counts.sentences + counts.skippedTooLong + counts.skippedReserved;
  if (counts.sentences === 0) throw new Error(`tokenizer training: no sentences in the input${files.length ? ` (${files.join(', ')})` : ''}`);
  if (counts.skippedTooLong) log(`skipped ${counts.skippedTooLong} sentences longer than ${o.maxSentenceLength} bytes`);
  const words = buildTrainingWords(counts.words, o.characterCoverage);
  log(
    `${counts.sentences} sentences, ${words.words.length} distinct words; alphabet of ${words.chars.length} characters ` +
      `covers ${(100 * words.coverage).toFixed(3)}% of character occurrences`,
  );
  return {
    words,
    charsMap,
    files,
    stats: {
      sentences: counts.sentences,
      sentencesSeen: seen,
      skippedTooLong: counts.skippedTooLong,
      distinctWords: words.words.length,
      alphabet: words.chars.length,
      characterCoverage: words.coverage,
    },
  };
}

/** Trains a tokenizer; the result's `model` is what `spm.model` holds. */
export async function trainTokenizer(input: TrainInput | LoadedCorpus, request: TrainRequest): Promise<TrainResult> {
  const started = Date.now();
  const o = resolveOptions(request);
  const log = o.log ?? (() => {});
  const corpus = 'words' in input && 'charsMap' in input ? input : await loadCorpus(input, request);
  const tw = corpus.words;
  const meta = metaPieces(o);
  const wanted = o.vocabSize - meta.length;
  if (tw.chars.length >= wanted) {
    throw new Error(
      `tokenizer training: --vocab-size ${o.vocabSize} is too small: the ${meta.length} special pieces and the ` +
        `${tw.chars.length} characters kept by --character-coverage ${o.characterCoverage} need at least ${meta.length + tw.chars.length + 1}`,
    );
  }
  const pieces: ScoredPiece[] = o.modelType === 'unigram' ? trainUnigram(tw, o, wanted, log) : trainBpe(tw, o, wanted, log);
  if (pieces.length < wanted) {
    throw new Error(
      `tokenizer training: --vocab-size ${o.vocabSize} is more than this corpus supports for ${o.modelType} ` +
        `(it yields at most ${pieces.length + meta.length} pieces)`,
    );
  }
  const model = buildModel(pieces, o, corpus.files, corpus.charsMap);
  const seconds = (Date.now() - started) / 1000;
  log(`trained ${o.modelType} with ${model.pieces.length} pieces in ${seconds.toFixed(1)} s`);
  return { model, options: o, stats: { ...corpus.stats, seconds } };
}

/** Trains and writes spm.model, tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir`. */
export async function trainTokenizerToDir(input: TrainInput | LoadedCorpus, request: TrainRequest, dir: string): Promise<TrainResult & { files: string[] }> {
  const result = await trainTokenizer(input, request);
  const files = await writeTokenizerFiles(dir, result.model, result.options.specialPieces);
  return { ...result, files };
}

function buildModel(pieces: ScoredPiece[], o: TrainOptions, files: string[], charsMap: Uint8Array | null): SentencePieceModel {
  const sp = o.specialPieces;
  const all: SentencePiece[] = [
    ...metaPieces(o).map((m) => ({ piece: m.piece, score: 0, type: m.type })),
    // Scores as spm.model stores them (float32), so every consumer of the model sees the same numbers.
    ...pieces.map((p) => ({ piece: p.piece, score: Math.fround(p.score), type: 'NORMAL' as const })),
  ];
  return {
    pieces: all,
    trainerSpec: {
      input: files,
      modelPrefix: 'spm',
      modelType: o.modelType === 'bpe' ? 'BPE' : 'UNIGRAM',
      vocabSize: o.vocabSize,
      characterCoverage: o.characterCoverage,
      inputSentenceSize: o.maxSentences,
      shuffleInputSentence: true,
      seedSentencepieceSize: o.seedSentencepieceSize,
      shrinkingFactor: o.shrinkingFactor,
      maxSentenceLength: o.maxSentenceLength,
      numSubIterations: o.numSubIterations,
      maxSentencepieceLength: o.maxSentencepieceLength,
      splitByUnicodeScript: o.splitByUnicodeScript,
      splitByNumber: o.splitByNumber,
      splitByWhitespace: true,
      treatWhitespaceAsSuffix: false,
      splitDigits: o.splitDigits,
      byteFallback: false,
      hardVocabLimit: true,
      unkId: 3,
      bosId: 1,
      eosId: 2,
      padId: 0,
      unkPiece: sp.unk,
      bosPiece: sp.cls,
      eosPiece: sp.sep,
      padPiece: sp.pad,
    },
    normalizerSpec: {
      name: o.normalization,
      precompiledCharsmap: charsMap ?? new Uint8Array(0),
      addDummyPrefix: o.addDummyPrefix,
      removeExtraWhitespaces: o.removeExtraWhitespaces,
      escapeWhitespaces: true,
    },
  };
}

async function* toAsync(src: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  for await (const s of src) yield s;
}
