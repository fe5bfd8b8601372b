// Load time and peak memory, each side in its own child process so neither pollutes the other:
// ours loads a checkpoint folder (config.json + model.safetensors) with loadModel; the peer creates its
// onnxruntime session from model.onnx (+ model.onnx_data). Each child then runs once and reports its peak RSS.
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/**
 * Both sides' files, copied the same way into one temporary folder: ours (config.json + model.safetensors,
 * the peer's weights in this project's format) and the peer's model.onnx + model.onnx_data. Both load
 * from files made alike because how a file was written shows in the peak RSS of a process that maps it
 * (the page cache's folio sizes): ours from the freshly written file 541–546 MiB, from a copy 522–534;
 * the peer from its regenerated file 528–536 MiB, from a copy 541–546 (docs/perf.md).
 */
export function stageFiles(peer: Peer, weights: Map<string, Tensor>): { oursDir: string; peerOnnx: string; checkpointBytes: number; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), `deberta-bench-${peer.shape}-`));
  const written = join(root, 'written');
  const oursDir = join(root, 'ours');
  const peerDir = join(root, 'peer');
  mkdirSync(written);
  writeFileSync(join(written, 'config.json'), JSON.stringify(peer.configJson, null, 2));
  writeSafetensors(join(written, 'model.safetensors'), weights);
  cpSync(written, oursDir, { recursive: true });
  rmSync(written, { recursive: true });
  mkdirSync(peerDir);
  for (const f of ['model.onnx', 'model.onnx_data']) cpSync(join(peer.dir, f), join(peerDir, f));
  return {
    oursDir, peerOnnx: join(peerDir, 'model.onnx'), checkpointBytes: statSync(join(oursDir, 'model.safetensors')).size,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
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
export async function measureLoad(files: { oursDir: string; peerOnnx: string; checkpointBytes: number },
  opts: { threads: number; reps: number; batch: number; seq: number }): Promise<LoadResult> {
  const { oursDir: checkpointDir, peerOnnx, checkpointBytes } = files;
  const args = (path: string) => [path, String(opts.threads), String(opts.batch), String(opts.seq)];
  const ours: ChildReport[] = [];
  const theirs: ChildReport[] = [];
  for (let r = 0; r < opts.reps; r++) {
    const runOurs = async () => { ours.push(await child('child-ours.ts', args(checkpointDir))); };
    const runPeer = async () => { theirs.push(await child('child-peer.ts', args(peerOnnx))); };
    if (r % 2) { await runPeer(); await runOurs(); } else { await runOurs(); await runPeer(); }
  }
  const side = (xs: ChildReport[]): SideLoad => ({
    load: summarize(xs.map((x) => x.loadMs)),
    baseRssMiB: summarize(xs.map((x) => x.baseRssMiB)).medianMs,
    peakRssMiB: summarize(xs.map((x) => x.peakRssMiB)).medianMs,
  });
  return { reps: opts.reps, batch: opts.batch, seq: opts.seq, ours: side(ours), peer: side(theirs), checkpointMiB: checkpointBytes / 2 ** 20 };
}
