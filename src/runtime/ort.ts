// Which ONNX Runtime build runs our graphs: onnxruntime-node by default in Node, onnxruntime-web in
// browsers (the browser entry registers it). Everything else talks to ONNX Runtime through here.
import type * as OrtCommon from 'onnxruntime-common';

export type Ort = Pick<typeof OrtCommon, 'InferenceSession' | 'Tensor' | 'env'>;

let current: Ort | undefined;

export function setOrt(ort: Ort): void { current = ort; }

export async function getOrt(): Promise<Ort> {
  current ??= (await import('onnxruntime-node')) as unknown as Ort;
  return current;
}

export const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);

/** All cores by default: Node's count, or the browser's. */
export async function defaultThreads(): Promise<number> {
  if (isNode) return (await import('node:os')).availableParallelism();
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}
