// `deberta export`: a checkpoint as a standalone ONNX model in the layout of transformers' ONNX exports
// (input_ids / attention_mask / token_type_ids in, logits / last_hidden_state / start_logits / end_logits
// out, dynamic batch_size and sequence_length), for ONNX Runtime anywhere, Triton and transformers.js.
import type { Command } from 'commander';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadCheckpointTensors } from '../../io/checkpoint.ts';
import { buildModelGraph } from '../../models/create.ts';
import { readDebertaConfig } from '../../models/deberta/config-file.ts';
import type { HeadKind } from '../../models/deberta/modeling.ts';
import { emitOnnx, OPSET } from '../../runtime/onnx-emit.ts';
import { quantizeGraphForInference } from '../../runtime/quantize.ts';
import { checkWritableFile } from '../../train/checkpoint.ts';
import { checkRevision, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { makeFolderFor, parseHead } from '../flags.ts';

/** Optimum's names for the dynamic axes. */
const DIM_NAMES = { batch: 'batch_size', sequence: 'sequence_length', choices: 'num_choices' };

export interface ExportOptions {
  model: string;
  out: string;
  head?: HeadKind | 'auto';
  quantize?: 'int8';
  /** 'fp16': float16 weights and activations, float32 outputs (transformers.js' `model_fp16.onnx`); default fp32. */
  dtype?: 'fp32' | 'fp16';
  /** Relative attention by shifted rows instead of an index (what this library runs on GPUs; see BuildOptions). */
  relativeShift?: boolean;
  /** The int8 form (see src/runtime/quantize.ts); default standard ONNX ops. */
  quantizeOp?: 'MatMulInteger' | 'DynamicQuantizeMatMul';
  /** Weight bytes above which weights go to `<out>_data` (default 1.5 GiB, under protobuf's 2 GB limit). */
  externalAbove?: number;
}

export interface ExportResult {
  head: HeadKind;
  inputs: string[];
  outputs: string[];
  /** Files written: the model, then its external data file when there is one. */
  files: string[];
  bytes: number;
  quantizedWeights: number;
}

export async function exportModel(o: ExportOptions): Promise<ExportResult> {
  checkWritableFile(o.out, '--out');
  checkDtype(o.dtype, o.quantize);
  const config = readDebertaConfig(o.model);
  const { tensors, files } = await loadCheckpointTensors(o.model);
  const file = files.length === 1 ? files[0]! : `${o.model} (${files.length} shards)`;
  const built = buildModelGraph(config, tensors, o.head ?? 'auto', {
    file, relativeShift: o.relativeShift, ...(o.dtype === 'fp16' ? { dtype: 'float16' as const } : {}),
  });
  let { graph, outputs } = built;
  let quantizedWeights = 0;
  if (o.quantize === 'int8') {
    const q = quantizeGraphForInference(graph, outputs, { op: o.quantizeOp });
    ({ graph, outputs } = q);
    quantizedWeights = q.quantized.length;
  } else if (o.quantize !== undefined) {
    throw new Error(`--quantize: unsupported '${String(o.quantize)}' (expected int8)`);
  }
  const dataFile = `${basename(o.out)}_data`;
  const emitted = emitOnnx(graph, {
    outputs, name: config.architectures[0] ?? 'deberta', externalLocation: dataFile, externalAbove: o.externalAbove, dimNames: DIM_NAMES,
  });
  makeFolderFor(o.out, '--out');
  writeFileSync(o.out, emitted.model);
  const written = [o.out];
  let bytes = emitted.model.length;
  if (emitted.externalData) {
    const path = join(dirname(o.out), dataFile);
    const fd = openSync(path, 'w');
    try {
      for (const chunk of emitted.externalData.chunks) writeSync(fd, chunk);
    } finally {
      closeSync(fd);
    }
    written.push(path);
    bytes += emitted.externalData.size;
  }
  return { head: built.head, inputs: emitted.inputNames, outputs: emitted.outputNames, files: written, bytes, quantizedWeights };
}

/** --dtype: fp32 or fp16, and not fp16 with int8 (whose products take float32 activations). */
function checkDtype(dtype: string | undefined, quantize: string | undefined): void {
  if (dtype !== undefined && dtype !== 'fp32' && dtype !== 'fp16') throw new Error(`--dtype: unsupported '${dtype}' (expected fp32 or fp16)`);
  if (dtype === 'fp16' && quantize !== undefined) throw new Error(`--dtype fp16 and --quantize ${quantize} exclude each other: int8 products take float32 activations`);
}

export function register(program: Command): void {
  program.command('export')
    .description(`write a checkpoint as a standalone ONNX model (opset ${OPSET}, transformers' input/output names, dynamic batch and sequence axes)`)
    .requiredOption('--model <dir|id>', 'Hugging Face checkpoint folder (config.json + weights), or Hub id')
    .option('--revision <rev>', REVISION_HELP)
    .requiredOption('--out <file>', 'the .onnx file to write (weights over 1.5 GiB go to <file>_data beside it)')
    .option('--head <name>', 'model head (base, masked-lm, sequence-classification, token-classification, question-answering, multiple-choice); default: from the config')
    .option('--quantize <type>', 'int8: dynamic quantisation of the weight matrices (int8 weights, uint8 activations)')
    .option('--dtype <type>', 'fp32, or fp16: float16 weights and activations with float32 outputs (transformers.js: onnx/model_fp16.onnx), for GPUs with shader-f16', 'fp32')
    .option('--relative-shift', 'relative attention by shifted rows instead of a [batch, heads, n, n] index: faster on GPUs, where ONNX Runtime would build the index on the CPU every call')
    .action(async (opts: { model: string; revision?: string; out: string; head?: string; quantize?: string; dtype?: string; relativeShift?: boolean }) => {
      // Flags and the output path are checked before anything is downloaded.
      if (opts.quantize !== undefined && opts.quantize !== 'int8') throw new Error(`--quantize: unsupported '${opts.quantize}' (expected int8)`);
      checkDtype(opts.dtype, opts.quantize);
      const head = opts.head === undefined ? 'auto' : parseHead(opts.head, '--head');
      checkWritableFile(opts.out, '--out');
      checkRevision(opts.revision, [opts.model]);
      opts.model = await localCheckpoint(opts.model, { revision: opts.revision, parts: 'model' });
      const r = await exportModel({
        model: opts.model, out: opts.out, head,
        quantize: opts.quantize as 'int8' | undefined, dtype: opts.dtype as 'fp32' | 'fp16', relativeShift: opts.relativeShift,
      });
      const mb = (r.bytes / 2 ** 20).toFixed(1);
      const q = r.quantizedWeights ? `, ${r.quantizedWeights} weight matrices in int8` : opts.dtype === 'fp16' ? ', float16' : '';
      process.stdout.write(`${r.files.join(' + ')}: ${r.head} model, ${mb} MiB${q}; inputs ${r.inputs.join(', ')}; outputs ${r.outputs.join(', ')}\n`);
    });
}
