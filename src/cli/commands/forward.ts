// `deberta forward`: run a checkpoint on tensors from a safetensors file and write its outputs,
// named as transformers names them, so anyone can check us against PyTorch.
import type { Command } from 'commander';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.ts';
import { loadModel } from '../../models/auto.ts';
import { tensor, type Tensor } from '../../tensor.ts';
import { checkWritableFile } from '../../train/checkpoint.ts';
import { checkRevision, localCheckpoint, REVISION_HELP } from '../hub-args.ts';
import { intArg, makeFolderFor } from '../flags.ts';
import { toSnake } from '../../util/options.ts';

export function register(program: Command): void {
  program
    .command('forward')
    .description('run a checkpoint on input.* tensors and write its float32 outputs to a safetensors file')
    .requiredOption('--model <dir|id>', 'Hugging Face checkpoint folder (config.json + weights), or Hub id')
    .option('--revision <rev>', REVISION_HELP)
    .requiredOption('--inputs <file>', 'safetensors with input.input_ids and optionally input.attention_mask, input.token_type_ids (int64 or int32)')
    .requiredOption('--out <file>', 'where to write last_hidden_state / logits / start_logits / end_logits ...')
    .option('--hidden-states', 'also write hidden_states.<i> (embeddings output, then each layer)')
    .option('--attentions', 'also write attentions.<i> (attention probabilities per layer)')
    .option('--threads <n>', 'intra-op threads (default: all cores)', intArg('--threads', 1))
    .action(async (opts: { model: string; revision?: string; inputs: string; out: string; hiddenStates?: boolean; attentions?: boolean; threads?: number }) => {
      checkWritableFile(opts.out, '--out'); // before anything is downloaded
      checkRevision(opts.revision, [opts.model]);
      opts.model = await localCheckpoint(opts.model, { revision: opts.revision, parts: 'model' });
      const { tensors } = readSafetensors(opts.inputs);
      const get = (k: string): Tensor | undefined => tensors.get(`input.${k}`);
      const ids = get('input_ids');
      if (!ids) throw new Error(`${opts.inputs}: missing tensor 'input.input_ids'`);
      for (const k of ['input_ids', 'attention_mask', 'token_type_ids']) {
        const t = get(k);
        if (t && t.dtype !== 'int64' && t.dtype !== 'int32') throw new Error(`${opts.inputs}: tensor 'input.${k}' has dtype ${t.dtype}; expected int64 or int32`);
      }
      const model = await loadModel(opts.model, 'auto', { hiddenStates: opts.hiddenStates, attentions: opts.attentions, threads: opts.threads });
      const asInput = (t: Tensor | undefined) => t && { data: t.data as BigInt64Array | Int32Array, dims: t.dims };
      const out = await model({ inputIds: asInput(ids)!, attentionMask: asInput(get('attention_mask')), tokenTypeIds: asInput(get('token_type_ids')) });
      const written = new Map<string, Tensor>();
      for (const [k, v] of Object.entries(out)) written.set(toSnake(k), tensor('float32', v.dims, v.data));
      makeFolderFor(opts.out, '--out');
      writeSafetensors(opts.out, written);
      await model.dispose();
      process.stderr.write(`wrote ${[...written.keys()].join(', ')} to ${opts.out}\n`);
    });
}
