// Reading and writing SentencePiece model files (`spm.model`): the `ModelProto` protobuf message of
// sentencepiece_model.proto (proto2). The schema is restated below as field tables (number, name, wire
// kind) and driven through protobufjs' low-level Reader/Writer, so that fields this module does not know
// (newer sentencepiece versions, `extensions 200 to max`) are kept as raw bytes and written back unchanged.
//
// Conventions of the plain object model:
// - names are camelCase versions of the proto field names (`model_type` -> `modelType`);
// - an optional scalar absent from the file stays `undefined` (the proto2 default then applies: see
//   TRAINER_SPEC_DEFAULTS / NORMALIZER_SPEC_DEFAULTS), so reading then writing reproduces the file;
// - enums are their proto names as strings (`'UNIGRAM'`, `'NORMAL'` ...).
import protobuf from 'protobufjs/minimal.js';

type Reader = protobuf.Reader;
type Writer = protobuf.Writer;

export type PieceType = 'NORMAL' | 'UNKNOWN' | 'CONTROL' | 'USER_DEFINED' | 'UNUSED' | 'BYTE';
export type ModelType = 'UNIGRAM' | 'BPE' | 'WORD' | 'CHAR';

export interface SentencePiece {
  piece: string;
  score: number;
  /** NORMAL when the file leaves it out (the proto default). */
  type: PieceType;
  unknownFields?: Uint8Array;
}

export interface TrainerSpec {
  input?: string[];
  inputFormat?: string;
  modelPrefix?: string;
  modelType?: ModelType;
  vocabSize?: number;
  acceptLanguage?: string[];
  selfTestSampleSize?: number;
  enableDifferentialPrivacy?: boolean;
  differentialPrivacyNoiseLevel?: number;
  differentialPrivacyClippingThreshold?: number;
  characterCoverage?: number;
  inputSentenceSize?: number;
  shuffleInputSentence?: boolean;
  miningSentenceSize?: number;
  trainingSentenceSize?: number;
  seedSentencepieceSize?: number;
  shrinkingFactor?: number;
  maxSentenceLength?: number;
  numThreads?: number;
  numSubIterations?: number;
  maxSentencepieceLength?: number;
  splitByUnicodeScript?: boolean;
  splitByNumber?: boolean;
  splitByWhitespace?: boolean;
  treatWhitespaceAsSuffix?: boolean;
  allowWhitespaceOnlyPieces?: boolean;
  splitDigits?: boolean;
  pretokenizationDelimiter?: string;
  controlSymbols?: string[];
  userDefinedSymbols?: string[];
  requiredChars?: string;
  byteFallback?: boolean;
  vocabularyOutputPieceScore?: boolean;
  hardVocabLimit?: boolean;
  useAllVocab?: boolean;
  unkId?: number;
  bosId?: number;
  eosId?: number;
  padId?: number;
  unkPiece?: string;
  bosPiece?: string;
  eosPiece?: string;
  padPiece?: string;
  unkSurface?: string;
  trainExtremelyLargeCorpus?: boolean;
  seedSentencepiecesFile?: string;
  unknownFields?: Uint8Array;
}

export interface NormalizerSpec {
  name?: string;
  precompiledCharsmap?: Uint8Array;
  addDummyPrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  escapeWhitespaces?: boolean;
  normalizationRuleTsv?: string;
  unknownFields?: Uint8Array;
}

export interface SelfTestData {
  samples: { input?: string; expected?: string }[];
  unknownFields?: Uint8Array;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  trainerSpec: TrainerSpec;
  normalizerSpec: NormalizerSpec;
  selfTestData?: SelfTestData;
  denormalizerSpec?: NormalizerSpec;
  unknownFields?: Uint8Array;
}

/** The proto2 defaults of TrainerSpec fields that matter when using a model. */
export const TRAINER_SPEC_DEFAULTS = {
  modelType: 'UNIGRAM' as ModelType,
  vocabSize: 8000,
  byteFallback: false,
  splitDigits: false,
  treatWhitespaceAsSuffix: false,
  unkId: 0,
  bosId: 1,
  eosId: 2,
  padId: -1,
  unkPiece: '<unk>',
  bosPiece: '<s>',
  eosPiece: '</s>',
  padPiece: '<pad>',
  unkSurface: ' \u2047 ',
} as const;

export const NORMALIZER_SPEC_DEFAULTS = {
  addDummyPrefix: true,
  removeExtraWhitespaces: true,
  escapeWhitespaces: true,
} as const;

// ---- schema ---------------------------------------------------------------------------------------

type Kind = 'string' | 'bytes' | 'bool' | 'int32' | 'uint64' | 'float' | 'enum' | 'message';
interface FieldDef {
  no: number;
  name: string;
  kind: Kind;
  repeated?: boolean;
  enumNames?: Record<number, string>;
  message?: MessageDef;
}
interface MessageDef {
  name: string;
  fields: FieldDef[];
  byNo: Map<number, FieldDef>;
}

function messageDef(name: string, fields: FieldDef[]): MessageDef {
  const sorted = [...fields].sort((a, b) => a.no - b.no);
  return { name, fields: sorted, byNo: new Map(sorted.map((f) => [f.no, f])) };
}

const PIECE_TYPES: Record<number, PieceType> = { 1: 'NORMAL', 2: 'UNKNOWN', 3: 'CONTROL', 4: 'USER_DEFINED', 5: 'UNUSED', 6: 'BYTE' };
const MODEL_TYPES: Record<number, ModelType> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };

const PIECE = messageDef('SentencePiece', [
  { no: 1, name: 'piece', kind: 'string' },
  { no: 2, name: 'score', kind: 'float' },
  { no: 3, name: 'type', kind: 'enum', enumNames: PIECE_TYPES },
]);

const TRAINER_SPEC = messageDef('TrainerSpec', [
  { no: 1, name: 'input', kind: 'string', repeated: true },
  { no: 7, name: 'inputFormat', kind: 'string' },
  { no: 2, name: 'modelPrefix', kind: 'string' },
  { no: 3, name: 'modelType', kind: 'enum', enumNames: MODEL_TYPES },
  { no: 4, name: 'vocabSize', kind: 'int32' },
  { no: 5, name: 'acceptLanguage', kind: 'string', repeated: true },
  { no: 6, name: 'selfTestSampleSize', kind: 'int32' },
  { no: 50, name: 'enableDifferentialPrivacy', kind: 'bool' },
  { no: 51, name: 'differentialPrivacyNoiseLevel', kind: 'float' },
  { no: 52, name: 'differentialPrivacyClippingThreshold', kind: 'uint64' },
  { no: 10, name: 'characterCoverage', kind: 'float' },
  { no: 11, name: 'inputSentenceSize', kind: 'uint64' },
  { no: 19, name: 'shuffleInputSentence', kind: 'bool' },
  { no: 12, name: 'miningSentenceSize', kind: 'int32' },
  { no: 13, name: 'trainingSentenceSize', kind: 'int32' },
  { no: 14, name: 'seedSentencepieceSize', kind: 'int32' },
  { no: 15, name: 'shrinkingFactor', kind: 'float' },
  { no: 18, name: 'maxSentenceLength', kind: 'int32' },
  { no: 16, name: 'numThreads', kind: 'int32' },
  { no: 17, name: 'numSubIterations', kind: 'int32' },
  { no: 20, name: 'maxSentencepieceLength', kind: 'int32' },
  { no: 21, name: 'splitByUnicodeScript', kind: 'bool' },
  { no: 23, name: 'splitByNumber', kind: 'bool' },
  { no: 22, name: 'splitByWhitespace', kind: 'bool' },
  { no: 24, name: 'treatWhitespaceAsSuffix', kind: 'bool' },
  { no: 26, name: 'allowWhitespaceOnlyPieces', kind: 'bool' },
  { no: 25, name: 'splitDigits', kind: 'bool' },
  { no: 53, name: 'pretokenizationDelimiter', kind: 'string' },
  { no: 30, name: 'controlSymbols', kind: 'string', repeated: true },
  { no: 31, name: 'userDefinedSymbols', kind: 'string', repeated: true },
  { no: 36, name: 'requiredChars', kind: 'string' },
  { no: 35, name: 'byteFallback', kind: 'bool' },
  { no: 32, name: 'vocabularyOutputPieceScore', kind: 'bool' },
  { no: 33, name: 'hardVocabLimit', kind: 'bool' },
  { no: 34, name: 'useAllVocab', kind: 'bool' },
  { no: 40, name: 'unkId', kind: 'int32' },
  { no: 41, name: 'bosId', kind: 'int32' },
  { no: 42, name: 'eosId', kind: 'int32' },
  { no: 43, name: 'padId', kind: 'int32' },
  { no: 45, name: 'unkPiece', kind: 'string' },
  { no: 46, name: 'bosPiece', kind: 'string' },
  { no: 47, name: 'eosPiece', kind: 'string' },
  { no: 48, name: 'padPiece', kind: 'string' },
  { no: 44, name: 'unkSurface', kind: 'string' },
  { no: 49, name: 'trainExtremelyLargeCorpus', kind: 'bool' },
  { no: 54, name: 'seedSentencepiecesFile', kind: 'string' },
]);

const NORMALIZER_SPEC = messageDef('NormalizerSpec', [
  { no: 1, name: 'name', kind: 'string' },
  { no: 2, name: 'precompiledCharsmap', kind: 'bytes' },
  { no: 3, name: 'addDummyPrefix', kind: 'bool' },
  { no: 4, name: 'removeExtraWhitespaces', kind: 'bool' },
  { no: 5, name: 'escapeWhitespaces', kind: 'bool' },
  { no: 6, name: 'normalizationRuleTsv', kind: 'string' },
]);

const SAMPLE = messageDef('SelfTestData.Sample', [
  { no: 1, name: 'input', kind: 'string' },
  { no: 2, name: 'expected', kind: 'string' },
]);
const SELF_TEST_DATA = messageDef('SelfTestData', [{ no: 1, name: 'samples', kind: 'message', repeated: true, message: SAMPLE }]);

const MODEL_PROTO = messageDef('ModelProto', [
  { no: 1, name: 'pieces', kind: 'message', repeated: true, message: PIECE },
  { no: 2, name: 'trainerSpec', kind: 'message', message: TRAINER_SPEC },
  { no: 3, name: 'normalizerSpec', kind: 'message', message: NORMALIZER_SPEC },
  { no: 4, name: 'selfTestData', kind: 'message', message: SELF_TEST_DATA },
  { no: 5, name: 'denormalizerSpec', kind: 'message', message: NORMALIZER_SPEC },
]);

const WIRE_TYPE: Record<Kind, number> = { string: 2, bytes: 2, message: 2, bool: 0, int32: 0, uint64: 0, enum: 0, float: 5 };

// ---- decoding -------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function decodeMessage(def: MessageDef, r: Reader, end: number, path: string): Obj {
  const out: Obj = {};
  const unknown: Uint8Array[] = [];
  while (r.pos < end) {
    const start = r.pos;
    const tag = r.uint32();
    const no = tag >>> 3;
    const wire = tag & 7;
    if (no === 0) throw new Error(`invalid field number 0 in ${path}`);
    const f = def.byNo.get(no);
    if (!f || WIRE_TYPE[f.kind] !== wire) {
      // Unknown field (or a wire type we do not expect): keep its raw bytes, tag included.
      r.skipType(wire);
      unknown.push(r.buf.subarray(start, r.pos));
      continue;
    }
    const value = readValue(f, r, `${path}.${f.name}`);
    if (f.repeated) {
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      list.push(value);
      out[f.name] = list;
    } else {
      out[f.name] = value;
    }
  }
  if (r.pos !== end) throw new Error(`${path} runs past its declared length`);
  if (unknown.length) out.unknownFields = concat(unknown);
  return out;
}

function readValue(f: FieldDef, r: Reader, path: string): unknown {
  switch (f.kind) {
    case 'string':
      return r.string();
    case 'bytes':
      return new Uint8Array(r.bytes());
    case 'bool':
      return r.bool();
    case 'int32':
      return r.int32();
    case 'uint64': {
      const v = r.uint64() as unknown;
      return typeof v === 'number' ? v : (v as { toNumber(): number }).toNumber();
    }
    case 'float':
      return r.float();
    case 'enum': {
      const n = r.int32();
      const name = f.enumNames![n];
      if (name === undefined) throw new Error(`${path} has unknown enum value ${n}`);
      return name;
    }
    case 'message': {
      const len = r.uint32();
      const end = r.pos + len;
      if (end > r.len) throw new Error(`${path} runs past the end of the file`);
      return decodeMessage(f.message!, r, end, path);
    }
  }
}

/**
 * Parses the bytes of an `spm.model` file. `file` names the file in error messages.
 * Throws when the bytes are not a SentencePiece model (corrupt, truncated, or some other file).
 */
export function readSentencePieceModel(bytes: Uint8Array, file: string): SentencePieceModel {
  let raw: Obj;
  try {
    const r = protobuf.Reader.create(bytes);
    raw = decodeMessage(MODEL_PROTO, r, bytes.length, 'ModelProto');
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`${file}: not a valid SentencePiece model (corrupt protobuf: ${why})`);
  }
  const pieces = ((raw.pieces as Obj[] | undefined) ?? []).map((p) => {
    const piece: SentencePiece = { piece: (p.piece as string) ?? '', score: (p.score as number) ?? 0, type: (p.type as PieceType) ?? 'NORMAL' };
    if (p.unknownFields) piece.unknownFields = p.unknownFields as Uint8Array;
    return piece;
  });
  if (pieces.length === 0) throw new Error(`${file}: not a valid SentencePiece model (ModelProto.pieces is empty)`);
  const model: SentencePieceModel = {
    pieces,
    trainerSpec: (raw.trainerSpec as TrainerSpec | undefined) ?? {},
    normalizerSpec: (raw.normalizerSpec as NormalizerSpec | undefined) ?? {},
  };
  if (raw.selfTestData) {
    const s = raw.selfTestData as Obj;
    model.selfTestData = { samples: (s.samples as SelfTestData['samples'] | undefined) ?? [] };
    if (s.unknownFields) model.selfTestData.unknownFields = s.unknownFields as Uint8Array;
  }
  if (raw.denormalizerSpec) model.denormalizerSpec = raw.denormalizerSpec as NormalizerSpec;
  if (raw.unknownFields) model.unknownFields = raw.unknownFields as Uint8Array;
  checkPieces(model, file);
  return model;
}

/** The invariants sentencepiece itself checks when it loads a model. */
function checkPieces(model: SentencePieceModel, file: string): void {
  const seen = new Set<string>();
  let unknowns = 0;
  model.pieces.forEach((p, i) => {
    if (p.piece === '') throw new Error(`${file}: ModelProto.pieces[${i}].piece is empty`);
    if (seen.has(p.piece)) throw new Error(`${file}: ModelProto.pieces[${i}].piece ${JSON.stringify(p.piece)} is duplicated`);
    seen.add(p.piece);
    if (p.type === 'UNKNOWN') unknowns++;
  });
  if (unknowns !== 1) throw new Error(`${file}: ModelProto.pieces must hold exactly one piece of type UNKNOWN (found ${unknowns})`);
}

// ---- encoding -------------------------------------------------------------------------------------

function encodeMessage(def: MessageDef, obj: Obj, path: string): Uint8Array {
  const w = protobuf.Writer.create();
  for (const f of def.fields) {
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      if (!Array.isArray(v)) throw new Error(`${path}.${f.name} must be an array`);
      v.forEach((item, i) => writeValue(f, item, w, `${path}.${f.name}[${i}]`));
    } else {
      writeValue(f, v, w, `${path}.${f.name}`);
    }
  }
  const known = w.finish();
  // Unknown fields: raw tag+value bytes, appended as they were read.
  const unknown = obj.unknownFields;
  return unknown instanceof Uint8Array && unknown.length ? concat([known, unknown]) : known;
}

function writeValue(f: FieldDef, v: unknown, w: Writer, path: string): void {
  w.uint32(((f.no << 3) | WIRE_TYPE[f.kind]) >>> 0);
  switch (f.kind) {
    case 'string':
      if (typeof v !== 'string') throw new Error(`${path} must be a string`);
      w.string(v);
      return;
    case 'bytes':
      if (!(v instanceof Uint8Array)) throw new Error(`${path} must be a Uint8Array`);
      w.bytes(v);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new Error(`${path} must be a boolean`);
      w.bool(v);
      return;
    case 'int32':
      if (!Number.isInteger(v)) throw new Error(`${path} must be an integer`);
      w.int32(v as number);
      return;
    case 'uint64':
      if (!Number.isInteger(v) || (v as number) < 0) throw new Error(`${path} must be a non-negative integer`);
      w.uint64(v as number);
      return;
    case 'float':
      if (typeof v !== 'number') throw new Error(`${path} must be a number`);
      w.float(v);
      return;
    case 'enum': {
      const entry = Object.entries(f.enumNames!).find(([, name]) => name === v);
      if (!entry) throw new Error(`${path} must be one of ${Object.values(f.enumNames!).join(', ')} (got ${String(v)})`);
      w.int32(Number(entry[0]));
      return;
    }
    case 'message':
      // A nested message is on the wire exactly as a bytes field holding its encoding.
      if (typeof v !== 'object') throw new Error(`${path} must be an object`);
      w.bytes(encodeMessage(f.message!, v as Obj, path));
      return;
  }
}

/**
 * Serialises a model to `spm.model` bytes, fields in field-number order as protobuf C++ writes them, so
 * the Python `sentencepiece` package (and transformers) can load the result. Pieces of type NORMAL are
 * written without their `type` field, as sentencepiece's own trainer does.
 */
export function writeSentencePieceModel(model: SentencePieceModel): Uint8Array {
  if (!model || !Array.isArray(model.pieces) || model.pieces.length === 0) throw new Error('writeSentencePieceModel: model.pieces must be a non-empty array');
  checkPieces(model, 'writeSentencePieceModel');
  const obj: Obj = {
    ...model,
    pieces: model.pieces.map((p) => (p.type === 'NORMAL' ? { piece: p.piece, score: p.score, unknownFields: p.unknownFields } : p)),
  };
  // A plain Uint8Array (protobufjs hands out Node Buffers).
  return new Uint8Array(encodeMessage(MODEL_PROTO, obj, 'ModelProto'));
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
