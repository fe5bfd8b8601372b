// feature-extraction: the encoder's last hidden states, pooled into one vector per text (the mean over the
// text's tokens, special tokens included, as sentence-transformers does, or the [CLS] vector), optionally
// scaled to unit length; or, with pooling 'none', one vector per token.
// Called as transformers.js calls it, it answers as transformers.js does: a tensor (`dims`, flat `data`,
// `tolist()`) with the batch first, pooling 'none' by default, and for 'none' every text padded to the
// longest in the call (the padding positions' states included). `run` gives plain arrays, one per text,
// pooling 'mean' by default: what the server and the command line return.
import type { EitherCase } from '../util/options.ts';
import type { ModelFiles } from '../io/files.ts';
import { checkText, loadForTask, makePipeline, output, runRows, tokenOf,
  type Loaded, type PipelineBase, type PipelineOptions, type RunOptions } from './base.ts';
import { readTaskOptions, type Pooling } from './tasks.ts';
import { OutputTensor } from '../tensor.ts';

export { POOLINGS, type Pooling } from './tasks.ts';

export interface FeatureExtractionCallOptions extends RunOptions {
  /** Called: default 'none'; `run`: default 'mean'. */
  pooling?: Pooling;
  /** Scale each vector to unit L2 norm (default false). */
  normalize?: boolean;
}
type PooledOptions = FeatureExtractionCallOptions & { pooling: Exclude<Pooling, 'none'> };
type TokenOptions = FeatureExtractionCallOptions & { pooling?: 'none' };

export interface FeatureExtractionPipeline extends PipelineBase {
  /** [texts, tokens, hidden] for pooling 'none' (the default); [texts, hidden] pooled. One text counts as a batch of one. */
  (input: string | string[], options?: EitherCase<FeatureExtractionCallOptions>): Promise<OutputTensor>;
  /** One vector per text (pooled; 'mean' by default), or with pooling 'none' one vector per token of each text. */
  run(texts: string[], options?: PooledOptions | Omit<FeatureExtractionCallOptions, 'pooling'>): Promise<number[][]>;
  run(texts: string[], options: TokenOptions & { pooling: 'none' }): Promise<number[][][]>;
}

export async function featureExtractionPipeline(model: string | ModelFiles, options: PipelineOptions = {}): Promise<FeatureExtractionPipeline> {
  const loaded = await loadForTask('feature-extraction', model, 'base', options);
  const read = (opts: unknown) => readTaskOptions<FeatureExtractionCallOptions>('feature-extraction', opts);
  const run = (texts: string[], opts?: FeatureExtractionCallOptions) => {
    if (!Array.isArray(texts)) throw new TypeError('feature-extraction: run takes a list of texts');
    return embed(loaded, texts, { pooling: 'mean', ...read(opts) });
  };
  const fn = async (input: string | string[], opts?: FeatureExtractionCallOptions) => {
    const texts = Array.isArray(input) ? input : [input];
    const o = { pooling: 'none' as Pooling, ...read(opts) };
    if (o.pooling !== 'none') {
      const vectors = (await embed(loaded, texts, o)) as number[][];
      return new OutputTensor(Float32Array.from(vectors.flat()), [vectors.length, vectors[0]?.length ?? 0]);
    }
    return paddedStates(loaded, texts, o);
  };
  return Object.assign(makePipeline(loaded, fn), { run }) as FeatureExtractionPipeline;
}

/** Every text's token states, all in one batch padded to the longest (as transformers.js runs it). */
async function paddedStates(p: Loaded, texts: string[], o: FeatureExtractionCallOptions): Promise<OutputTensor> {
  texts.forEach((t, i) => checkText(t, `feature-extraction: input ${i}`));
  const enc = p.tokenizer.encodeBatch(texts.map((t) => [t, null]), { truncation: true, maxLength: p.maxLength });
  const rows = enc.inputIds.map((ids, i) => ({ ids, typeIds: enc.tokenTypeIds[i]! }));
  let dims = [texts.length, 0, 0];
  const per = await runRows(p.model, rows, p.tokenizer.padTokenId, { batchSize: Math.max(1, rows.length), onProgress: o.onProgress }, (out, b) => {
    const hidden = output(out, 'lastHiddenState');
    dims = [texts.length, hidden.dims[1]!, hidden.dims[2]!];
    return Array.from({ length: dims[1]! }, (_, t) => (o.normalize ? unit(Array.from(tokenOf(hidden, b, t))) : Array.from(tokenOf(hidden, b, t))));
  });
  return new OutputTensor(Float32Array.from(per.flat(2)), dims);
}

async function embed(p: Loaded, texts: string[], o: FeatureExtractionCallOptions): Promise<(number[] | number[][])[]> {
  const pooling = o.pooling ?? 'mean';
  texts.forEach((t, i) => checkText(t, `feature-extraction: input ${i}`));
  const enc = p.tokenizer.encodeBatch(texts.map((t) => [t, null]), { truncation: true, maxLength: p.maxLength });
  const rows = enc.inputIds.map((ids, i) => ({ ids, typeIds: enc.tokenTypeIds[i]! }));
  return runRows(p.model, rows, p.tokenizer.padTokenId, { batchSize: o.batchSize ?? p.batchSize, onProgress: o.onProgress }, (out, b, i) => {
    const hidden = output(out, 'lastHiddenState');
    const n = rows[i]!.ids.length;
    const finish = (v: number[]) => (o.normalize ? unit(v) : v);
    if (pooling === 'none') return Array.from({ length: n }, (_, t) => finish(Array.from(tokenOf(hidden, b, t))));
    if (pooling === 'cls' || pooling === 'first_token') return finish(Array.from(tokenOf(hidden, b, 0)));
    const sum = new Float64Array(hidden.dims[2]!);
    for (let t = 0; t < n; t++) tokenOf(hidden, b, t).forEach((v, k) => { sum[k]! += v; });
    return finish(Array.from(sum, (v) => v / n));
  });
}

function unit(v: number[]): number[] {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return norm > 0 ? v.map((x) => x / norm) : v;
}
