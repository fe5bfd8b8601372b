// Small timing helpers shared by the benchmark parts.

export interface Timing { medianMs: number; minMs: number; maxMs: number; runs: number }

export function summarize(samples: readonly number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { medianMs: median, minMs: s[0]!, maxMs: s[s.length - 1]!, runs: s.length };
}

export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export interface TimingOptions { warmup: number; runs?: number; targetMs?: number; minRuns?: number; maxRuns?: number }

/**
 * Runs the contenders in turn (a, b, a, b …; the first of each round alternates), after `warmup` rounds.
 * With `runs` undefined, picks enough rounds for about `targetMs` of timed work, within [minRuns, maxRuns],
 * from the last warm-up round or, without warm-up, from `roundMsHint` (a round timed by the caller).
 */
export async function interleaved(
  contenders: Record<string, () => Promise<unknown>>,
  opts: TimingOptions & { roundMsHint?: number },
): Promise<Record<string, Timing>> {
  const names = Object.keys(contenders);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  let roundMs = opts.roundMsHint ?? 0;
  for (let w = 0; w < opts.warmup; w++) {
    roundMs = 0;
    for (const n of names) roundMs += await timeMs(contenders[n]!);
  }
  const runs = opts.runs ?? Math.max(opts.minRuns ?? 3, Math.min(opts.maxRuns ?? 20, Math.ceil((opts.targetMs ?? 10_000) / Math.max(roundMs, 1))));
  for (let r = 0; r < runs; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) samples[n]!.push(await timeMs(contenders[n]!));
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n]!)]));
}

export const mib = (bytes: number): number => bytes / 2 ** 20;
