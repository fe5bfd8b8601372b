// Which ONNX Runtime build runs our graphs: the platform's (onnxruntime-node in Node, onnxruntime-web in
// browsers), unless `setOrt` chose another. Everything else talks to ONNX Runtime through here.
import type * as OrtCommon from 'onnxruntime-common';
import { platform } from '../platform/index.ts';

export type Ort = Pick<typeof OrtCommon, 'InferenceSession' | 'Tensor' | 'env'>;

let current: Ort | undefined;

export function setOrt(ort: Ort): void { current = ort; }

export async function getOrt(): Promise<Ort> {
  current ??= await platform().ort();
  return current;
}

export const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);

/** All cores by default: Node's count, or the browser's. */
export async function defaultThreads(): Promise<number> {
  return platform().defaultThreads();
}
