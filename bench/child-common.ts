// What the load-and-memory child processes share: their arguments and their one-line report.
import { readFileSync } from 'node:fs';
import { makeInputs } from './inputs.ts';

export function childArgs() {
  const [path, threads, batch, seq] = process.argv.slice(2);
  if (!path || !threads || !batch || !seq) throw new Error('usage: child-*.ts PATH THREADS BATCH SEQ');
  // The bench's peers use an 8064-row vocabulary; ids stay below 8000.
  return { path, threads: Number(threads), ...makeInputs(8000, Number(batch), Number(seq)) };
}

/**
 * This process's peak resident memory in MiB. On Linux, VmHWM from /proc/self/status: getrusage's maxrss
 * (process.resourceUsage().maxRSS) also counts the parent's peak at fork time, which would charge the
 * bench process's own memory to the child. Elsewhere, maxRSS.
 */
export function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

/** `baseMiB`: the peak before loading (node, tsx and onnxruntime already imported). */
export function childReport(loadMs: number, baseMiB: number): void {
  process.stdout.write(`${JSON.stringify({ loadMs, baseRssMiB: baseMiB, peakRssMiB: peakRssMiB() })}\n`);
}
