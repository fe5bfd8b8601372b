// Runs every loader fuzz property (another seed than the in-process run) and prints the peak RSS.
// Usage: node --max-old-space-size=256 --import tsx test/helpers/fuzz-loaders-child.ts RUNS
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ALL, SEED } from './fuzz-loaders.ts';

const runs = Number(process.argv[2] ?? 100);
let total = 0;
for (const prop of Object.values(ALL)) {
  fc.assert(prop as fc.IProperty<unknown[]>, { seed: SEED + 1, numRuns: runs });
  total += runs;
}
// VmHWM is this process's own peak; getrusage's maxRSS can carry the parent's RSS over from the fork.
const hwm = /VmHWM:\s*(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
const peakRss = hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ runs: total, peakRss })}\n`);
