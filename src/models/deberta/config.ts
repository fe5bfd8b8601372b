// The checkpoint's config.json, typed. Field names stay exactly as Hugging Face writes them
// (snake_case), and absent fields take the defaults transformers applies: the DebertaConfig /
// DebertaV2Config constructor defaults, and, for the fields the modeling code reads with
// getattr(config, name, default), those defaults.
import { readJson, type ModelFiles } from '../../io/files.ts';
import { checkJsonDepth } from '../../io/limits.ts';
import { openFiles } from '../../platform/index.ts';

export type DebertaModelType = 'deberta' | 'deberta-v2';
export type ProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

export interface DebertaConfig {
  model_type: DebertaModelType;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  relative_attention: boolean;
  /** -1 (or any value < 1) means "use max_position_embeddings", as transformers does. */
  max_relative_positions: number;
  pad_token_id: number | null;
  bos_token_id: number | null;
  eos_token_id: number | null;
  position_biased_input: boolean;
  /** Lowercase terms, e.g. ['p2c', 'c2p']; a legacy "p2c|c2p" string is split. Empty when absent. */
  pos_att_type: string[];
  pooler_dropout: number;
  pooler_hidden_act: string;
  pooler_hidden_size: number;
  embedding_size: number;
  legacy: boolean;
  /** -1: no log buckets. */
  position_buckets: number;
  share_att_key: boolean;
  /** '|'-separated options, lowercased as transformers reads them; 'layer_norm' normalises the relative embeddings. */
  norm_rel_ebd: string;
  /** 0: no convolution layer. */
  conv_kernel_size: number;
  conv_act: string;
  conv_groups: number;
  /** Absent: hidden_size / num_attention_heads. */
  attention_head_size?: number;
  architectures: string[];
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  num_labels: number;
  problem_type: ProblemType | null;
  tie_word_embeddings: boolean;
  /** The config.json object as read, so writing the config back keeps every field it had. */
  raw: Record<string, unknown>;
}

// Constructor defaults that differ between DebertaConfig (deberta-base) and DebertaV2Config
// (deberta-v2-xlarge); every other default is shared.
const SIZE_DEFAULTS: Record<DebertaModelType, Record<string, number>> = {
  deberta: { vocab_size: 50265, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 },
  'deberta-v2': { vocab_size: 128100, hidden_size: 1536, num_hidden_layers: 24, num_attention_heads: 24, intermediate_size: 6144 },
};

const PROBLEM_TYPES: readonly string[] = ['regression', 'single_label_classification', 'multi_label_classification'];

/** Reads one field of a config object, checking its type; `null` is accepted only where allowed. */
class FieldReader {
  constructor(private obj: Record<string, unknown>, private file: string) {}

  fail(key: string, expected: string): never {
    throw new Error(`${this.file}: field '${key}' must be ${expected}, got ${JSON.stringify(this.obj[key])}`);
  }
  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }
  int(key: string, dflt: number, min = -Infinity): number {
    if (!this.has(key)) return dflt;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(key, 'an integer');
    if (v < min) this.fail(key, `an integer >= ${min}`);
    return v;
  }
  intOrNull(key: string, dflt: number | null): number | null {
    if (!this.has(key)) return dflt;
    return this.obj[key] === null ? null : this.int(key, 0);
  }
  num(key: string, dflt: number): number {
    if (!this.has(key)) return dflt;
    const v = this.obj[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a number');
    return v;
  }
  prob(key: string, dflt: number): number {
    const v = this.num(key, dflt);
    if (v < 0 || v > 1) this.fail(key, 'a probability between 0 and 1');
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    if (!this.has(key)) return dflt;
    const v = this.obj[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }
  str(key: string, dflt: string): string {
    if (!this.has(key)) return dflt;
    const v = this.obj[key];
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }
  strList(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) this.fail(key, 'a list of strings');
    return [...v];
  }
}

/** Checks and completes a parsed config.json; `file` names the source in error messages. */
export function parseDebertaConfig(json: unknown, file: string): DebertaConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${file}: a config must be a JSON object`);
  }
  checkJsonDepth(json, file); // structuredClone (and JSON.stringify on saving) recurse
  const raw = structuredClone(json) as Record<string, unknown>;
  const f = new FieldReader(raw, file);

  if (!f.has('model_type')) throw new Error(`${file}: field 'model_type' is missing (expected "deberta" or "deberta-v2")`);
  const modelType = raw.model_type;
  if (modelType !== 'deberta' && modelType !== 'deberta-v2') {
    throw new Error(`${file}: unsupported model_type ${JSON.stringify(modelType)} (expected "deberta" or "deberta-v2")`);
  }
  const sizes = SIZE_DEFAULTS[modelType];

  const hidden_size = f.int('hidden_size', sizes.hidden_size!, 1);
  const num_attention_heads = f.int('num_attention_heads', sizes.num_attention_heads!, 1);
  // transformers checks divisibility even when attention_head_size is given.
  if (hidden_size % num_attention_heads !== 0) {
    throw new Error(`${file}: field 'hidden_size' (${hidden_size}) must be a multiple of 'num_attention_heads' (${num_attention_heads})`);
  }
  const attention_head_size = f.has('attention_head_size') ? f.int('attention_head_size', 0, 1) : undefined;

  const { id2label, label2id } = readLabels(raw, f, file);

  const problem = raw.problem_type;
  if (problem !== undefined && problem !== null && !PROBLEM_TYPES.includes(problem as string)) {
    f.fail('problem_type', `null or one of ${PROBLEM_TYPES.map((p) => `"${p}"`).join(', ')}`);
  }

  const config: DebertaConfig = {
    model_type: modelType,
    vocab_size: f.int('vocab_size', sizes.vocab_size!, 1),
    hidden_size,
    num_hidden_layers: f.int('num_hidden_layers', sizes.num_hidden_layers!, 0),
    num_attention_heads,
    intermediate_size: f.int('intermediate_size', sizes.intermediate_size!, 1),
    hidden_act: f.str('hidden_act', 'gelu'),
    hidden_dropout_prob: f.prob('hidden_dropout_prob', 0.1),
    attention_probs_dropout_prob: f.prob('attention_probs_dropout_prob', 0.1),
    max_position_embeddings: f.int('max_position_embeddings', 512, 0),
    type_vocab_size: f.int('type_vocab_size', 0, 0),
    initializer_range: f.num('initializer_range', 0.02),
    layer_norm_eps: f.num('layer_norm_eps', 1e-7),
    relative_attention: f.bool('relative_attention', false),
    max_relative_positions: f.int('max_relative_positions', -1),
    pad_token_id: f.intOrNull('pad_token_id', 0),
    bos_token_id: f.intOrNull('bos_token_id', null),
    eos_token_id: f.intOrNull('eos_token_id', null),
    position_biased_input: f.bool('position_biased_input', true),
    pos_att_type: readPosAttType(raw, f),
    pooler_dropout: f.prob('pooler_dropout', 0),
    pooler_hidden_act: f.str('pooler_hidden_act', 'gelu'),
    pooler_hidden_size: f.int('pooler_hidden_size', hidden_size, 1),
    embedding_size: f.int('embedding_size', hidden_size, 1),
    legacy: f.bool('legacy', true),
    position_buckets: f.int('position_buckets', -1),
    share_att_key: f.bool('share_att_key', false),
    norm_rel_ebd: f.str('norm_rel_ebd', 'none').split('|').map((x) => x.trim().toLowerCase()).join('|'),
    conv_kernel_size: f.int('conv_kernel_size', 0, 0),
    conv_act: f.str('conv_act', 'tanh'),
    conv_groups: f.int('conv_groups', 1, 1),
    ...(attention_head_size !== undefined ? { attention_head_size } : {}),
    architectures: f.strList('architectures'),
    id2label,
    label2id,
    num_labels: Object.keys(id2label).length,
    problem_type: (problem ?? null) as ProblemType | null,
    tie_word_embeddings: f.bool('tie_word_embeddings', true),
    raw,
  };
  return config;
}

function readPosAttType(raw: Record<string, unknown>, f: FieldReader): string[] {
  const v = raw.pos_att_type;
  // Older configs write "p2c|c2p"; transformers splits it the same way.
  const parts = typeof v === 'string' ? v.split('|') : f.strList('pos_att_type');
  return parts.map((x) => x.trim().toLowerCase()).filter((x) => x !== '');
}

// As PretrainedConfig: id2label decides the label count (its JSON keys become numbers); without it,
// `num_labels` (default 2) gives LABEL_0..LABEL_{n-1}. label2id, when absent, mirrors id2label.
function readLabels(raw: Record<string, unknown>, f: FieldReader, file: string) {
  const id2label: Record<number, string> = {};
  const given = raw.id2label;
  if (given !== undefined && given !== null) {
    if (typeof given !== 'object' || Array.isArray(given)) f.fail('id2label', 'an object of label names');
    for (const [k, name] of Object.entries(given)) {
      const id = Number(k);
      if (k.trim() === '' || !Number.isSafeInteger(id) || id < 0) {
        throw new Error(`${file}: field 'id2label' has key ${JSON.stringify(k)}, which is not a label index`);
      }
      if (typeof name !== 'string') throw new Error(`${file}: field 'id2label.${k}' must be a string, got ${JSON.stringify(name)}`);
      id2label[id] = name;
    }
    f.int('num_labels', 0, 0); // id2label wins, but a num_labels field must still be an integer
  } else {
    const n = f.int('num_labels', 2, 0);
    for (let i = 0; i < n; i++) id2label[i] = `LABEL_${i}`;
  }

  let label2id: Record<string, number> = {};
  const l2i = raw.label2id;
  if (l2i !== undefined && l2i !== null) {
    if (typeof l2i !== 'object' || Array.isArray(l2i)) f.fail('label2id', 'an object of label indices');
    for (const [name, id] of Object.entries(l2i)) {
      if (typeof id !== 'number' || !Number.isSafeInteger(id)) {
        throw new Error(`${file}: field 'label2id.${name}' must be an integer, got ${JSON.stringify(id)}`);
      }
      // defineProperty: a label named "__proto__" is a label, not the object's prototype.
      Object.defineProperty(label2id, name, { value: id, enumerable: true, writable: true, configurable: true });
    }
  } else {
    label2id = Object.fromEntries(Object.entries(id2label).map(([id, name]) => [name, Number(id)]));
  }
  return { id2label, label2id };
}

/** Reads and parses a checkpoint's config.json (`ref`: a folder path or URL, or files). */
export async function loadDebertaConfig(ref: string | ModelFiles): Promise<DebertaConfig> {
  const files = await openFiles(ref);
  return parseDebertaConfig(await readJson(files, 'config.json'), files.path('config.json'));
}

/** The JSON object to save: every field of `raw` (as written there unless its value changed), plus
 *  typed fields that were absent from `raw` and no longer hold their default. */
export function debertaConfigToJson(config: DebertaConfig, file = 'config.json'): Record<string, unknown> {
  const nLabels = Object.keys(config.id2label).length;
  if (config.num_labels !== nLabels) {
    throw new Error(`${file}: field 'num_labels' (${config.num_labels}) disagrees with 'id2label' (${nLabels} labels); update id2label/label2id too`);
  }
  const asRead = parseDebertaConfig(config.raw, file) as unknown as Record<string, unknown>;
  const defaults = parseDebertaConfig(
    { model_type: config.model_type, hidden_size: config.hidden_size, num_attention_heads: config.num_attention_heads },
    file,
  ) as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = structuredClone(config.raw);
  for (const [key, value] of Object.entries(config)) {
    if (key === 'raw' || value === undefined) continue;
    const inRaw = key in config.raw;
    if (inRaw && sameJson(value, asRead[key])) continue; // unchanged: keep the file's own spelling
    // num_labels is implied by id2label (transformers does not save it); keep it only if it was there.
    if (key === 'num_labels' && !inRaw) continue;
    if (inRaw || !sameJson(value, defaults[key])) out[key] = structuredClone(value);
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
