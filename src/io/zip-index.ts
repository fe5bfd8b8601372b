// Where each member of a zip archive lies in its bytes: the central directory (zip64 included) read
// through, so that a stored (uncompressed) member can be used in place, without a copy, and a deflated
// one inflated (by fflate) when it is needed. Every size and offset is checked against the archive.
// The archive is read through a ByteSource: bytes in memory, or (Node) a file read piece by piece, so
// that only the directory and the headers are read, never the whole file.

/** Random access to an archive's bytes. */
export interface ByteSource {
  /** The archive's length in bytes. */
  readonly size: number;
  /** `length` bytes from `offset` (inside the archive): a view of them, or a fresh copy. */
  read(offset: number, length: number): Uint8Array;
}

/** Bytes in memory as a ByteSource (reads are views, no copies). */
export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

export interface ZipMember {
  name: string;
  /** 0: stored, 8: deflate. */
  compression: number;
  compressedSize: number;
  size: number;
  /** Where the member's (compressed) data starts. */
  dataOffset: number;
}

const u16 = (v: DataView, at: number) => v.getUint16(at, true);
const u32 = (v: DataView, at: number) => v.getUint32(at, true);
function u64(v: DataView, at: number, what: string): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${n} is too large`);
  return Number(n);
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The members of the archive, in central-directory order. Throws (without a file name) on anything malformed. */
export function zipMembers(archive: Uint8Array | ByteSource): ZipMember[] {
  const src = archive instanceof Uint8Array ? memorySource(archive) : archive;
  const size = src.size;
  const inside = (at: number, n: number, what: string) => {
    if (!(at >= 0 && n >= 0 && at + n <= size)) throw new Error(`${what} lies outside the archive`);
  };
  // The end-of-central-directory record: within the last 64 KiB + 22 bytes (its comment is at most 65535).
  const tailStart = Math.max(0, size - 22 - 65535 - 20);
  const tail = src.read(tailStart, size - tailStart);
  const tv = view(tail);
  let eocd = -1;
  for (let at = tail.length - 22; at >= Math.max(0, tail.length - 22 - 65535); at--) {
    if (u32(tv, at) === 0x06054b50) { eocd = at; break; }
  }
  if (eocd < 0) throw new Error('no end of central directory record');
  let count = u16(tv, eocd + 10);
  let dirSize = u32(tv, eocd + 12);
  let dirOffset = u32(tv, eocd + 16);
  if (eocd >= 20 && u32(tv, eocd - 20) === 0x07064b50) {
    const z = u64(tv, eocd - 12, 'zip64 record offset');
    inside(z, 56, 'the zip64 end of central directory record');
    const zv = view(src.read(z, 56));
    if (u32(zv, 0) !== 0x06064b50) throw new Error('bad zip64 end of central directory record');
    count = u64(zv, 32, 'entry count');
    dirSize = u64(zv, 40, 'central directory size');
    dirOffset = u64(zv, 48, 'central directory offset');
  }
  inside(dirOffset, dirSize, 'the central directory');
  if (count * 46 > dirSize) throw new Error(`${count} entries cannot fit a central directory of ${dirSize} bytes`);
  // The directory in one read; offsets below are the archive's, `v` reads them shifted by dirOffset.
  const dir = src.read(dirOffset, dirSize);
  const dv = view(dir);
  const v = { getUint16: (at: number, le: boolean) => dv.getUint16(at - dirOffset, le), getUint32: (at: number, le: boolean) => dv.getUint32(at - dirOffset, le),
    getBigUint64: (at: number, le: boolean) => dv.getBigUint64(at - dirOffset, le) } as DataView;
  const bytesAt = (at: number, n: number) => dir.subarray(at - dirOffset, at - dirOffset + n);
  const members: ZipMember[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    if (!(at + 46 <= dirOffset + dirSize)) throw new Error(`central directory entry ${i} lies outside the archive`);
    if (u32(v, at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const compression = u16(v, at + 10);
    let compressedSize = u32(v, at + 20);
    let size = u32(v, at + 24);
    const nameLen = u16(v, at + 28), extraLen = u16(v, at + 30), commentLen = u16(v, at + 32);
    let local = u32(v, at + 42);
    if (!(at + 46 + nameLen + extraLen + commentLen <= dirOffset + dirSize)) throw new Error(`central directory entry ${i} lies outside the archive`);
    const name = decoder.decode(bytesAt(at + 46, nameLen));
    // Zip64: the extra field 0x0001 holds, in order, whichever of the three values are 0xffffffff.
    for (let e = at + 46 + nameLen; e + 4 <= at + 46 + nameLen + extraLen;) {
      const id = u16(v, e), len = u16(v, e + 2);
      if (id === 0x0001) {
        let p = e + 4;
        const take = (what: string) => { if (p + 8 > e + 4 + len) throw new Error(`short zip64 field in entry '${name}'`); const n = u64(v, p, what); p += 8; return n; };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (local === 0xffffffff) local = take('offset');
      }
      e += 4 + len;
    }
    inside(local, 30, `the local header of '${name}'`);
    const lv = view(src.read(local, 30));
    if (u32(lv, 0) !== 0x04034b50) throw new Error(`bad local header for '${name}'`);
    const dataOffset = local + 30 + u16(lv, 26) + u16(lv, 28);
    inside(dataOffset, compressedSize, `the data of '${name}'`);
    members.push({ name, compression, compressedSize, size, dataOffset });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return members;
}
