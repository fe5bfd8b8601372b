// Where each member of a zip archive lies in its bytes: the central directory (zip64 included) read
// through, so that a stored (uncompressed) member can be used in place, without a copy, and a deflated
// one inflated (by fflate) when it is needed. Every size and offset is checked against the archive.

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

/** The members of the archive `bytes`, in central-directory order. Throws (without a file name) on anything malformed. */
export function zipMembers(bytes: Uint8Array): ZipMember[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const inside = (at: number, n: number, what: string) => {
    if (!(at >= 0 && n >= 0 && at + n <= bytes.length)) throw new Error(`${what} lies outside the archive`);
  };
  // The end-of-central-directory record: within the last 64 KiB + 22 bytes (its comment is at most 65535).
  let eocd = -1;
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 65535); at--) {
    if (u32(v, at) === 0x06054b50) { eocd = at; break; }
  }
  if (eocd < 0) throw new Error('no end of central directory record');
  let count = u16(v, eocd + 10);
  let dirSize = u32(v, eocd + 12);
  let dirOffset = u32(v, eocd + 16);
  if (eocd >= 20 && u32(v, eocd - 20) === 0x07064b50) {
    const z = u64(v, eocd - 12, 'zip64 record offset');
    inside(z, 56, 'the zip64 end of central directory record');
    if (u32(v, z) !== 0x06064b50) throw new Error('bad zip64 end of central directory record');
    count = u64(v, z + 32, 'entry count');
    dirSize = u64(v, z + 40, 'central directory size');
    dirOffset = u64(v, z + 48, 'central directory offset');
  }
  inside(dirOffset, dirSize, 'the central directory');
  if (count * 46 > dirSize) throw new Error(`${count} entries cannot fit a central directory of ${dirSize} bytes`);
  const members: ZipMember[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let at = dirOffset;
  for (let i = 0; i < count; i++) {
    inside(at, 46, `central directory entry ${i}`);
    if (u32(v, at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const compression = u16(v, at + 10);
    let compressedSize = u32(v, at + 20);
    let size = u32(v, at + 24);
    const nameLen = u16(v, at + 28), extraLen = u16(v, at + 30), commentLen = u16(v, at + 32);
    let local = u32(v, at + 42);
    inside(at + 46, nameLen + extraLen + commentLen, `central directory entry ${i}`);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLen));
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
    if (u32(v, local) !== 0x04034b50) throw new Error(`bad local header for '${name}'`);
    const dataOffset = local + 30 + u16(v, local + 26) + u16(v, local + 28);
    inside(dataOffset, compressedSize, `the data of '${name}'`);
    members.push({ name, compression, compressedSize, size, dataOffset });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return members;
}
