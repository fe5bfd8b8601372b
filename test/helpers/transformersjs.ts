// Sequence-classification logits from transformers.js itself, on a model folder exported for it
// (`<root>/<name>/onnx/model.onnx`, `model_int8.onnx`, `model_fp16.onnx`: the dtypes asked for), local files only.
import type { Tensor } from '../../src/tensor.ts';

type TjsDtype = 'fp32' | 'int8' | 'fp16';

export async function transformersJsLogits<D extends TjsDtype = 'fp32' | 'int8'>(root: string, name: string, feeds: Record<string, Tensor>,
  dtypes: readonly D[] = ['fp32', 'int8'] as D[]): Promise<Record<D, Float32Array>> {
  const { AutoModelForSequenceClassification, Tensor: TjsTensor, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = root;
  const tjsFeeds = () => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new TjsTensor('int64', v.data as BigInt64Array, v.dims)]));
  const out = {} as Record<D, Float32Array>;
  for (const dtype of dtypes) {
    const model = await AutoModelForSequenceClassification.from_pretrained(name, { dtype });
    out[dtype] = (await model(tjsFeeds())).logits.data as Float32Array;
    await model.dispose();
  }
  return out;
}
