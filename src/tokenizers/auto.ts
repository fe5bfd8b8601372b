// AutoTokenizer: reads a checkpoint folder the way transformers 5 does for DeBERTa. `tokenizer.json` when
// present; otherwise `spm.model` (DeBERTa v2/v3, rebuilt as transformers' DebertaV2Tokenizer: unigram over
// the piece scores, whatever the SentencePiece model type) or `vocab.json` + `merges.txt` (DeBERTa v1,
// GPT-2 byte-level BPE). `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json` are
// honoured in every case. Files come through ModelFiles: a folder, a URL or contents in memory.
import { memoryFiles, readBytes as readFileBytes, readJson as readFileJson, readText, type ModelFiles } from '../io/files.ts';
import { openFiles } from '../platform/index.ts';
import { HUB_OPTIONS, type HubOptions } from '../hub/id.ts';
import { readOptions, type EitherCase } from '../util/options.ts';
import { readSentencePieceModel } from './sentencepiece-proto.ts';
import { TokenizerPipeline, type AddedToken } from './pipeline.ts';
import { pipelineFromTokenizerJson } from './tokenizer-json.ts';
import { PreTrainedTokenizer, type SpecialTokens, type TokenizerSettings } from './tokenizer.ts';
import { UnigramModel } from './models/unigram.ts';
import { BpeModel } from './models/bpe.ts';
import type { Model } from './models/model.ts';
import { lowercase, replace, sequence as normalizerSequence, strip } from './normalizers.ts';
import type { Normalizer } from './normalizers.ts';
import { byteLevel, metaspace, punctuation, sequence as preTokenizerSequence } from './pre-tokenizers.ts';
import { byteLevelDecoder, metaspaceDecoder } from './decoders.ts';
import { TemplateProcessing, type TemplatePiece } from './post-processor.ts';
import { translateRegex } from './regex.ts';

export type TokenizerSource = 'tokenizer.json' | 'spm.model' | 'vocab.json';

export interface FromPretrainedOptions extends HubOptions {
  /** Which model files to read; by default the first present of tokenizer.json, spm.model, vocab.json + merges.txt. */
  use?: TokenizerSource;
}

/** What fromPretrained takes, in either spelling (`cache_dir` as well as `cacheDir`); any other name is a TypeError. */
const TOKENIZER_OPTIONS = ['use', ...HUB_OPTIONS];

type Json = Record<string, unknown>;

const SPECIAL_KEYS: [keyof SpecialTokens, string][] = [
  ['bos', 'bos_token'],
  ['eos', 'eos_token'],
  ['unk', 'unk_token'],
  ['sep', 'sep_token'],
  ['pad', 'pad_token'],
  ['cls', 'cls_token'],
  ['mask', 'mask_token'],
];
// DebertaTokenizer and DebertaV2Tokenizer share these defaults.
const DEFAULT_SPECIALS: Required<SpecialTokens> = { bos: '[CLS]', eos: '[SEP]', unk: '[UNK]', sep: '[SEP]', pad: '[PAD]', cls: '[CLS]', mask: '[MASK]' };

type FileSource = ModelFiles;

const readBytes = (src: FileSource, name: string): Promise<Uint8Array> => readFileBytes(src, name);
const readJson = async (src: FileSource, name: string): Promise<Json> => (await readFileJson(src, name)) as Json;

async function readOptionalJson(src: FileSource, name: string): Promise<Json | null> {
  return (await src.has(name)) ? readJson(src, name) : null;
}

/** A special token given as a string or as an AddedToken object. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

export class AutoTokenizer {
  /** Loads the tokenizer of a Hugging Face checkpoint: a folder path, URL or Hub id (what the platform opens), or files. */
  static async fromPretrained(ref: string | ModelFiles, options: EitherCase<FromPretrainedOptions> = {}): Promise<PreTrainedTokenizer> {
    const o = readOptions<FromPretrainedOptions>('AutoTokenizer.fromPretrained', options, TOKENIZER_OPTIONS);
    return fromSource(await openFiles(ref, o), o);
  }

  /** `fromPretrained` as transformers.js (and Python) spell it. */
  static from_pretrained(ref: string | ModelFiles, options: EitherCase<FromPretrainedOptions> = {}): Promise<PreTrainedTokenizer> {
    return AutoTokenizer.fromPretrained(ref, options);
  }

  /**
   * The same from file contents in memory, by file name (`tokenizer.json`, `tokenizer_config.json`,
   * `spm.model`, ...): text or bytes, as fetched over HTTP in a browser. `label` (e.g. their URL's folder)
   * names them in messages.
   */
  static async fromFiles(files: Record<string, string | Uint8Array>, options: EitherCase<FromPretrainedOptions> & { label?: string } = {}): Promise<PreTrainedTokenizer> {
    const o = readOptions<FromPretrainedOptions & { label?: string }>('AutoTokenizer.fromFiles', options, [...TOKENIZER_OPTIONS, 'label']);
    return fromSource(memoryFiles(files, o.label), o);
  }
}

/**
 * transformers' tokenizer classes of the two families (`DebertaV2Tokenizer.from_pretrained(…)`): AutoTokenizer
 * for that family only. DeBERTa v1 tokenizes by byte-level BPE, v2 and v3 by a SentencePiece unigram model.
 */
function familyTokenizer(name: string, other: string, kind: typeof UnigramModel | typeof BpeModel, what: string) {
  const fromPretrained = async (ref: string | ModelFiles, options: EitherCase<FromPretrainedOptions> = {}): Promise<PreTrainedTokenizer> => {
    const o = readOptions<FromPretrainedOptions>(`${name}.fromPretrained`, options, TOKENIZER_OPTIONS);
    const src = await openFiles(ref, o);
    const tok = await fromSource(src, o);
    if (!(tok.pipeline.model instanceof kind)) {
      throw new Error(`${name}.fromPretrained: ${src.where} holds no ${what} tokenizer; load it with ${other} or AutoTokenizer`);
    }
    return tok;
  };
  return { fromPretrained, from_pretrained: fromPretrained };
}
export const DebertaTokenizer = familyTokenizer('DebertaTokenizer', 'DebertaV2Tokenizer', BpeModel, 'DeBERTa (v1) byte-level BPE');
export const DebertaV2Tokenizer = familyTokenizer('DebertaV2Tokenizer', 'DebertaTokenizer', UnigramModel, 'DeBERTa-v2/v3 SentencePiece (unigram)');

async function fromSource(src: FileSource, options: FromPretrainedOptions): Promise<PreTrainedTokenizer> {
  const config = (await readOptionalJson(src, 'tokenizer_config.json')) ?? {};
  const specialMap = (await readOptionalJson(src, 'special_tokens_map.json')) ?? {};
  const addedJson = await readOptionalJson(src, 'added_tokens.json');

  // Special tokens: class defaults, then tokenizer_config.json, then special_tokens_map.json.
  const special: SpecialTokens = { ...DEFAULT_SPECIALS };
  for (const [k, key] of SPECIAL_KEYS) {
    for (const from of [config, specialMap]) {
      if (key in from) {
        const c = from[key] === null ? undefined : tokenContent(from[key]);
        if (c === undefined) delete special[k];
        else special[k] = c;
      }
    }
  }
  const extra = [config.extra_special_tokens, config.additional_special_tokens, specialMap.additional_special_tokens, specialMap.extra_special_tokens]
    .flatMap((v) => (Array.isArray(v) ? v : []))
    .map(tokenContent)
    .filter((v): v is string => v !== undefined);

  const source = await pickSource(src, options.use);
  let pipeline: TokenizerPipeline;
  if (source === 'tokenizer.json') {
    pipeline = pipelineFromTokenizerJson(await readJson(src, 'tokenizer.json'), src.path('tokenizer.json'));
    pipeline = withExtraAdded(pipeline, special, extra, config, addedJson);
  } else if (source === 'spm.model') {
    const bytes = await readBytes(src, 'spm.model');
    pipeline = debertaV2Pipeline(readSentencePieceModel(bytes, src.path('spm.model')), config, special, extra, addedJson);
  } else {
    pipeline = await debertaV1Pipeline(src, config, special, extra, addedJson);
  }

  const settings: TokenizerSettings = {
    special,
    modelMaxLength: typeof config.model_max_length === 'number' ? config.model_max_length : 1e30,
    paddingSide: config.padding_side === 'left' ? 'left' : 'right',
    truncationSide: config.truncation_side === 'left' ? 'left' : 'right',
    cleanUpTokenizationSpaces: config.clean_up_tokenization_spaces === true,
    source: src.path(source),
  };
  return new PreTrainedTokenizer(pipeline, settings);
}

// Files are asked for one at a time, in order, so a source over HTTP fetches only what it reads.
async function pickSource(src: FileSource, use?: TokenizerSource): Promise<TokenizerSource> {
  const needsMerges = async () => {
    if (!(await src.has('merges.txt'))) throw new Error(`${src.path('merges.txt')}: file not found (vocab.json needs it)`);
  };
  if (use) {
    if (!(await src.has(use))) throw new Error(`${src.path(use)}: file not found`);
    if (use === 'vocab.json') await needsMerges();
    return use;
  }
  if (await src.has('tokenizer.json')) return 'tokenizer.json';
  if (await src.has('spm.model')) return 'spm.model';
  if (await src.has('vocab.json')) {
    await needsMerges();
    return 'vocab.json';
  }
  throw new Error(`${src.where}: no tokenizer files (expected tokenizer.json, spm.model, or vocab.json + merges.txt)`);
}

/**
 * The added tokens transformers registers for a tokenizer built from vocabulary files: the config's
 * `added_tokens_decoder`, then the special tokens (appended after the vocabulary when it lacks them, as
 * [MASK] is in DeBERTa-v3's spm.model), then `added_tokens.json`.
 */
function collectAdded(model: Model, existing: AddedToken[], special: SpecialTokens, extra: string[], config: Json, addedJson: Json | null): AddedToken[] {
  const out = [...existing];
  const has = (content: string): boolean => out.some((t) => t.content === content);
  let next = Math.max(model.vocabSize, ...out.map((t) => t.id + 1));
  const decoderEntries = config.added_tokens_decoder as Record<string, Json> | undefined;
  if (decoderEntries && typeof decoderEntries === 'object') {
    for (const [id, t] of Object.entries(decoderEntries)) {
      const content = tokenContent(t);
      if (content === undefined || has(content)) continue;
      out.push({
        id: Number(id),
        content,
        special: t.special === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
        singleWord: t.single_word === true,
        normalized: t.normalized === true,
      });
      next = Math.max(next, Number(id) + 1);
    }
  }
  const specials = [...SPECIAL_KEYS.map(([k]) => special[k]), ...extra].filter((v): v is string => v !== undefined);
  for (const content of specials) {
    if (has(content)) continue;
    const id = model.tokenToId(content) ?? next++;
    out.push({ id, content, special: true, normalized: false });
  }
  if (addedJson) {
    for (const [content, id] of Object.entries(addedJson)) {
      if (has(content) || typeof id !== 'number') continue;
      out.push({ id, content, special: false, normalized: true });
    }
  }
  return out;
}

function withExtraAdded(p: TokenizerPipeline, special: SpecialTokens, extra: string[], config: Json, addedJson: Json | null): TokenizerPipeline {
  const added = collectAdded(p.model, p.addedTokens, special, extra, config, addedJson);
  if (added.length === p.addedTokens.length) return p;
  return new TokenizerPipeline({ normalizer: p.normalizer, preTokenizer: p.preTokenizer, model: p.model, postProcessor: p.postProcessor, decoder: p.decoder, addedTokens: added });
}

/** DeBERTa's templates: v2/v3 `[CLS] A [SEP] B [SEP]` (B typed 1), v1 `[CLS] A [SEP] [SEP] B [SEP]` (all 0). */
function debertaTemplate(special: SpecialTokens, model: Model, added: AddedToken[], version: 1 | 2, file: string): TemplateProcessing {
  const idOf = (t: string | undefined, what: string): number => {
    if (t === undefined) throw new Error(`${file}: DeBERTa needs a ${what} token`);
    const id = added.find((a) => a.content === t)?.id ?? model.tokenToId(t);
    if (id === undefined) throw new Error(`${file}: ${what} token ${JSON.stringify(t)} has no id`);
    return id;
  };
  const cls = special.cls!;
  const sep = special.sep!;
  const specials = new Map([
    [cls, { ids: [idOf(special.cls, 'cls')], tokens: [cls] }],
    [sep, { ids: [idOf(special.sep, 'sep')], tokens: [sep] }],
  ]);
  const sp = (name: string, typeId: number): TemplatePiece => ({ kind: 'special', name, typeId });
  const seq = (s: 0 | 1, typeId: number): TemplatePiece => ({ kind: 'sequence', seq: s, typeId });
  const single = [sp(cls, 0), seq(0, 0), sp(sep, 0)];
  const pair = version === 2 ? [sp(cls, 0), seq(0, 0), sp(sep, 0), seq(1, 1), sp(sep, 1)] : [sp(cls, 0), seq(0, 0), sp(sep, 0), sp(sep, 0), seq(1, 0), sp(sep, 0)];
  return new TemplateProcessing(single, pair, specials, file);
}

/** transformers 5's DebertaV2Tokenizer built from a SentencePiece model. */
function debertaV2Pipeline(spm: ReturnType<typeof readSentencePieceModel>, config: Json, special: SpecialTokens, extra: string[], addedJson: Json | null): TokenizerPipeline {
  const vocab: [string, number][] = spm.pieces.map((p) => [p.piece, p.score]);
  const unkIndex = vocab.findIndex(([p, s]) => p === special.unk && s === 0);
  const unkId =
    unkIndex >= 0 ? unkIndex : typeof config.unk_id === 'number' ? config.unk_id : spm.pieces.findIndex((p) => p.type === 'UNKNOWN');
  const model = new UnigramModel(vocab, unkId);

  const normalizers: Normalizer[] = [];
  if (config.do_lower_case === true) normalizers.push(lowercase());
  normalizers.push(replace(translateRegex('\\s{2,}|[\\n\\r\\t]', 'DebertaV2 normalizer'), ' '));
  normalizers.push((s) => s.unicodeNormalize('NFC'));
  normalizers.push(strip(false, true));

  const scheme = config.add_prefix_space === false ? 'first' : 'always';
  const pre = [];
  if (config.split_by_punct === true) pre.push(punctuation('Isolated'));
  pre.push(metaspace('▁', scheme, true));

  const added = collectAdded(model, [], special, extra, config, addedJson);
  return new TokenizerPipeline({
    normalizer: normalizerSequence(normalizers),
    preTokenizer: preTokenizerSequence(pre),
    model,
    postProcessor: debertaTemplate(special, model, added, 2, 'spm.model'),
    decoder: metaspaceDecoder('▁', scheme),
    addedTokens: added,
  });
}

/** transformers 5's DebertaTokenizer (v1) from GPT-2 style vocab.json + merges.txt. */
async function debertaV1Pipeline(src: FileSource, config: Json, special: SpecialTokens, extra: string[], addedJson: Json | null): Promise<TokenizerPipeline> {
  const vocabFile = src.path('vocab.json');
  const mergesFile = src.path('merges.txt');
  const vocabJson = await readJson(src, 'vocab.json');
  const vocab = new Map<string, number>();
  for (const [tok, id] of Object.entries(vocabJson)) {
    if (typeof id !== 'number') throw new Error(`${vocabFile}: id of ${JSON.stringify(tok)} is not a number`);
    vocab.set(tok, id);
  }
  const mergesText = await readText(src, 'merges.txt');
  const merges: [string, string][] = [];
  mergesText.split(/\r?\n/).forEach((line, i) => {
    if (i === 0 && line.startsWith('#version')) return;
    if (line === '') return;
    const k = line.indexOf(' ', 1);
    if (k < 0) throw new Error(`${mergesFile}: line ${i + 1} is not "a b": ${JSON.stringify(line)}`);
    merges.push([line.slice(0, k), line.slice(k + 1)]);
  });
  const model = new BpeModel(vocab, merges, {}, mergesFile);
  const added = collectAdded(model, [], special, extra, config, addedJson);
  const prefix = config.add_prefix_space === true;
  return new TokenizerPipeline({
    normalizer: null,
    preTokenizer: byteLevel(prefix, true),
    model,
    postProcessor: debertaTemplate(special, model, added, 1, 'vocab.json'),
    decoder: byteLevelDecoder(),
    addedTokens: added,
  });
}
