// WordPiece (BERT): greedy longest-match-first over the word, continuation pieces carrying a prefix
// ("##"); a word with an unmatchable rest, or longer than `maxInputCharsPerWord`, is one unknown token.
import { MapVocabularyModel, type Model, type WordTokens } from './model.ts';

export class WordPieceModel extends MapVocabularyModel implements Model {
  readonly type = 'WordPiece' as const;
  private unkId: number;

  constructor(
    vocab: Map<string, number>,
    unkToken: string,
    private prefix = '##',
    private maxInputCharsPerWord = 100,
    where = 'WordPiece model',
  ) {
    super(vocab);
    const unk = vocab.get(unkToken);
    if (unk === undefined) throw new Error(`${where}: unk_token ${JSON.stringify(unkToken)} is not in the vocabulary`);
    this.unkId = unk;
  }

  tokenize(word: string, out: WordTokens): void {
    if (word.length === 0) return;
    const chars = [...word].length;
    if (chars > this.maxInputCharsPerWord) {
      out.push(this.unkId, word.length);
      return;
    }
    const found: number[] = [];
    const foundEnds: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = word.length;
      let id: number | undefined;
      while (start < end) {
        const sub = start > 0 ? this.prefix + word.slice(start, end) : word.slice(start, end);
        id = this.vocab.get(sub);
        if (id !== undefined) break;
        const c = word.charCodeAt(end - 1);
        end -= c >= 0xdc00 && c <= 0xdfff && end - 2 >= start ? 2 : 1;
      }
      if (id === undefined) {
        out.push(this.unkId, word.length);
        return;
      }
      found.push(id);
      foundEnds.push(end);
      start = end;
    }
    for (let k = 0; k < found.length; k++) {
      out.push(found[k]!, foundEnds[k]!);
    }
  }
}
