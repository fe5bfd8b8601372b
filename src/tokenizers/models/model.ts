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

/** The lookups of models whose vocabulary is a token -> id map (BPE, WordPiece). */
export abstract class MapVocabularyModel {
  protected readonly reverse: string[] = [];
  /** The largest id in the vocabulary. */
  protected readonly maxId: number = 0;

  constructor(protected readonly vocab: Map<string, number>) {
    for (const [tok, id] of vocab) {
      this.reverse[id] = tok;
      if (id > this.maxId) this.maxId = id;
    }
  }

  get vocabSize(): number { return this.vocab.size; }
  tokenToId(token: string): number | undefined { return this.vocab.get(token); }
  idToToken(id: number): string | undefined { return this.reverse[id]; }
}
