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

/** Runs a script in a child Node process and reads the JSON report on its last line of output. */
function jsonChild<T>(script: string, args: string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`${what} exited ${code}: ${err.trim().slice(-2000)}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

function child(script: string, args: string[]): Promise<ChildReport> {
  return jsonChild(join(here, script), args, script);
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

// ---------------------------------------------------------------------------------------------
// The deberta-v2-xxlarge shape (48 layers, hidden 1536, 24 heads, intermediate 6144, 128,100 tokens,
// 256 position buckets: 1.57 B parameters, 5.8 GiB as float32): `deberta init` writes it (float32, and
// float16), then a fresh process loads it and runs one 1 × 128 forward pass; each step in its own child
// process, which reports its time and its peak RSS (VmHWM).

/** deberta-v2-xxlarge's config.json (transformers' hub copy), bare encoder. */
export const XXLARGE_CONFIG = {
  architectures: ['DebertaV2Model'], model_type: 'deberta-v2', attention_head_size: 64, attention_probs_dropout_prob: 0.1,
  conv_act: 'gelu', conv_kernel_size: 3, hidden_act: 'gelu', hidden_dropout_prob: 0.1, hidden_size: 1536, initializer_range: 0.02,
  intermediate_size: 6144, layer_norm_eps: 1e-7, max_position_embeddings: 512, max_relative_positions: -1, norm_rel_ebd: 'layer_norm',
  num_attention_heads: 24, num_hidden_layers: 48, pad_token_id: 0, pooler_dropout: 0, pooler_hidden_act: 'gelu', pooler_hidden_size: 1536,
  pos_att_type: ['p2c', 'c2p'], position_biased_input: false, position_buckets: 256, relative_attention: true, share_att_key: true,
  type_vocab_size: 0, vocab_size: 128100,
};

export interface BigModelRow {
  what: string;
  /** Seconds: init (writing the checkpoint) or loading. */
  loadS: number;
  /** Seconds of the one forward pass (loads only). */
  forwardS?: number;
  peakRssMiB: number;
  targetMiB: number;
  verdict: 'PASS' | 'FAIL';
}

interface BigChildReport { ms: number; forwardMs?: number; peakRssMiB: number; parameters?: number }

const SELF = fileURLToPath(import.meta.url);

function bigChild(args: string[]): Promise<BigChildReport> {
  return jsonChild(SELF, ['--big-child', ...args], `big-model child ${args[0]}`);
}

/**
 * Rows for the xxlarge shape: init float32, load + forward float32, init float16, load + forward
 * float16. Targets: init under 2 GiB (it holds one weight at a time, not 5.8 GiB); loading and the
 * forward pass within the float32 weights + 1 GiB (for float16 too: its float32 form is streamed into
 * ONNX Runtime's side file, not held in memory beside it). Needs ~12 GB of disk under `root` (default:
 * the system's temporary folder), removed afterwards unless `keep`; takes minutes (init makes 1.57 B
 * normal samples per dtype). Run one at a time: each load maps ~6 GB.
 */
export async function bigModelRows(opts: { root?: string; keep?: boolean; threads?: number; dtypes?: ('float32' | 'float16')[]; onRow?: (row: BigModelRow) => void } = {}): Promise<BigModelRow[]> {
  const root = mkdtempSync(join(opts.root ?? tmpdir(), 'deberta-xxlarge-'));
  const rows: BigModelRow[] = [];
  const push = rows.push.bind(rows);
  rows.push = (...r: BigModelRow[]) => { for (const x of r) opts.onRow?.(x); return push(...r); };
  const MiB = 2 ** 20;
  try {
    const configPath = join(root, 'config.json');
    writeFileSync(configPath, JSON.stringify(XXLARGE_CONFIG));
    for (const dtype of opts.dtypes ?? ['float32', 'float16']) {
      const dir = join(root, dtype);
      const init = await bigChild(['init', configPath, dir, dtype]);
      const weightsMiB = (init.parameters! * 4) / MiB;
      const initTarget = 2048;
      rows.push({ what: `xxlarge init ${dtype} (${(init.parameters! / 1e9).toFixed(2)} B params, file ${(statSync(join(dir, 'model.safetensors')).size / 2 ** 30).toFixed(2)} GiB)`,
        loadS: init.ms / 1000, peakRssMiB: init.peakRssMiB, targetMiB: initTarget, verdict: init.peakRssMiB <= initTarget ? 'PASS' : 'FAIL' });
      const load = await bigChild(['load', dir, String(opts.threads ?? 0)]);
      const target = weightsMiB + 1024;
      rows.push({ what: `xxlarge load + 1×128 forward, ${dtype} file (fp32 weights ${(weightsMiB / 1024).toFixed(2)} GiB)`, loadS: load.ms / 1000,
        forwardS: load.forwardMs! / 1000, peakRssMiB: load.peakRssMiB, targetMiB: target, verdict: load.peakRssMiB <= target ? 'PASS' : 'FAIL' });
      if (!opts.keep) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!opts.keep) rmSync(root, { recursive: true, force: true });
  }
  return rows;
}

/** The rows as a text table. */
export function formatBigModelRows(rows: BigModelRow[]): string {
  const lines = ['what | init/load s | forward s | peak RSS MiB | target MiB | verdict'];
  for (const r of rows) {
    lines.push(`${r.what} | ${r.loadS.toFixed(1)} | ${r.forwardS === undefined ? '' : r.forwardS.toFixed(2)} | ${r.peakRssMiB.toFixed(0)} | ${r.targetMiB.toFixed(0)} | ${r.verdict}`);
  }
  return lines.join('\n');
}

async function bigChildMain(args: string[]): Promise<void> {
  await import('../src/platform/node.ts');
  const { peakRssMiB } = await import('./child-common.ts');
  const [mode] = args;
  if (mode === 'init') {
    const [, config, out, dtype] = args;
    const { initCheckpoint } = await import('../src/cli/commands/init.ts');
    const t0 = performance.now();
    const r = initCheckpoint({ config: config!, out: out!, dtype: dtype as 'float32' | 'float16' });
    process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, peakRssMiB: peakRssMiB(), parameters: r.parameters })}\n`);
    return;
  }
  const [, dir, threads] = args;
  const { loadModel } = await import('../src/models/auto.ts');
  const t0 = performance.now();
  const model = await loadModel(dir!, 'auto', Number(threads) > 0 ? { threads: Number(threads) } : {});
  const ms = performance.now() - t0;
  const n = 128;
  const ids = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i === n - 1 ? 2 : 1000 + ((i * 7919) % 100000)));
  const t1 = performance.now();
  const out = await model({ inputIds: [ids] });
  const forwardMs = performance.now() - t1;
  const h = out.lastHiddenState!;
  if (h.dims.join() !== `1,${n},1536` || !h.data.every(Number.isFinite)) throw new Error(`bad output dims [${h.dims}]`);
  process.stdout.write(`${JSON.stringify({ ms, forwardMs, peakRssMiB: peakRssMiB() })}\n`);
}

if (process.argv[1] === SELF && process.argv[2] === '--big-child') await bigChildMain(process.argv.slice(3));
else if (process.argv[1] === SELF && process.argv[2] === '--big') {
  const rows = await bigModelRows({ root: process.argv[3], keep: process.argv.includes('--keep'), onRow: (r) => process.stdout.write(`${JSON.stringify(r)}\n`) });
  process.stdout.write(`${formatBigModelRows(rows)}\n`);
}
