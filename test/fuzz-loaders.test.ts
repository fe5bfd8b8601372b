// Fuzzing the checkpoint loaders (safetensors headers and bodies, pickle streams, torch state dicts and zip
// containers, config.json) with fast-check, seeded. Each property runs in a child process bounded in time
// (a hang is killed) and memory: every input gives a result or an Error naming the file.
import { test } from 'node:test';
import { runFuzz } from './helpers/fuzz-run.ts';

const RUNS = {
  safetensorsHeaders: 5000, safetensorsMutations: 5000, torchStateDicts: 3000, pickleStreams: 5000, zipMutations: 5000, configs: 5000,
};

for (const [name, runs] of Object.entries(RUNS)) {
  test(`fuzz: ${name} give a result or an error naming the file`, () => {
    runFuzz('loaders', name, { runs, seconds: 30, memoryMiB: 384 });
  });
}
