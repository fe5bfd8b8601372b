// What the load-and-memory child processes share: their arguments and their one-line report.
import { makeInputs } from './inputs.ts';

export function childArgs() {
  const [path, threads, batch, seq] = process.argv.slice(2);
  if (!path || !threads || !batch || !seq) throw new Error('usage: child-*.ts PATH THREADS BATCH SEQ');
  // The bench's peers use an 8064-row vocabulary; ids stay below 8000.
  return { path, threads: Number(threads), ...makeInputs(8000, Number(batch), Number(seq)) };
}

/** maxRSS is in KiB; `base` is the peak before loading (node, tsx and onnxruntime already imported). */
export function childReport(loadMs: number, baseKiB: number): void {
  const peak = process.resourceUsage().maxRSS;
  process.stdout.write(`${JSON.stringify({ loadMs, baseRssMiB: baseKiB / 1024, peakRssMiB: peak / 1024 })}\n`);
}
