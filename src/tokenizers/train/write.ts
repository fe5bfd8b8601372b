// Writing a trained tokenizer: `spm.model` (SentencePiece's ModelProto, through the project's reader /
// writer) and the Hugging Face files (`tokenizer.json`, `tokenizer_config.json`,
// `special_tokens_map.json`) describing the same tokenisation, so transformers, transformers.js and
// this project load the folder with AutoTokenizer.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSentencePieceModel, type SentencePieceModel } from '../sentencepiece-proto.ts';
import type { SpecialPieces } from './options.ts';
import { toCodePoints } from './pieces.ts';

type Json = Record<string, unknown>;

function addedToken(id: number, content: string): Json {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * BPE merges as `tokenizers` needs them to reproduce SentencePiece's BPE: every split of every piece into
 * two pieces, ranked by the merged piece's id (sentencepiece merges the highest-scoring piece first, and
 * scores fall with id), then by the ids of the halves.
 */
export function bpeMerges(model: SentencePieceModel): [string, string][] {
  const ids = new Map<string, number>();
  model.pieces.forEach((p, id) => {
    if (p.type === 'NORMAL') ids.set(p.piece, id);
  });
  const merges: { l: string; r: string; key: [number, number, number] }[] = [];
  model.pieces.forEach((p, id) => {
    if (p.type !== 'NORMAL') return;
    const cps = toCodePoints(p.piece);
    for (let k = 1; k < cps.length; k++) {
      const l = String.fromCodePoint(...cps.slice(0, k));
      const r = String.fromCodePoint(...cps.slice(k));
      const li = ids.get(l);
      const ri = ids.get(r);
      if (li !== undefined && ri !== undefined) merges.push({ l, r, key: [id, li, ri] });
    }
  });
  merges.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2]);
  return merges.map((m) => [m.l, m.r]);
}

/** The `tokenizer.json` equivalent of a trained SentencePiece model (DeBERTa-v2/v3 conventions). */
export function tokenizerJson(model: SentencePieceModel, special: SpecialPieces): Json {
  const ns = model.normalizerSpec;
  const n = model.pieces.length;
  const idOf = (piece: string): number => model.pieces.findIndex((p) => p.piece === piece);
  const added = [special.pad, special.cls, special.sep, special.unk].map((t) => addedToken(idOf(t), t));
  added.push(addedToken(n, special.mask));

  // SentencePiece: the character map, then spaces squeezed and trimmed (remove_extra_whitespaces); the
  // space in front (add_dummy_prefix) and "▁" for spaces come from the Metaspace pre-tokenizer.
  const normalizers: Json[] = [];
  if (ns.precompiledCharsmap?.length) {
    normalizers.push({ type: 'Precompiled', precompiled_charsmap: Buffer.from(ns.precompiledCharsmap).toString('base64') });
  }
  if (ns.removeExtraWhitespaces ?? true) {
    normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
    normalizers.push({ type: 'Replace', pattern: { Regex: '^ | $' }, content: '' });
  }
  const prepend = (ns.addDummyPrefix ?? true) ? 'always' : 'never';
  const metaspace = { type: 'Metaspace', replacement: '\u2581', prepend_scheme: prepend, split: true };

  let hfModel: Json;
  const unkId = model.pieces.findIndex((p) => p.type === 'UNKNOWN');
  if (model.trainerSpec.modelType === 'BPE') {
    const vocab: Record<string, number> = {};
    model.pieces.forEach((p, id) => (vocab[p.piece] = id));
    hfModel = {
      type: 'BPE',
      dropout: null,
      unk_token: model.pieces[unkId]!.piece,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "left right" strings: every tokenizers version reads them (pieces never hold a space).
      merges: bpeMerges(model).map(([l, r]) => `${l} ${r}`),
    };
  } else {
    hfModel = { type: 'Unigram', unk_id: unkId, vocab: model.pieces.map((p) => [p.piece, p.score]), byte_fallback: false };
  }

  const cls = idOf(special.cls);
  const sep = idOf(special.sep);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: { type: 'Sequence', normalizers },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [metaspace] },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: special.cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: special.sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: special.cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: special.sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: special.sep, type_id: 1 } },
      ],
      special_tokens: {
        [special.cls]: { id: special.cls, ids: [cls], tokens: [special.cls] },
        [special.sep]: { id: special.sep, ids: [sep], tokens: [special.sep] },
      },
    },
    decoder: metaspace,
    model: hfModel,
  };
}

export function specialTokensMap(special: SpecialPieces): Json {
  return {
    bos_token: special.cls,
    cls_token: special.cls,
    eos_token: special.sep,
    mask_token: special.mask,
    pad_token: special.pad,
    sep_token: special.sep,
    unk_token: special.unk,
  };
}

export function tokenizerConfig(model: SentencePieceModel, special: SpecialPieces): Json {
  const decoder: Record<string, Json> = {};
  const n = model.pieces.length;
  for (const t of [special.pad, special.cls, special.sep, special.unk]) {
    const id = model.pieces.findIndex((p) => p.piece === t);
    const { id: _id, ...rest } = addedToken(id, t);
    decoder[String(id)] = rest;
  }
  const { id: _m, ...mask } = addedToken(n, special.mask);
  decoder[String(n)] = mask;
  return {
    tokenizer_class: 'DebertaV2Tokenizer',
    vocab_type: 'spm',
    do_lower_case: false,
    split_by_punct: false,
    add_prefix_space: model.normalizerSpec.addDummyPrefix ?? true,
    ...specialTokensMap(special),
    sp_model_kwargs: {},
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: decoder,
  };
}

/** Writes the four files into `dir` (created if needed); returns their paths. */
export async function writeTokenizerFiles(dir: string, model: SentencePieceModel, special: SpecialPieces): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string | Uint8Array][] = [
    ['spm.model', writeSentencePieceModel(model)],
    ['tokenizer.json', JSON.stringify(tokenizerJson(model, special), null, 2) + '\n'],
    ['tokenizer_config.json', JSON.stringify(tokenizerConfig(model, special), null, 2) + '\n'],
    ['special_tokens_map.json', JSON.stringify(specialTokensMap(special), null, 2) + '\n'],
  ];
  const paths: string[] = [];
  for (const [name, data] of files) {
    const p = join(dir, name);
    await writeFile(p, data);
    paths.push(p);
  }
  return paths;
}
