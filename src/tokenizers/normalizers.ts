// Normalisers of the `tokenizer.json` format, as functions from one aligned string to the next.
import { NormalizedString, escapeRegExp, isWhitespace } from './normalized.ts';
import { translateRegex } from './regex.ts';
import { precompiledNormalizer } from './precompiled.ts';
import { type Json, optBool, optList, optString, pattern, stringOrNull, typeOf } from './json-fields.ts';

export type Normalizer = (s: NormalizedString) => NormalizedString;

export function sequence(list: Normalizer[]): Normalizer {
  return (s) => {
    for (const n of list) s = n(s);
    return s;
  };
}

export function replace(pattern: RegExp, content: string): Normalizer {
  return (s) => s.replace(pattern, content);
}

export function lowercase(): Normalizer {
  return (s) => {
    // ASCII fast path; otherwise per character, as Rust's char::to_lowercase (no final-sigma context).
    if (/^[\x00-\x7f]*$/.test(s.text)) {
      const low = s.text.toLowerCase();
      return low === s.text ? s : new NormalizedString(low, s.starts, s.ends, s.origin, s.base);
    }
    return s.mapChars((c) => (c === 'İ' ? 'i\u0307' : c.toLowerCase()));
  };
}

export function strip(left: boolean, right: boolean): Normalizer {
  return (s) => s.strip(left, right);
}

const CJK_RE = /[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b820}-\u{2ceaf}\u{2f800}-\u{2fa1f}]/u;
const OTHER_RE = /\p{C}/u;
const MN_RE = /\p{Mn}/u;

/** BERT's normaliser: control characters out, whitespace to spaces, CJK padded, accents, lowercase. */
export function bertNormalizer(cleanText: boolean, chineseChars: boolean, stripAccents: boolean, lower: boolean): Normalizer {
  return (s) => {
    if (cleanText) {
      s = s.mapChars((c) => {
        if (c === '\t' || c === '\n' || c === '\r') return ' ';
        if (c === '\0' || c === '\ufffd' || OTHER_RE.test(c)) return '';
        return isWhitespace(c) ? ' ' : c;
      });
    }
    if (chineseChars) s = s.mapChars((c) => (CJK_RE.test(c) ? ` ${c} ` : c));
    if (stripAccents) s = s.unicodeNormalize('NFD').mapChars((c) => (MN_RE.test(c) ? '' : c));
    if (lower) s = lowercase()(s);
    return s;
  };
}

/** Builds a normaliser from its `tokenizer.json` description; `where` locates it for error messages. */
export function buildNormalizer(json: Json, where: string): Normalizer {
  const type = typeOf(json, where, 'normalizer');
  switch (type) {
    case 'Sequence':
      return sequence(optList(json, 'normalizers', where).map((n, i) => buildNormalizer(n as Json, `${where}.normalizers[${i}]`)));
    case 'Replace': {
      const pat = pattern(json, where);
      const content = optString(json, 'content', where, '');
      if ('String' in pat) return replace(new RegExp(escapeRegExp(pat.String), 'gu'), content);
      return replace(translateRegex(pat.Regex, `${where}.pattern`), content);
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (s) => s.unicodeNormalize(type);
    case 'Lowercase':
      return lowercase();
    case 'Strip':
      return strip(optBool(json, 'strip_left', where, true), optBool(json, 'strip_right', where, true));
    case 'StripAccents':
      return (s) => s.mapChars((c) => (MN_RE.test(c) ? '' : c));
    case 'Prepend': {
      const p = optString(json, 'prepend', where, '');
      return (s) => s.prepend(p);
    }
    case 'Append': {
      const p = optString(json, 'append', where, '');
      return (s) => s.append(p);
    }
    case 'BertNormalizer': {
      const lower = optBool(json, 'lowercase', where, true);
      const accents = optBool(json, 'strip_accents', where, lower);
      return bertNormalizer(optBool(json, 'clean_text', where, true), optBool(json, 'handle_chinese_chars', where, true), accents, lower);
    }
    case 'Precompiled':
      return precompiledNormalizer(stringOrNull(json, 'precompiled_charsmap', where), where);
    default:
      throw new Error(`${where}: unsupported normalizer ${JSON.stringify(type)}`);
  }
}
