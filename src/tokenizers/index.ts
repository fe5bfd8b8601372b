// Tokenizers for DeBERTa checkpoints: spm.model (v2/v3), vocab.json + merges.txt (v1) and tokenizer.json,
// id for id with transformers 5.
export { AutoTokenizer, DebertaTokenizer, DebertaV2Tokenizer, type FromPretrainedOptions, type TokenizerSource } from './auto.ts';
export {
  PreTrainedTokenizer,
  type BatchEncoding,
  type TensorEncoding,
  type CallOptions,
  type DecodeOptions,
  type PaddingOption,
  type TruncationOption,
  type TextInput,
  type SpecialTokens,
  type TokenizerSettings,
} from './tokenizer.ts';
export { TokenizerPipeline, type AddedToken, type TruncationStrategy } from './pipeline.ts';
export { pipelineFromTokenizerJson } from './tokenizer-json.ts';
export { SentencePieceProcessor, type SentencePieceEncoding } from './sentencepiece.ts';
export {
  readSentencePieceModel,
  writeSentencePieceModel,
  TRAINER_SPEC_DEFAULTS,
  NORMALIZER_SPEC_DEFAULTS,
  type SentencePieceModel,
  type SentencePiece,
  type PieceType,
  type ModelType,
  type TrainerSpec,
  type NormalizerSpec,
  type SelfTestData,
} from './sentencepiece-proto.ts';
