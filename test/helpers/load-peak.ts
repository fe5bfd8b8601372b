// Run in a child process: loads a checkpoint and prints one JSON line with the outcome and the peak
// memory the load added (peak RSS of the process minus its RSS just before loading) and the peak itself.
// Usage: node --import tsx --import ./src/platform/node.ts test/helpers/load-peak.ts DIR [model|tensors|torch FILE]
import { existsSync, readFileSync } from 'node:fs';
import { loadModel } from '../../src/models/auto.ts';
import { loadCheckpointTensors } from '../../src/io/checkpoint.ts';
import { readTorchCheckpoint } from '../../src/io/node-files.ts';

const [what, mode = 'model'] = process.argv.slice(2);
const before = process.memoryUsage().rss;
let result: Record<string, unknown>;
try {
  if (mode === 'model') {
    const model = await loadModel(what!);
    const out = await model({ inputIds: [[1, 5, 9, 2]] });
    result = { ok: true, logits: [...(out.logits ?? out.lastHiddenState)!.data] };
    await model.dispose();
  } else if (mode === 'torch') {
    const t = readTorchCheckpoint(what!);
    let n = 0;
    for (const v of t.values()) n += v.data.length;
    result = { ok: true, elements: n };
  } else {
    const { tensors } = await loadCheckpointTensors(what!);
    result = { ok: true, tensors: tensors.size };
  }
} catch (err) {
  result = { ok: false, error: (err as Error).message };
}
// VmHWM is this process's own peak; getrusage's maxRSS can carry the parent's RSS over from the fork.
const hwm = /VmHWM:\s*(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
const peak = hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
process.stdout.write(`${JSON.stringify({ ...result, addedBytes: Math.max(0, peak - before), peakBytes: peak })}\n`);
