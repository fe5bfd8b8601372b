// Scratch memory for the alignment arrays of one text (NormalizedString's steps cut theirs from it).

/** The most entries (4 bytes each) a scratch keeps between texts: 48 MB, the alignments of about 1.5M characters. */
const SCRATCH_LIMIT = 3 << 22;

/**
 * Memory for alignment arrays that live only while one text is tokenised (the text's own before normalisation,
 * the normalisation steps' results, the Metaspace prefix): cut one after the other from a buffer reused from text to text, instead of new
 * arrays each time. A 1M-character text asks for about 32 MB; new buffers of that size are fresh
 * pages from the system, written for the first time (page faults, zeroing) and left to the garbage
 * collector, where the same work on a 100k text reuses memory already there. What does not fit is
 * allocated as before, and the next text gets a buffer as large as this one asked for (up to
 * `SCRATCH_LIMIT`).
 */
export class AlignmentScratch {
  private buf = new Int32Array(0);
  private used = 0;
  /** Entries asked for since the last reset, whether they fitted or not. */
  private asked = 0;

  take(n: number): Int32Array {
    this.asked += n;
    if (this.used + n > this.buf.length) return new Int32Array(n);
    const a = this.buf.subarray(this.used, this.used + n);
    this.used += n;
    return a;
  }

  /** Forgets everything cut so far (the arrays handed out must be dead by now). */
  reset(): void {
    if (this.asked > this.buf.length && this.buf.length < SCRATCH_LIMIT) this.buf = new Int32Array(Math.min(this.asked, SCRATCH_LIMIT));
    this.used = 0;
    this.asked = 0;
  }

  /** Holding memory, in bytes (for tests and diagnostics). */
  get bytes(): number {
    return this.buf.byteLength;
  }
}

let scratch: AlignmentScratch | null = null;

/**
 * Runs `f` with alignment arrays cut from `s` (reset first): every NormalizedString made by `f` must be
 * dead when it returns — nothing made from them may keep their arrays (token offsets are copied out).
 */
export function withAlignmentScratch<T>(s: AlignmentScratch, f: () => T): T {
  const outer = scratch;
  s.reset();
  scratch = s;
  try {
    return f();
  } finally {
    scratch = outer;
  }
}

/** An alignment array of `n` entries (contents undefined: the caller writes every entry it reads). */
export function alignmentArray(n: number): Int32Array {
  return scratch ? scratch.take(n) : new Int32Array(n);
}
