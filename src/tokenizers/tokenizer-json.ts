// Reading the Hugging Face `tokenizer.json` format into our pipeline. Every component we do not implement
// is refused by name, so a file never silently tokenises differently from transformers.
import { TokenizerPipeline, type AddedToken } from './pipeline.ts';
import { buildNormalizer } from './normalizers.ts';
import { buildPreTokenizer } from './pre-tokenizers.ts';
import { buildPostProcessor } from './post-processor.ts';
import { buildDecoder } from './decoders.ts';
import { UnigramModel } from './models/unigram.ts';
import { BpeModel } from './models/bpe.ts';
import { WordPieceModel } from './models/wordpiece.ts';
import type { Model } from './models/model.ts';

import { type Json, fail, finite, isObject, list, object, optBool, optList, optString, optU32, string, stringOrNull, typeOf, u32 } from './json-fields.ts';

/** A token -> id object (BPE and WordPiece vocabularies). */
function vocabMap(v: unknown, where: string): Map<string, number> {
  const o = object(v, where);
  const m = new Map<string, number>();
  for (const [tok, id] of Object.entries(o)) m.set(tok, u32(id, `${where}[${JSON.stringify(tok)}]`));
  return m;
}

export function buildModel(json: Json, where: string): Model {
  const type = typeOf(json, where, 'model');
  switch (type) {
    case 'Unigram': {
      const vocab = list(json.vocab, `${where}.vocab`).map((e, i): [string, number] => {
        if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string') fail(`${where}.vocab[${i}]`, 'a [piece, score] pair', e);
        return [e[0], finite(e[1], `${where}.vocab[${i}][1]`)];
      });
      let unkId: number | null = null;
      if (json.unk_id != null) {
        unkId = u32(json.unk_id, `${where}.unk_id`);
        if (unkId >= vocab.length) fail(`${where}.unk_id`, `an index into the vocabulary of ${vocab.length} (or null)`, json.unk_id);
      }
      return new UnigramModel(vocab, unkId, optBool(json, 'byte_fallback', where, false));
    }
    case 'BPE': {
      if (json.dropout != null && finite(json.dropout, `${where}.dropout`) > 0) throw new Error(`${where}.dropout: BPE dropout is not supported`);
      const vocab = json.vocab == null ? new Map<string, number>() : vocabMap(json.vocab, `${where}.vocab`);
      const merges = optList(json, 'merges', where).map((m, i): [string, string] => {
        if (Array.isArray(m)) {
          if (m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') fail(`${where}.merges[${i}]`, 'a pair of strings or "a b"', m);
          return [m[0], m[1]];
        }
        if (typeof m !== 'string') fail(`${where}.merges[${i}]`, 'a pair of strings or "a b"', m);
        const k = m.indexOf(' ', 1);
        if (k < 0) throw new Error(`${where}.merges[${i}]: expected "a b", got ${JSON.stringify(m)}`);
        return [m.slice(0, k), m.slice(k + 1)];
      });
      return new BpeModel(
        vocab,
        merges,
        {
          unkToken: stringOrNull(json, 'unk_token', where),
          continuingSubwordPrefix: stringOrNull(json, 'continuing_subword_prefix', where),
          endOfWordSuffix: stringOrNull(json, 'end_of_word_suffix', where),
          fuseUnk: optBool(json, 'fuse_unk', where, false),
          byteFallback: optBool(json, 'byte_fallback', where, false),
          ignoreMerges: optBool(json, 'ignore_merges', where, false),
        },
        where,
      );
    }
    case 'WordPiece':
      return new WordPieceModel(
        json.vocab == null ? new Map<string, number>() : vocabMap(json.vocab, `${where}.vocab`),
        optString(json, 'unk_token', where, '[UNK]'),
        optString(json, 'continuing_subword_prefix', where, '##'),
        optU32(json, 'max_input_chars_per_word', where, 100),
        where,
      );
    default:
      throw new Error(`${where}: unsupported model ${JSON.stringify(type)}`);
  }
}

export function parseAddedTokens(v: unknown, where: string): AddedToken[] {
  if (v == null) return [];
  return list(v, where).map((t, i) => {
    const at = `${where}[${i}]`;
    const o = object(t, at);
    const id = u32(o.id, `${at}.id`);
    const content = string(o.content, `${at}.content`);
    return {
      id,
      content,
      special: optBool(o, 'special', at, false),
      lstrip: optBool(o, 'lstrip', at, false),
      rstrip: optBool(o, 'rstrip', at, false),
      singleWord: optBool(o, 'single_word', at, false),
      normalized: optBool(o, 'normalized', at, false),
    };
  });
}

/** Builds the pipeline a `tokenizer.json` describes; `file` names it in error messages. */
export function pipelineFromTokenizerJson(json: Json, file: string): TokenizerPipeline {
  try {
    return buildPipeline(json, file);
  } catch (err) {
    // The last resort: every field is checked where it is read, so this only names the file should a
    // malformed file still trip a builder before its own checks do.
    const msg = err instanceof Error ? err.message : String(err);
    if (msg.includes(file)) throw err;
    throw new Error(`${file}: not a valid tokenizer.json (${msg})`);
  }
}

function buildPipeline(json: Json, file: string): TokenizerPipeline {
  if (!isObject(json) || !json.model) throw new Error(`${file}: not a tokenizer.json (no "model")`);
  const model = buildModel(object(json.model, `${file}: model`), `${file}: model`);
  const addedTokens = parseAddedTokens(json.added_tokens, `${file}: added_tokens`);
  const tokenText = (id: number): string => addedTokens.find((t) => t.id === id)?.content ?? model.idToToken(id) ?? '';
  return new TokenizerPipeline({
    normalizer: json.normalizer ? buildNormalizer(json.normalizer as Json, `${file}: normalizer`) : null,
    preTokenizer: json.pre_tokenizer ? buildPreTokenizer(json.pre_tokenizer as Json, `${file}: pre_tokenizer`) : null,
    model,
    postProcessor: json.post_processor ? buildPostProcessor(json.post_processor as Json, `${file}: post_processor`, tokenText) : null,
    decoder: json.decoder ? buildDecoder(json.decoder as Json, `${file}: decoder`) : null,
    addedTokens,
  });
}
