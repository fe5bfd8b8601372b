// SentencePiece's normaliser, as its trainer and encoder apply it: the precompiled character map by
// longest match over UTF-8 bytes, then the whitespace rules of the normaliser spec (drop leading,
// trailing and repeated spaces; put a space before the text; write spaces as U+2581 "▁").
// Training with this class and the blob we write into `spm.model` keeps training and encoding in step.
import { longestPrefix } from './darts.ts';
import { decodeCharsMap } from './charsmap.ts';

export const SPACE_SYMBOL = '\u2581';

export interface NormalizerOptions {
  /** The `precompiled_charsmap` blob, or null for the identity rule. */
  charsMap: Uint8Array | null;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

const WS = [0xe2, 0x96, 0x81]; // U+2581 in UTF-8

export class SpmNormalizer {
  private units: Uint32Array;
  private blob: Uint8Array;
  /** Per ASCII byte: its one-byte rule (-1 none, else blob offset), valid when no longer rule can start. */
  private asciiRule = new Int32Array(128).fill(-1);
  private asciiFast = new Uint8Array(128);
  private inBuf = new Uint8Array(1024);
  private outBuf = new Uint8Array(4096);
  private outLen = 0;
  private encoder = new TextEncoder();
  private decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(readonly options: NormalizerOptions) {
    if (options.charsMap?.length) {
      const { units, normalized } = decodeCharsMap(options.charsMap, 'normalizer');
      this.units = units;
      this.blob = normalized;
    } else {
      this.units = new Uint32Array(0);
      this.blob = new Uint8Array(0);
    }
    const probe = new Uint8Array(2);
    for (let b = 1; b < 128; b++) {
      probe[0] = b;
      const one = longestPrefix(this.units, probe, 0, 1);
      if (one) this.asciiRule[b] = one.value;
      // The fast path may skip the trie only if no rule starts with b followed by another ASCII byte.
      let fast = 1;
      for (let c = 1; c < 128 && fast; c++) {
        probe[1] = c;
        const two = longestPrefix(this.units, probe, 0, 2);
        if (two && two.length === 2) fast = 0;
      }
      this.asciiFast[b] = fast;
    }
  }

  normalize(text: string): string {
    const n = this.encode(text);
    const bytes = this.inBuf;
    const opt = this.options;
    this.outLen = 0;
    let i = 0;
    // Leading spaces go.
    if (opt.removeExtraWhitespaces) {
      while (i < n) {
        const consumed = this.step(bytes, i, n);
        if (!(this.repEnd - this.repStart === 1 && this.repSrc[this.repStart] === 0x20)) break;
        i += consumed;
      }
    }
    if (i >= n) return '';
    if (opt.addDummyPrefix) this.pushSpace();
    let prevSpace = opt.removeExtraWhitespaces;
    while (i < n) {
      const consumed = this.step(bytes, i, n);
      const src = this.repSrc;
      let s = this.repStart;
      const e = this.repEnd;
      if (prevSpace) while (s < e && src[s] === 0x20) s++;
      if (s < e) {
        for (let k = s; k < e; k++) {
          if (src[k] === 0x20) this.pushSpace();
          else this.push(src[k]!);
        }
        prevSpace = opt.removeExtraWhitespaces && src[e - 1] === 0x20;
      }
      i += consumed;
    }
    if (opt.removeExtraWhitespaces) {
      const out = this.outBuf;
      if (opt.escapeWhitespaces) {
        while (this.outLen >= 3 && out[this.outLen - 3] === WS[0] && out[this.outLen - 2] === WS[1] && out[this.outLen - 1] === WS[2]) this.outLen -= 3;
      } else {
        while (this.outLen >= 1 && out[this.outLen - 1] === 0x20) this.outLen--;
      }
    }
    return this.decoder.decode(this.outBuf.subarray(0, this.outLen));
  }

  // The replacement found by the last step: repSrc[repStart..repEnd).
  private repSrc: Uint8Array = new Uint8Array(0);
  private repStart = 0;
  private repEnd = 0;

  /** Normalises the longest matching prefix of bytes[i..n); returns the bytes consumed. */
  private step(bytes: Uint8Array, i: number, n: number): number {
    const b = bytes[i]!;
    if (b < 0x80 && b !== 0 && this.asciiFast[b] && (i + 1 >= n || bytes[i + 1]! < 0x80)) {
      const rule = this.asciiRule[b]!;
      if (rule < 0) this.setRep(bytes, i, i + 1);
      else this.setBlobRep(rule);
      return 1;
    }
    const m = longestPrefix(this.units, bytes, i, n);
    if (m) {
      this.setBlobRep(m.value);
      return m.length;
    }
    // No rule: one UTF-8 character as it is (the input came from a JS string, so it is well formed).
    const len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    this.setRep(bytes, i, Math.min(n, i + len));
    return Math.min(n - i, len);
  }

  private setRep(src: Uint8Array, s: number, e: number): void {
    this.repSrc = src;
    this.repStart = s;
    this.repEnd = e;
  }

  private setBlobRep(offset: number): void {
    let e = offset;
    while (e < this.blob.length && this.blob[e] !== 0) e++;
    this.setRep(this.blob, offset, e);
  }

  private encode(text: string): number {
    if (this.inBuf.length < text.length * 3) this.inBuf = new Uint8Array(text.length * 3 + 16);
    return this.encoder.encodeInto(text, this.inBuf).written;
  }

  private push(b: number): void {
    if (this.outLen === this.outBuf.length) {
      const grown = new Uint8Array(this.outBuf.length * 2);
      grown.set(this.outBuf);
      this.outBuf = grown;
    }
    this.outBuf[this.outLen++] = b;
  }

  private pushSpace(): void {
    if (this.options.escapeWhitespaces) for (const b of WS) this.push(b);
    else this.push(0x20);
  }
}
