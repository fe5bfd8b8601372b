// Weights that can hand out their bytes piece by piece without holding them all at once: one still in
// its file (FileTensor), one copied out of a torch storage only while it is written (PickledTensor), one
// converted to float32 as it is written (float16 and bfloat16 checkpoints). Whatever writes weights to a
// file (ONNX Runtime's external data, `deberta export`) goes through `tensorChunks`, so a model's weights
// never need to be in memory twice.
import { BYTES_PER_ELEMENT, numel, type Tensor } from '../tensor.ts';

/** The method a tensor offers when it can yield its bytes (little-endian) in pieces of at most `maxBytes`. */
export const BYTE_CHUNKS = Symbol.for('deberta-ts.byteChunks');

export interface ChunkedBytes {
  [BYTE_CHUNKS](maxBytes: number): Iterable<Uint8Array>;
}

/** Pieces of 64 MiB unless asked otherwise. */
export const CHUNK_BYTES = 64 * 2 ** 20;

/** The tensor's bytes in order: pieces from the tensor itself where it can, else its whole array. */
export function tensorChunks(t: Tensor, maxBytes = CHUNK_BYTES): Iterable<Uint8Array> {
  const chunked = (t as Partial<ChunkedBytes>)[BYTE_CHUNKS];
  if (chunked) return chunked.call(t, maxBytes);
  return [bytesOf(t.data)];
}

/** The byte length of a tensor from its dtype and dims (reads no data). */
export function tensorByteLength(t: Pick<Tensor, 'dtype' | 'dims'>): number {
  return numel(t.dims) * BYTES_PER_ELEMENT[t.dtype];
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
