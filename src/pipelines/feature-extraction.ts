// feature-extraction: the encoder's last hidden states, pooled into one vector per text (the mean over the
// text's tokens, special tokens included, as sentence-transformers does, or the [CLS] vector), optionally
// scaled to unit length; or, with pooling 'none', one vector per token as transformers' pipeline returns.
import type { ModelFiles } from '../io/files.ts';
import { checkText, loadForTask, makePipeline, output, runRows, tokenOf,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { readOptions, RUN_OPTIONS } from './options.ts';

export type Pooling = 'mean' | 'cls' | 'none';
export const POOLINGS: Pooling[] = ['mean', 'cls', 'none'];

export interface FeatureExtractionCallOptions extends RunOptions {
  /** Default 'mean'. */
  pooling?: Pooling;
  /** Scale each vector to unit L2 norm (default false). */
  normalize?: boolean;
}
type PooledOptions = FeatureExtractionCallOptions & { pooling?: 'mean' | 'cls' };
type TokenOptions = FeatureExtractionCallOptions & { pooling: 'none' };

export const FEATURE_EXTRACTION_OPTIONS = [...RUN_OPTIONS, 'pooling', 'normalize'] as const;

export interface FeatureExtractionPipeline extends PipelineBase {
  (text: string, options?: PooledOptions): Promise<number[]>;
  (texts: string[], options?: PooledOptions): Promise<number[][]>;
  (text: string, options: TokenOptions): Promise<number[][]>;
  (texts: string[], options: TokenOptions): Promise<number[][][]>;
}

export async function featureExtractionPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<FeatureExtractionPipeline> {
  const loaded = await loadForTask('feature-extraction', model, 'base', options);
  const fn = async (input: string | string[], opts?: FeatureExtractionCallOptions) => {
    const texts = Array.isArray(input) ? input : [input];
    const out = await embed(loaded, texts, readOptions('feature-extraction', opts, FEATURE_EXTRACTION_OPTIONS));
    return Array.isArray(input) ? out : out[0]!;
  };
  return makePipeline(loaded, fn) as FeatureExtractionPipeline;
}

async function embed(p: Loaded, texts: string[], o: FeatureExtractionCallOptions): Promise<(number[] | number[][])[]> {
  const pooling = o.pooling ?? 'mean';
  if (!POOLINGS.includes(pooling)) throw new Error(`feature-extraction: unknown pooling ${JSON.stringify(pooling)} (expected one of ${POOLINGS.join(', ')})`);
  texts.forEach((t, i) => checkText(t, `feature-extraction: input ${i}`));
  const enc = p.tokenizer.encodeBatch(texts.map((t) => [t, null]), { truncation: true, maxLength: p.maxLength });
  const rows = enc.inputIds.map((ids, i) => ({ ids, typeIds: enc.tokenTypeIds[i]! }));
  return runRows(p.model, rows, p.tokenizer.padTokenId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress }, (out, b, i) => {
    const hidden = output(out, 'lastHiddenState');
    const n = rows[i]!.ids.length;
    const finish = (v: number[]) => (o.normalize ? unit(v) : v);
    if (pooling === 'none') return Array.from({ length: n }, (_, t) => finish(Array.from(tokenOf(hidden, b, t))));
    if (pooling === 'cls') return finish(Array.from(tokenOf(hidden, b, 0)));
    const sum = new Float64Array(hidden.dims[2]!);
    for (let t = 0; t < n; t++) tokenOf(hidden, b, t).forEach((v, k) => { sum[k] += v; });
    return finish(Array.from(sum, (v) => v / n));
  });
}

function unit(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}
