// The fixture checkpoints (test/fixtures/models) and the inputs their references were computed on.
import { join } from 'node:path';
import type { ModelInputs } from '../../src/models/auto.ts';
import type { Tensor } from '../../src/tensor.ts';

export const FIXTURE_MODELS = join(import.meta.dirname, '..', 'fixtures', 'models');

/** The model inputs a fixture's expected.safetensors records (`input.*`). */
export function fixtureInputs(tensors: Map<string, Tensor>): ModelInputs {
  const input = (k: string) => tensors.get(`input.${k}`);
  const ids = input('input_ids')!;
  const other = (k: string) => input(k) && { data: input(k)!.data as BigInt64Array, dims: ids.dims };
  return { inputIds: { data: ids.data as BigInt64Array, dims: ids.dims }, attentionMask: other('attention_mask'), tokenTypeIds: other('token_type_ids') };
}
