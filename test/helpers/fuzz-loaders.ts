// The fuzz properties of the checkpoint loaders, run by test/fuzz-loaders.test.ts in child processes
// (test/helpers/fuzz-child.ts). Each call gives a result or an Error whose
// message names the file; the run is seeded and bounded in time.
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { parseSafetensors } from '../../src/io/safetensors-format.ts';
import { parseTorchCheckpoint } from '../../src/io/torch-pickle.ts';
import { parseDebertaConfig } from '../../src/models/deberta/config.ts';
import { numel, type Tensor } from '../../src/tensor.ts';
import { Pickle } from './torch-zip.ts';


/**
 * Runs `fn`; an exception must be an Error naming `label` (and, when `strict`, with no NaN, undefined or
 * function source in its message). Returns the result, or undefined after a good error.
 */
export function resultOrNamedError<T>(label: string, fn: () => T, strict = true): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof Error)) throw new Error(`threw a non-Error: ${String(err)}`);
    if (!err.message.includes(label)) throw new Error(`error does not name ${label}: ${err.message}`);
    // A message built from a value that should never have got that far.
    if (strict && /\bNaN\b|\bundefined\b|\[native code\]|\[object Object\]/.test(err.message)) throw new Error(`garbled error: ${err.message}`);
    return undefined;
  }
}

/** Reads every tensor's data (materialising lazy ones) and checks it fills the dims. */
export function touchAll(tensors: Map<string, Tensor>): void {
  for (const [name, t] of tensors) {
    if (t.data.length !== numel(t.dims)) throw new Error(`tensor '${name}': ${t.data.length} values for dims [${t.dims}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// safetensors

const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'toString', 'constructor', '__proto__', 'F8', '', 'f32'];
const smallInt = fc.oneof(fc.integer({ min: -4, max: 64 }), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53, 2 ** 60, -(2 ** 40), 1e300, 0.5, NaN));
const jsonish = fc.oneof(smallInt, fc.string({ maxLength: 4 }), fc.constant(null), fc.boolean());
const shape = fc.oneof({ weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }) }, fc.array(jsonish, { maxLength: 4 }), jsonish);
const offsets = fc.oneof({ weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 })) }, fc.array(jsonish, { maxLength: 3 }), jsonish);
const entry = fc.oneof(
  { weight: 6, arbitrary: fc.record({ dtype: fc.oneof(fc.constantFrom(...DTYPES), jsonish), shape, data_offsets: offsets }) },
  fc.jsonValue({ maxDepth: 3 }),
);
const header = fc.oneof(
  { weight: 6, arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__metadata__', '__proto__', 'toString')), entry, { maxKeys: 5 }) },
  fc.jsonValue({ maxDepth: 4 }),
);

function safetensorsBytes(h: unknown, body: Uint8Array, lengthDelta: number): Uint8Array {
  const json = Buffer.from(typeof h === 'string' ? h : JSON.stringify(h) ?? 'null');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Math.max(0, json.length + lengthDelta)));
  return Buffer.concat([prefix, json, body]);
}

export const safetensorsHeaders = fc.property(
  header, fc.uint8Array({ maxLength: 256 }), fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, fc.integer({ min: -20, max: 20 }), fc.constant(2 ** 40)),
  (h, body, delta) => {
    const r = resultOrNamedError('FUZZ.safetensors', () => parseSafetensors(safetensorsBytes(h, body, delta), 'FUZZ.safetensors'));
    if (r) touchAll(r.tensors);
  },
);

/** A valid file, then bytes changed, cut or added. */
const VALID_ST = safetensorsBytes({
  __metadata__: { format: 'pt' },
  a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
  b: { dtype: 'I64', shape: [2], data_offsets: [24, 40] },
  c: { dtype: 'F16', shape: [0], data_offsets: [40, 40] },
}, new Uint8Array(40).map((_, i) => i), 0);

const mutation = (n: number) => fc.record({
  flips: fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
  cut: fc.oneof({ weight: 3, arbitrary: fc.constant(n) }, fc.nat({ max: n })),
  extra: fc.uint8Array({ maxLength: 16 }),
});
function mutate(bytes: Uint8Array, m: { flips: [number, number][]; cut: number; extra: Uint8Array }): Uint8Array {
  const b = new Uint8Array(bytes); // a copy (a Buffer's slice would share the original's memory)
  for (const [at, v] of m.flips) b[at] = v;
  return Buffer.concat([b.subarray(0, m.cut), m.extra]);
}

export const safetensorsMutations = fc.property(mutation(VALID_ST.length), (m) => {
  const r = resultOrNamedError('FUZZ.safetensors', () => parseSafetensors(mutate(VALID_ST, m), 'FUZZ.safetensors'));
  if (r) touchAll(r.tensors);
});

// ---------------------------------------------------------------------------------------------
// torch pickles and zips

const STORAGE_TYPES = ['FloatStorage', 'HalfStorage', 'LongStorage', 'BoolStorage', 'ByteStorage', 'toString', 'Storage'];
const viewInt = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }) }, fc.constantFrom(-1, -96, 2 ** 31, 2 ** 40, 2 ** 53));
const tensorSpec = fc.record({
  name: fc.string({ maxLength: 5 }),
  type: fc.constantFrom(...STORAGE_TYPES),
  key: fc.constantFrom('0', '1', '2', 'x'),
  numel: viewInt,
  offset: viewInt,
  size: fc.array(viewInt, { maxLength: 3 }),
  stride: fc.array(viewInt, { maxLength: 3 }),
});

/** A state dict of random views over storages; the archive holds storages of random sizes (some missing). */
export const torchStateDicts = fc.property(
  fc.array(tensorSpec, { maxLength: 5 }),
  fc.dictionary(fc.constantFrom('0', '1', '2', 'x', 'junk'), fc.uint8Array({ maxLength: 64 }), { maxKeys: 5 }),
  fc.constantFrom(0, 6) as fc.Arbitrary<0 | 6>,
  (specs, storages, level) => {
    const p = new Pickle().proto().op(0x7d, 0x28);
    for (const s of specs) p.str(s.name).tensor(s.type, s.key, s.numel, s.offset, s.size, s.stride);
    p.op(0x75, 0x2e);
    const files: Record<string, Uint8Array> = { 'archive/data.pkl': p.bytes() };
    for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = v;
    const r = resultOrNamedError('FUZZ.bin', () => parseTorchCheckpoint(zipSync(files, { level }), 'FUZZ.bin'));
    if (r) resultOrNamedError('FUZZ.bin', () => touchAll(r));
  },
);

// Opcodes with plausible arguments, in any order: the unpickler must refuse what it cannot do, by name.
const opcode = fc.oneof(
  fc.constantFrom([0x28], [0x7d], [0x5d], [0x29], [0x74], [0x85], [0x86], [0x87], [0x6c], [0x64], [0x4e], [0x88], [0x89],
    [0x2e], [0x52], [0x62], [0x73], [0x75], [0x61], [0x65], [0x30], [0x31], [0x32], [0x94], [0x51], [0x93], [0x69], [0xff]),
  fc.tuple(fc.constantFrom(0x4b, 0x71, 0x68, 0x80, 0x8c, 0x55, 0x43), fc.integer({ min: 0, max: 255 })).map(([o, a]) => [o, a]),
  fc.tuple(fc.constantFrom(0x4a, 0x72, 0x6a, 0x58, 0x54, 0x42, 0x8b), fc.integer({ min: 0, max: 2 ** 32 - 1 })).map(([o, a]) => [o, a & 255, (a >>> 8) & 255, (a >>> 16) & 255, a >>> 24]),
  fc.tuple(fc.constantFrom(0x8a), fc.integer({ min: 0, max: 12 })).map(([o, n]) => [o, n, ...new Array<number>(n).fill(0xab)]),
  fc.string({ maxLength: 8 }).map((s) => [...new Pickle().str(s).bytes()]),
  fc.constantFrom(['collections', 'OrderedDict'], ['torch._utils', '_rebuild_tensor_v2'], ['torch', 'FloatStorage'], ['os', 'system'], ['torch', 'toString'])
    .map(([m, n]) => [...new Pickle().global(m!, n!).bytes()]),
);

export const pickleStreams = fc.property(fc.array(opcode, { maxLength: 60 }), fc.boolean(), (ops, legacy) => {
  const pkl = Uint8Array.from([0x80, 2, ...ops.flat(), 0x2e]);
  const bytes = legacy
    ? Uint8Array.from([0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 2, 0x4d, 0xe9, 0x03, 0x2e, 0x80, 2, 0x7d, 0x2e, ...pkl])
    : zipSync({ 'archive/data.pkl': pkl }, { level: 0 });
  const r = resultOrNamedError('FUZZ.bin', () => parseTorchCheckpoint(bytes, 'FUZZ.bin'));
  if (r) resultOrNamedError('FUZZ.bin', () => touchAll(r));
});

/** A valid zip checkpoint with one view, then bytes changed, cut or added (zip structures included). */
const VALID_BIN = (() => {
  const p = new Pickle().proto().op(0x7d, 0x28).str('w').tensor('FloatStorage', '0', 6, 1, [2, 2], [2, 1]).str('b').tensor('LongStorage', '1', 2, 0, [2], [1]).op(0x75, 0x2e);
  return zipSync({ 'archive/data.pkl': p.bytes(), 'archive/data/0': new Uint8Array(24).fill(7), 'archive/data/1': new Uint8Array(16).fill(1), 'archive/version': Buffer.from('3\n') }, { level: 6 });
})();

export const zipMutations = fc.property(mutation(VALID_BIN.length), (m) => {
  const r = resultOrNamedError('FUZZ.bin', () => parseTorchCheckpoint(mutate(VALID_BIN, m), 'FUZZ.bin'));
  if (r) resultOrNamedError('FUZZ.bin', () => touchAll(r));
});

// ---------------------------------------------------------------------------------------------
// config.json

const CONFIG_KEYS = ['model_type', 'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size',
  'hidden_dropout_prob', 'max_position_embeddings', 'type_vocab_size', 'relative_attention', 'max_relative_positions', 'pad_token_id',
  'pos_att_type', 'position_buckets', 'norm_rel_ebd', 'id2label', 'label2id', 'num_labels', 'problem_type', 'architectures',
  'attention_head_size', 'conv_kernel_size', '__proto__', 'constructor', 'toString'];
const configValue = fc.oneof(jsonish, fc.constantFrom('deberta', 'deberta-v2', 'p2c|c2p', 'layer_norm'), fc.jsonValue({ maxDepth: 3 }));

export const configs = fc.property(
  fc.oneof({ weight: 5, arbitrary: fc.dictionary(fc.constantFrom(...CONFIG_KEYS), configValue, { maxKeys: 8 }) }, fc.jsonValue({ maxDepth: 5 })),
  fc.boolean(),
  (cfg, typed) => {
    const json = typed && typeof cfg === 'object' && cfg !== null && !Array.isArray(cfg) ? { model_type: 'deberta-v2', ...cfg } : cfg;
    const c = resultOrNamedError('FUZZ/config.json', () => parseDebertaConfig(json, 'FUZZ/config.json'));
    if (c && (!Number.isSafeInteger(c.vocab_size) || c.hidden_size % c.num_attention_heads !== 0)) throw new Error('accepted a config with bad sizes');
  },
);

export const ALL = { safetensorsHeaders, safetensorsMutations, torchStateDicts, pickleStreams, zipMutations, configs };
