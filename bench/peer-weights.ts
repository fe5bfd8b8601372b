// The peer graphs (bench/peers/*/model.onnx, what transformers.js runs) and their weights under the
// Hugging Face names this project loads, so both sides of the benchmark compute with identical numbers.
// The weights are read as the library reads any transformers.js export (src/io/onnx-weights.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { folderFiles } from '../src/io/node-files.ts';
import { readOnnxWeights } from '../src/io/onnx-weights.ts';
import { parseDebertaConfig, type DebertaConfig } from '../src/models/deberta/config.ts';
import type { Tensor } from '../src/tensor.ts';

export const PEERS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'peers');
export const SHAPES = ['v3-xsmall', 'v3-base'] as const;
export type ShapeName = (typeof SHAPES)[number];

export interface Peer {
  shape: ShapeName;
  dir: string;
  onnxPath: string;
  configJson: Record<string, unknown>;
  config: DebertaConfig;
  /** A probe input and the logits onnxruntime gave for it when the peer was made. */
  probe: { inputIds: number[][]; logits: number[][] };
}

export function peerDir(shape: ShapeName): string {
  return join(PEERS_DIR, `${shape}-shape`);
}

/** Writes model.onnx_data with bench/peers/regen_weights.mjs when it is missing or the wrong size. */
export function ensurePeerData(shape: ShapeName): void {
  const dir = peerDir(shape);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { external: { offset: number; length: number }[] };
  const size = Math.max(...manifest.external.map((t) => t.offset + t.length));
  const data = join(dir, 'model.onnx_data');
  if (existsSync(data) && statSync(data).size === size) return;
  const r = spawnSync(process.execPath, [join(PEERS_DIR, 'regen_weights.mjs'), dir], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`regen_weights.mjs failed for ${dir}`);
}

export function loadPeer(shape: ShapeName): Peer {
  ensurePeerData(shape);
  const dir = peerDir(shape);
  const configPath = join(dir, 'config.json');
  const configJson = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { probe_input_ids: number[][]; probe_logits: number[][] };
  return {
    shape, dir, onnxPath: join(dir, 'model.onnx'), configJson,
    config: parseDebertaConfig(configJson, configPath),
    probe: { inputIds: manifest.probe_input_ids, logits: manifest.probe_logits },
  };
}

/** The peer's weights under Hugging Face names (the library's reader of transformers.js exports). */
export function peerWeights(peer: Peer): Promise<Map<string, Tensor>> {
  return readOnnxWeights(folderFiles(peer.dir), 'model.onnx');
}

export function relMaxDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`outputs differ in size: ${a.length} vs ${ref.length}`);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / scale;
}
