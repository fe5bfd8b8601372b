// Child process: loads this project's model from a checkpoint folder, runs it once, and prints
// {"loadMs", "baseRssMiB", "peakRssMiB"} as one JSON line. Usage: child-ours.ts DIR THREADS BATCH SEQ
import '../src/platform/node.ts';
import { loadModel } from '../src/models/auto.ts';
import { childArgs, childReport, peakRssMiB } from './child-common.ts';

const { path, threads, ids, mask, dims } = childArgs();
const base = peakRssMiB();
const t0 = performance.now();
const model = await loadModel(path, 'auto', { threads });
const loadMs = performance.now() - t0;
await model({ inputIds: { data: ids, dims }, attentionMask: { data: mask, dims } });
childReport(loadMs, base);
