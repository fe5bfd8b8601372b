// Load time and peak memory, each side in its own child process so neither pollutes the other:
// ours loads a checkpoint folder (config.json + model.safetensors) with loadModel; the peer creates its
// onnxruntime session from model.onnx (+ model.onnx_data). Each child then runs once and reports its peak RSS.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSafetensors } from '../src/io/safetensors.ts';
import type { Tensor } from '../src/tensor.ts';
import type { Peer } from './peer-weights.ts';
import { summarize, type Timing } from './stats.ts';

const here = dirname(fileURLToPath(import.meta.url));

interface ChildReport { loadMs: number; baseRssMiB: number; peakRssMiB: number }

export interface SideLoad { load: Timing; baseRssMiB: number; peakRssMiB: number }
export interface LoadResult { reps: number; batch: number; seq: number; ours: SideLoad; peer: SideLoad; checkpointMiB: number }

/** A temporary checkpoint folder holding the peer's weights in this project's format. */
export function writeCheckpoint(peer: Peer, weights: Map<string, Tensor>): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `deberta-bench-${peer.shape}-`));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(peer.configJson, null, 2));
  writeSafetensors(join(dir, 'model.safetensors'), weights);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function child(script: string, args: string[]): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(here, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`${script} exited ${code}: ${err.trim().slice(-2000)}`));
      else resolve(JSON.parse(line) as ChildReport);
    });
  });
}

/** `reps` fresh processes per side, interleaved; medians. */
export async function measureLoad(peer: Peer, checkpointDir: string, checkpointBytes: number,
  opts: { threads: number; reps: number; batch: number; seq: number }): Promise<LoadResult> {
  const args = (path: string) => [path, String(opts.threads), String(opts.batch), String(opts.seq)];
  const ours: ChildReport[] = [];
  const theirs: ChildReport[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const runOurs = async () => { ours.push(await child('child-ours.ts', args(checkpointDir))); };
    const runPeer = async () => { theirs.push(await child('child-peer.ts', args(peer.onnxPath))); };
    if (r % 2) { await runPeer(); await runOurs(); } else { await runOurs(); await runPeer(); }
  }
  const side = (xs: ChildReport[]): SideLoad => ({
    load: summarize(xs.map((x) => x.loadMs)),
    baseRssMiB: summarize(xs.map((x) => x.baseRssMiB)).medianMs,
    peakRssMiB: summarize(xs.map((x) => x.peakRssMiB)).medianMs,
  });
  return { reps: opts.reps, batch: opts.batch, seq: opts.seq, ours: side(ours), peer: side(theirs), checkpointMiB: checkpointBytes / 2 ** 20 };
}
