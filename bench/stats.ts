// Small timing helpers shared by the benchmark parts.

export interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  runs: number;
  /**
   * Median CPU time of the whole process (all threads, user + system) per run, where measured. Less
   * sensitive than wall time to other work on the machine, though it includes onnxruntime's spin-waiting.
   */
  cpuMedianMs?: number;
  /** Every timed run, in order (interleaved contenders: the same index is the same round). */
  samples?: number[];
}

export function median(samples: readonly number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function summarize(samples: readonly number[], cpu?: readonly number[]): Timing {
  const t: Timing = { medianMs: median(samples), minMs: Math.min(...samples), maxMs: Math.max(...samples), runs: samples.length };
  if (cpu?.length) t.cpuMedianMs = median(cpu);
  t.samples = samples.map((x) => Math.round(x * 100) / 100);
  return t;
}

export async function timeMs(fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export interface TimingOptions {
  warmup: number; runs?: number; targetMs?: number; minRuns?: number; maxRuns?: number;
  /**
   * Idle time before each run, untimed. Each ONNX Runtime session has its own thread pool, whose workers
   * spin for a while after a run; without a pause they take a core from whichever session runs next
   * (v3-base 1 × 128: 99 ms alone, 140 ms right after the other session; docs/perf.md).
   */
  settleMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  let roundMs = opts.roundMsHint ?? 0;
  const settle = opts.settleMs ?? 0;
  for (let w = 0; w < opts.warmup; w++) {
    roundMs = 0;
    for (const n of names) {
      if (settle) await sleep(settle);
      roundMs += await timeMs(contenders[n]!);
    }
  }
  const runs = opts.runs ?? Math.max(opts.minRuns ?? 3, Math.min(opts.maxRuns ?? 20, Math.ceil((opts.targetMs ?? 10_000) / Math.max(roundMs, 1))));
  for (let r = 0; r < runs; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const n of order) {
      if (settle) await sleep(settle);
      const c0 = process.cpuUsage();
      samples[n]!.push(await timeMs(contenders[n]!));
      const c = process.cpuUsage(c0);
      cpu[n]!.push((c.user + c.system) / 1e3);
    }
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n]!, cpu[n])]));
}

/** Median over rounds of a[i] / b[i]: the two ran back to back, so slow drifts in machine load cancel. */
export function pairedRatio(a: Timing, b: Timing): number | undefined {
  if (!a.samples || !b.samples || a.samples.length !== b.samples.length) return undefined;
  return median(a.samples.map((x, i) => x / b.samples![i]!));
}
