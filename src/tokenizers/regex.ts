// Hugging Face `tokenizers` compiles `Regex` patterns with Oniguruma, whose Unicode `\s`, `\d` and `\w`
// are wider than JavaScript's. This translates a pattern into an equivalent JavaScript RegExp (`u` flag).
import { WHITESPACE_CLASS } from './normalized.ts';

const WORD_CLASS = '\\p{L}\\p{M}\\p{Nd}\\p{Pc}';
const SYNTAX_CHARS = new Set('^$\\.*+?()[]{}|/');

/** Translates an Oniguruma pattern; `where` names the component in error messages. */
export function translateRegex(pattern: string, where: string, flags = 'gu'): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      const e = pattern[++i]!;
      switch (e) {
        case 's':
          out += inClass ? WHITESPACE_CLASS : `[${WHITESPACE_CLASS}]`;
          break;
        case 'S':
          if (inClass) throw new Error(`${where}: \\S inside a character class is not supported in ${JSON.stringify(pattern)}`);
          out += `[^${WHITESPACE_CLASS}]`;
          break;
        case 'd':
          out += '\\p{Nd}';
          break;
        case 'D':
          out += '\\P{Nd}';
          break;
        case 'w':
          out += inClass ? WORD_CLASS : `[${WORD_CLASS}]`;
          break;
        case 'W':
          if (inClass) throw new Error(`${where}: \\W inside a character class is not supported in ${JSON.stringify(pattern)}`);
          out += `[^${WORD_CLASS}]`;
          break;
        case 'A':
          out += '^';
          break;
        case 'z':
        case 'Z':
          out += '$';
          break;
        case 'h':
          out += inClass ? '0-9a-fA-F' : '[0-9a-fA-F]';
          break;
        default:
          if (/[A-Za-z0-9]/.test(e)) out += '\\' + e; // \n, \t, \p{..}, \u...., \x.., \b, back-references
          else if (SYNTAX_CHARS.has(e) || (inClass && e === '-')) out += '\\' + e;
          else out += e; // identity escapes such as \' or \- are literals (and invalid in `u` mode)
      }
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    else if (c === '(' && pattern[i + 1] === '?' && /[imx-]/.test(pattern[i + 2] ?? '')) {
      throw new Error(`${where}: inline regex flags are not supported in ${JSON.stringify(pattern)}`);
    }
    out += c;
  }
  try {
    return new RegExp(out, flags);
  } catch (err) {
    throw new Error(`${where}: cannot compile regex ${JSON.stringify(pattern)} (${(err as Error).message})`);
  }
}
