// Runs one fuzz property in a process of its own, so that the test around it can bound its time (a hang is
// killed) and its memory (the process's peak RSS is reported). Prints one JSON line on success; on a
// failure, fast-check's report (seed, path, counterexample) goes to stderr and the exit status is 1.
// Usage: node --import tsx --import ./src/platform/node.ts test/helpers/fuzz-child.ts loaders|tokenizers NAME RUNS SEED
import { existsSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ALL } from './fuzz-loaders.ts';
import { tokenizerProperties } from './fuzz-tokenizers.ts';

const [suite, name, runs, seed] = process.argv.slice(2);
const props: Record<string, fc.IRawProperty<unknown[]>> = suite === 'tokenizers' ? await tokenizerProperties() : ALL;
const prop = props[name!];
if (!prop) throw new Error(`no property '${name}' in ${suite}`);
const started = performance.now();
try {
  fc.assert(prop, { seed: Number(seed), numRuns: Number(runs) });
} catch (err) {
  const cause = (err as Error).cause;
  process.stderr.write(`${(err as Error).message}\n${cause instanceof Error ? `Caused by: ${cause.message}` : ''}\n`);
  process.exit(1);
}
// VmHWM is this process's own peak; getrusage's maxRSS can carry the parent's RSS over from the fork.
const hwm = /VmHWM:\s*(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
const peakRss = hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ runs: Number(runs), ms: Math.round(performance.now() - started), peakRss })}\n`);
