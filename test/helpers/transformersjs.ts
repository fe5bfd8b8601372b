// Sequence-classification logits from transformers.js itself, on a model folder exported for it
// (`<root>/<name>/onnx/model.onnx` and `model_int8.onnx`), local files only.
import type { Tensor } from '../../src/tensor.ts';

export async function transformersJsLogits(root: string, name: string, feeds: Record<string, Tensor>): Promise<Record<'fp32' | 'int8', Float32Array>> {
  const { AutoModelForSequenceClassification, Tensor: TjsTensor, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = root;
  const tjsFeeds = () => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new TjsTensor('int64', v.data as BigInt64Array, v.dims)]));
  const out = {} as Record<'fp32' | 'int8', Float32Array>;
  for (const dtype of ['fp32', 'int8'] as const) {
    const model = await AutoModelForSequenceClassification.from_pretrained(name, { dtype });
    out[dtype] = (await model(tjsFeeds())).logits.data as Float32Array;
    await model.dispose();
  }
  return out;
}
