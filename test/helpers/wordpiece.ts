// A BERT-style tokenizer.json (WordPiece with the BERT normaliser, pre-tokeniser, post-processor and decoder)
// over the given vocabulary, whose first five entries are [PAD], [UNK], [CLS], [SEP], [MASK].
const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

export const WORDPIECE_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export function wordPieceJson(vocab: string[]): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: WORDPIECE_SPECIALS.map((t, i) => special(i, t)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}
