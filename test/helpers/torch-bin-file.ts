// Writes a torch.save zip checkpoint straight to a file, one tensor at a time (stored members, CRCs
// computed by fflate's streaming Zip), so a test can make a checkpoint of hundreds of MB without holding
// it, or the archive, in memory.
import { closeSync, openSync, writeSync } from 'node:fs';
import { Zip, ZipPassThrough } from 'fflate';
import { numel, type DType, type Tensor } from '../../src/tensor.ts';
import { contiguousStride, Pickle } from './torch-zip.ts';

const STORAGE: Partial<Record<DType, string>> = { float32: 'FloatStorage', float16: 'HalfStorage', bfloat16: 'BFloat16Storage' };

/**
 * Writes `shapes` (name -> dims, all of `dtype`) as `path`, asking `make(name, dims)` for each tensor
 * only when its turn comes. Returns the bytes of tensor data written.
 */
export function writeTorchBinFile(path: string, shapes: Map<string, number[]>, dtype: DType, make: (name: string, dims: number[]) => Tensor): number {
  const type = STORAGE[dtype];
  if (!type) throw new Error(`writeTorchBinFile: no storage type for ${dtype}`);
  const p = new Pickle().proto().global('collections', 'OrderedDict').op(0x29, 0x52).op(0x28);
  let k = 0;
  for (const [name, dims] of shapes) p.str(name).tensor(type, String(k++), numel(dims), 0, dims, contiguousStride(dims));
  p.op(0x75, 0x2e); // SETITEMS STOP
  const fd = openSync(path, 'w');
  let failure: Error | null = null;
  const zip = new Zip((err, data) => {
    if (err) failure = err;
    else writeSync(fd, data);
  });
  const member = (name: string, data: Uint8Array) => {
    const f = new ZipPassThrough(name);
    zip.add(f);
    f.push(data, true);
  };
  let written = 0;
  try {
    member('archive/data.pkl', p.bytes());
    member('archive/byteorder', Buffer.from('little'));
    member('archive/version', Buffer.from('3\n'));
    k = 0;
    for (const [name, dims] of shapes) {
      const t = make(name, dims);
      if (t.dtype !== dtype) throw new Error(`writeTorchBinFile: '${name}' is ${t.dtype}, not ${dtype}`);
      member(`archive/data/${k++}`, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      written += t.data.byteLength;
    }
    zip.end();
    if (failure) throw failure;
  } finally {
    closeSync(fd);
  }
  return written;
}
