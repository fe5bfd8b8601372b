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

type Json = Record<string, unknown>;

export function buildModel(json: Json, where: string): Model {
  const type = json.type as string | undefined;
  switch (type) {
    case 'Unigram': {
      const vocab = json.vocab as [string, number][] | undefined;
      if (!Array.isArray(vocab)) throw new Error(`${where}.vocab: expected a list of [piece, score]`);
      return new UnigramModel(vocab, typeof json.unk_id === 'number' ? json.unk_id : null, json.byte_fallback === true);
    }
    case 'BPE': {
      if (typeof json.dropout === 'number' && json.dropout > 0) throw new Error(`${where}.dropout: BPE dropout is not supported`);
      const vocab = new Map(Object.entries((json.vocab as Record<string, number>) ?? {}));
      const merges = ((json.merges as (string | [string, string])[]) ?? []).map((m, i): [string, string] => {
        if (Array.isArray(m)) return [m[0], m[1]];
        const k = m.indexOf(' ', 1);
        if (k < 0) throw new Error(`${where}.merges[${i}]: expected "a b", got ${JSON.stringify(m)}`);
        return [m.slice(0, k), m.slice(k + 1)];
      });
      return new BpeModel(
        vocab,
        merges,
        {
          unkToken: (json.unk_token as string | null) ?? null,
          continuingSubwordPrefix: (json.continuing_subword_prefix as string | null) ?? null,
          endOfWordSuffix: (json.end_of_word_suffix as string | null) ?? null,
          fuseUnk: json.fuse_unk === true,
          byteFallback: json.byte_fallback === true,
          ignoreMerges: json.ignore_merges === true,
        },
        where,
      );
    }
    case 'WordPiece':
      return new WordPieceModel(
        new Map(Object.entries((json.vocab as Record<string, number>) ?? {})),
        String(json.unk_token ?? '[UNK]'),
        String(json.continuing_subword_prefix ?? '##'),
        Number(json.max_input_chars_per_word ?? 100),
        where,
      );
    default:
      throw new Error(`${where}: unsupported model ${JSON.stringify(type)}`);
  }
}

export function parseAddedTokens(list: unknown, where: string): AddedToken[] {
  if (list == null) return [];
  if (!Array.isArray(list)) throw new Error(`${where}: expected a list`);
  return list.map((t: Json, i) => {
    if (typeof t.id !== 'number' || typeof t.content !== 'string') throw new Error(`${where}[${i}]: needs a numeric id and a string content`);
    return {
      id: t.id,
      content: t.content,
      special: t.special === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      singleWord: t.single_word === true,
      normalized: t.normalized === true,
    };
  });
}

/** Builds the pipeline a `tokenizer.json` describes; `file` names it in error messages. */
export function pipelineFromTokenizerJson(json: Json, file: string): TokenizerPipeline {
  try {
    return buildPipeline(json, file);
  } catch (err) {
    // A malformed file can trip a builder before its own checks do (a null where an object belongs): name the file.
    const msg = err instanceof Error ? err.message : String(err);
    if (msg.includes(file)) throw err;
    throw new Error(`${file}: not a valid tokenizer.json (${msg})`);
  }
}

function buildPipeline(json: Json, file: string): TokenizerPipeline {
  if (!json || typeof json !== 'object' || !json.model) throw new Error(`${file}: not a tokenizer.json (no "model")`);
  const model = buildModel(json.model as Json, `${file}: model`);
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
