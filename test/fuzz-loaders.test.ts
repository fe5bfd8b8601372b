// Fuzzing the checkpoint loaders (safetensors, torch pickles and zips, config.json) with fast-check:
// seeded, bounded in runs and time. Every input gives a result or an Error naming the file; none
// crashes or hangs, and a child process runs the same properties under a memory cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { ALL, SEED } from './helpers/fuzz-loaders.ts';

const RUNS: Record<keyof typeof ALL, number> = {
  safetensorsHeaders: 1500, safetensorsMutations: 1000, torchStateDicts: 1000, pickleStreams: 1500, zipMutations: 1000, configs: 1500,
};

for (const [name, prop] of Object.entries(ALL) as [keyof typeof ALL, fc.IProperty<unknown[]>][]) {
  test(`fuzz: ${name} give a result or an error naming the file`, { timeout: 20_000 }, () => {
    const started = performance.now();
    fc.assert(prop, { seed: SEED, numRuns: RUNS[name], interruptAfterTimeLimit: 8_000, markInterruptAsFailure: true });
    const ms = performance.now() - started;
    assert.ok(ms < 8_000, `${name}: ${ms.toFixed(0)} ms`);
  });
}

test('fuzz: the loader properties under a memory cap in a child process', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', 'test/helpers/fuzz-loaders-child.ts', '300'],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(r.status, 0, r.stderr);
  const { peakRss, runs } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { peakRss: number; runs: number };
  assert.equal(runs, 300 * Object.keys(ALL).length);
  assert.ok(peakRss < 512 * 2 ** 20, `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
});
