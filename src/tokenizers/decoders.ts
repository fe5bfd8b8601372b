// Decoders of the `tokenizer.json` format: turn a list of token strings back into text. Each works on the
// list (`decode_chain` in `tokenizers`); the final text is the concatenation.
import { decodeByteLevel } from './byte-level.ts';
import type { PrependScheme } from './pre-tokenizers.ts';
import { prependSchemeOf } from './pre-tokenizers.ts';
import { translateRegex } from './regex.ts';
import { escapeRegExp } from './normalized.ts';
import { type Json, optBool, optChar, optList, optString, optU32, pattern, typeOf } from './json-fields.ts';

export type Decoder = (tokens: string[]) => string[];

/** The meta character becomes a space; in the first token it is dropped (unless nothing was prepended). */
export function metaspaceDecoder(replacement: string, prependScheme: PrependScheme): Decoder {
  return (tokens) =>
    tokens.map((t, i) => {
      if (!t.includes(replacement)) return t;
      return t.split(replacement).join(i === 0 && prependScheme !== 'never' ? '' : ' ');
    });
}

export function byteLevelDecoder(): Decoder {
  return (tokens) => [decodeByteLevel(tokens)];
}

export function wordPieceDecoder(prefix: string, cleanup: boolean): Decoder {
  return (tokens) =>
    tokens.map((t, i) => {
      if (i !== 0) t = t.startsWith(prefix) ? t.slice(prefix.length) : ' ' + t;
      return cleanup ? cleanupSpaces(t) : t;
    });
}

/** transformers' `clean_up_tokenization`: no space before some punctuation and English contractions. */
export function cleanupSpaces(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

function byteFallbackDecoder(): Decoder {
  return (tokens) => {
    const out: string[] = [];
    let bytes: number[] = [];
    const flush = (): void => {
      if (!bytes.length) return;
      const text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(new Uint8Array(bytes));
      // Invalid bytes give one U+FFFD per byte, as `tokenizers` does.
      let valid = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(bytes));
      } catch {
        valid = false;
      }
      if (valid) out.push(text);
      else for (let k = 0; k < bytes.length; k++) out.push('\ufffd');
      bytes = [];
    };
    for (const t of tokens) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      if (m) bytes.push(parseInt(m[1]!, 16));
      else {
        flush();
        out.push(t);
      }
    }
    flush();
    return out;
  };
}

export function buildDecoder(json: Json, where: string): Decoder {
  const type = typeOf(json, where, 'decoder');
  switch (type) {
    case 'Metaspace':
      return metaspaceDecoder(optChar(json, 'replacement', where, '▁'), prependSchemeOf(json, where));
    case 'ByteLevel':
      return byteLevelDecoder();
    case 'WordPiece':
      return wordPieceDecoder(optString(json, 'prefix', where, '##'), optBool(json, 'cleanup', where, true));
    case 'BPEDecoder': {
      const suffix = optString(json, 'suffix', where, '</w>');
      return (tokens) => tokens.map((t, i) => t.split(suffix).join(i === tokens.length - 1 ? '' : ' '));
    }
    case 'Replace': {
      const pat = pattern(json, where);
      const content = optString(json, 'content', where, '');
      const re = 'String' in pat ? new RegExp(escapeRegExp(pat.String), 'gu') : translateRegex(pat.Regex, `${where}.pattern`);
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case 'Strip': {
      const content = optChar(json, 'content', where, ' ');
      const start = optU32(json, 'start', where, 0);
      const stop = optU32(json, 'stop', where, 0);
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let a = 0;
          let b = chars.length;
          for (let k = 0; k < start && a < b && chars[a] === content; k++) a++;
          for (let k = 0; k < stop && b > a && chars[b - 1] === content; k++) b--;
          return chars.slice(a, b).join('');
        });
    }
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'ByteFallback':
      return byteFallbackDecoder();
    case 'Sequence': {
      const list = optList(json, 'decoders', where).map((d, i) => buildDecoder(d as Json, `${where}.decoders[${i}]`));
      return (tokens) => list.reduce((t, d) => d(t), tokens);
    }
    default:
      throw new Error(`${where}: unsupported decoder ${JSON.stringify(type)}`);
  }
}
