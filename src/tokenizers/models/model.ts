/** A tokenisation model: cuts one pre-tokenised word into vocabulary ids. */
export interface Model {
  readonly type: 'Unigram' | 'BPE' | 'WordPiece';
  /**
   * Appends `word`'s tokens to `out`: each id with the end of its token in `word` (UTF-16 code units;
   * each token starts where the previous one ended).
   */
  tokenize(word: string, out: WordTokens): void;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Number of ids the model itself knows (added tokens excluded). */
  readonly vocabSize: number;
}

/**
 * Token ids and their ends in the word, in typed buffers that double as they fill: the pipeline keeps
 * one and clears it for each word, so that words allocate nothing.
 */
export class WordTokens {
  ids = new Uint32Array(64);
  ends = new Int32Array(64);
  length = 0;

  push(id: number, end: number): void {
    const n = this.length;
    if (n === this.ids.length) {
      const ids = new Uint32Array(2 * n);
      const ends = new Int32Array(2 * n);
      ids.set(this.ids);
      ends.set(this.ends);
      this.ids = ids;
      this.ends = ends;
    }
    this.ids[n] = id;
    this.ends[n] = end;
    this.length = n + 1;
  }

  clear(): void {
    this.length = 0;
  }
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
