// Runs a fuzz property in a child process (test/helpers/fuzz-child.ts) under a time limit and a memory cap.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export const SEED = 20261203;
const MiB = 2 ** 20;

export interface FuzzBounds { runs: number; seconds: number; memoryMiB: number }

export function runFuzz(suite: 'loaders' | 'tokenizers', name: string, b: FuzzBounds): { ms: number; peakRss: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './src/platform/node.ts', 'test/helpers/fuzz-child.ts', suite, name, String(b.runs), String(SEED)],
    { encoding: 'utf8', timeout: b.seconds * 1000, killSignal: 'SIGKILL', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.notEqual(r.signal, 'SIGKILL', `${name}: still running after ${b.seconds} s (a hang?)`);
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { runs: number; ms: number; peakRss: number };
  assert.equal(out.runs, b.runs);
  assert.ok(out.peakRss < b.memoryMiB * MiB, `${name}: peak RSS ${(out.peakRss / MiB).toFixed(0)} MiB, cap ${b.memoryMiB} MiB`);
  return out;
}
