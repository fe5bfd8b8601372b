/** A tokenisation model: cuts one pre-tokenised word into vocabulary ids. */
export interface Model {
  readonly type: 'Unigram' | 'BPE' | 'WordPiece';
  /**
   * Appends the ids of `word`'s tokens to `ids`, and to `ends` the end of each token in `word`
   * (UTF-16 code units; each token starts where the previous one ended).
   */
  tokenize(word: string, ids: number[], ends: number[]): void;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Number of ids the model itself knows (added tokens excluded). */
  readonly vocabSize: number;
}
