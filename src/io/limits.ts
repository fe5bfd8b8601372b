// Bounds the loaders hold untrusted files to (docs/security.md). They can be raised or lowered by assigning
// to `loaderLimits` before loading, e.g. `loaderLimits.maxPickleBytes = 512 * 2 ** 20`.

export const loaderLimits = {
  /** Largest pickle (`data.pkl`, or a legacy file's pickles) read into memory: 64 MiB. */
  maxPickleBytes: 64 * 2 ** 20,
  /** Zip entries allowed beyond those the state dict uses (torch.save writes about five). */
  maxExtraZipEntries: 64,
  /** Deepest nesting of arrays and objects in a JSON file the loaders read (config, index, trainer state). */
  maxJsonDepth: 64,
};

/** Fails, naming `file`, when the parsed JSON value nests deeper than `loaderLimits.maxJsonDepth`. Iterative. */
export function checkJsonDepth(value: unknown, file: string, max = loaderLimits.maxJsonDepth): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) throw new Error(`${file}: JSON nested more than ${max} levels deep`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
}
