// `deberta grad`: one forward and backward pass (dropout off) on a batch from a safetensors file; writes
// the loss and every parameter's gradient, so anyone can check our gradients against PyTorch's.
import type { Command } from 'commander';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.ts';
import { tensor, toFloat32, type Tensor } from '../../tensor.ts';
import { loadGradientModel, type TrainBatch } from '../../train/step.ts';
import { checkWritableFile } from '../../train/checkpoint.ts';
import { checkRange } from '../../models/inputs.ts';
import { checkRevision, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { intArg, makeFolderFor } from '../flags.ts';

export interface GradOptions { model: string; revision?: string; inputs: string; out: string; float64?: boolean; threads?: number }

/** Runs the pass and writes `loss` and `grad.<parameter name>` (float32); returns the loss. */
export async function gradCommand(o: GradOptions): Promise<number> {
  checkWritableFile(o.out, '--out');
  const { tensors } = readSafetensors(o.inputs);
  const get = (k: string): Tensor | undefined => tensors.get(k);
  const ids = get('input.input_ids');
  if (!ids) throw new Error(`${o.inputs}: missing tensor 'input.input_ids'`);
  const mask = get('input.attention_mask') ?? tensor('int64', ids.dims, new BigInt64Array(ids.data.length).fill(1n));
  const batch: TrainBatch = {
    inputIds: ids, attentionMask: mask, tokenTypeIds: get('input.token_type_ids'),
    labels: get('label.labels'), startPositions: get('label.start_positions'), endPositions: get('label.end_positions'),
  };
  if (!batch.labels && !batch.startPositions) {
    throw new Error(`${o.inputs}: no labels (expected 'label.labels', or 'label.start_positions' and 'label.end_positions')`);
  }
  const model = await loadGradientModel(o.model, 'auto', { dtype: o.float64 ? 'float64' : 'float32', threads: o.threads });
  try {
    // Ids out of range would reach ONNX Runtime as a Gather error on a graph node; name the tensor instead.
    checkRange(ids, `${o.inputs}: input.input_ids`, model.config.vocab_size, 'vocab_size in config.json');
    if (batch.tokenTypeIds && model.config.type_vocab_size > 0) {
      checkRange(batch.tokenTypeIds, `${o.inputs}: input.token_type_ids`, model.config.type_vocab_size, 'type_vocab_size in config.json');
    }
    const { loss, grads } = await model.computeGradients(batch);
    const out = new Map<string, Tensor>([['loss', tensor('float32', [1], Float32Array.of(loss))]]);
    for (const [name, g] of grads) out.set(`grad.${name}`, tensor('float32', g.dims, toFloat32(g)));
    makeFolderFor(o.out, '--out');
    writeSafetensors(o.out, out);
    return loss;
  } finally {
    await model.dispose();
  }
}

export function register(program: Command): void {
  program
    .command('grad')
    .description('one forward + backward pass (dropout off) on input.* and label.* tensors; writes loss and grad.<parameter> (float32)')
    .requiredOption('--model <dir|id>', 'Hugging Face checkpoint folder (config.json + weights), or Hub id; the head comes from its architectures')
    .option('--revision <rev>', REVISION_HELP)
    .requiredOption('--inputs <file>', "safetensors with input.input_ids, input.attention_mask, input.token_type_ids and label.labels (or label.start_positions, label.end_positions)")
    .requiredOption('--out <file>', 'where to write loss and grad.<parameter name>')
    .option('--float64', 'compute in float64 (written as float32)')
    .option('--threads <n>', 'intra-op threads (default: all cores)', intArg('--threads', 1))
    .action(async (opts: GradOptions) => {
      checkWritableFile(opts.out, '--out'); // before anything is downloaded
      checkRevision(opts.revision, [opts.model]);
      opts.model = await localCheckpoint(opts.model, { revision: opts.revision, parts: 'model' });
      const loss = await gradCommand(opts);
      process.stderr.write(`loss ${loss}; wrote loss and gradients to ${opts.out}\n`);
    });
}
