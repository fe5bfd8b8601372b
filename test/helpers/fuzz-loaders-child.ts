// Runs every loader fuzz property (another seed than the in-process run) and prints the peak RSS.
// Usage: node --max-old-space-size=256 --import tsx test/helpers/fuzz-loaders-child.ts RUNS
import fc from 'fast-check';
import { ALL, SEED } from './fuzz-loaders.ts';

const runs = Number(process.argv[2] ?? 100);
let total = 0;
for (const prop of Object.values(ALL)) {
  fc.assert(prop as fc.IProperty<unknown[]>, { seed: SEED + 1, numRuns: runs });
  total += runs;
}
process.stdout.write(`${JSON.stringify({ runs: total, peakRss: process.resourceUsage().maxRSS * 1024 })}\n`);
