// Model inputs as users hand them (nested number arrays, or typed arrays with dims) to int64 tensors.
import { tensor, type Tensor } from '../tensor.ts';

export type IdsInput =
  | number[][]
  | number[][][]
  | { data: BigInt64Array | Int32Array | number[] | ArrayLike<number>; dims: number[] };

export interface ModelInputs {
  inputIds: IdsInput;
  attentionMask?: IdsInput;
  tokenTypeIds?: IdsInput;
}

/** Converts one input to an int64 tensor, checking that it is rectangular and of the expected rank. */
export function toInt64(x: IdsInput, name: string, rank: number): Tensor {
  if (!Array.isArray(x)) {
    const { data, dims } = x;
    if (dims.length !== rank) throw new Error(`${name}: expected ${rank} dims, got [${dims.join(', ')}]`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`${name}: ${data.length} values do not fill dims [${dims.join(', ')}]`);
    const out = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>), (v) => BigInt(v));
    return tensor('int64', [...dims], out);
  }
  const dims: number[] = [];
  let level: unknown = x;
  for (let r = 0; r < rank; r++) {
    if (!Array.isArray(level)) throw new Error(`${name}: expected ${rank} nested arrays`);
    dims.push(level.length);
    level = level[0];
  }
  const flat = (x as unknown[]).flat(rank - 1) as unknown[];
  if (flat.length !== dims.reduce((a, b) => a * b, 1)) {
    throw new Error(`${name}: rows differ in length; pad them (the tokenizer's padding option does this)`);
  }
  const data = new BigInt64Array(flat.length);
  flat.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${name}: value ${String(v)} at ${i} is not an integer`);
    data[i] = BigInt(v);
  });
  return tensor('int64', dims, data);
}

export function filled(dims: number[], value: number): Tensor {
  return tensor('int64', dims, new BigInt64Array(dims.reduce((a, b) => a * b, 1)).fill(BigInt(value)));
}
