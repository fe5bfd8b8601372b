// Training checkpoints as Hugging Face folders: config.json (with the label maps and the head's
// architecture), model.safetensors and the tokenizer files, which `from_pretrained` loads as they are;
// plus, for resuming, optimizer.safetensors (AdamW moments) and trainer_state.json. A folder is written
// under a temporary name and renamed into place, so a crash never leaves a half-written checkpoint.
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { checkJsonDepth } from '../io/limits.ts';
import { readSafetensors, writeSafetensors } from '../io/safetensors.ts';
import { writeDebertaConfig, type DebertaConfig } from '../models/deberta/config-file.ts';
import { tensor, type Tensor } from '../tensor.ts';

/** Files a tokenizer may consist of; whichever exist are copied. */
export const TOKENIZER_FILES = [
  'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json',
  'spm.model', 'vocab.json', 'merges.txt', 'vocab.txt', 'bpe_encoder.bin', 'sentencepiece.bpe.model',
];

export function copyTokenizerFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const f of TOKENIZER_FILES) {
    if (existsSync(join(from, f))) { copyFileSync(join(from, f), join(to, f)); copied.push(f); }
  }
  return copied;
}

/** The config with its `dtype` / `torch_dtype` field (when it has one) saying float32, as the weights are saved. */
export function float32Config(config: DebertaConfig): DebertaConfig {
  const raw = { ...config.raw };
  if ('dtype' in raw) raw.dtype = 'float32';
  if ('torch_dtype' in raw) raw.torch_dtype = 'float32';
  return { ...config, raw };
}

/** What the trainer needs to resume: where it was, and the state of everything random. */
export interface TrainerState {
  /** Optimizer updates done. */
  globalStep: number;
  /** The epoch in progress (0-based) and the micro-batches of it already consumed. */
  epoch: number;
  batchInEpoch: number;
  /** Micro-batches run with dropout so far (the gradient model's step: dropout masks depend on it). */
  dropoutStep?: number;
  totalSteps: number;
  seed: number;
  bestMetric: number | null;
  bestStep: number | null;
  /** The metric that picks the best checkpoint, e.g. "accuracy". */
  metricName: string;
  /** Evaluations and periodic losses, newest last. */
  logHistory: Record<string, number | string>[];
  /** The settings of the run, to check a resumed run uses the same ones. */
  args: Record<string, unknown>;
}

export interface CheckpointContents {
  config: DebertaConfig;
  weights: Map<string, Tensor>;
  /** Folder whose tokenizer files are copied along. */
  tokenizerDir?: string;
  /** AdamW moments (AdamW.stateTensors()) and step count. */
  optimizer?: { tensors: Map<string, Tensor>; step: number };
  trainerState?: TrainerState;
  /** Extra JSON files to write (name -> object), e.g. eval_results.json. */
  extraJson?: Record<string, unknown>;
  /** Extra safetensors files to write (name -> tensors), e.g. pretraining's gdes_delta.safetensors. */
  extraTensors?: Record<string, Map<string, Tensor>>;
  /** Checkpoints written as sub-folders, in the same atomic replacement (pretraining's generator/). */
  subdirs?: Record<string, CheckpointContents>;
}

/** Writes the checkpoint folder `dir` (replacing an existing one) through a temporary folder and renames. */
export function saveCheckpoint(dir: string, c: CheckpointContents): void {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = join(dirname(dir), `.${basename(dir)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  mkdirSync(tmp);
  try {
    writeContents(tmp, c);
    replaceDir(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function writeContents(dir: string, c: CheckpointContents): void {
  // Weights go out in float32 (a float64 run converts), as transformers saves by default.
  const weights = new Map<string, Tensor>();
  for (const [name, t] of c.weights) {
    weights.set(name, t.dtype === 'float64' ? tensor('float32', t.dims, Float32Array.from(t.data as Float64Array)) : t);
  }
  writeSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  writeDebertaConfig(dir, float32Config(c.config));
  if (c.tokenizerDir) copyTokenizerFiles(c.tokenizerDir, dir);
  if (c.optimizer) writeSafetensors(join(dir, 'optimizer.safetensors'), c.optimizer.tensors, { step: String(c.optimizer.step) });
  if (c.trainerState) writeFileSync(join(dir, 'trainer_state.json'), `${JSON.stringify(c.trainerState, null, 2)}\n`);
  for (const [name, obj] of Object.entries(c.extraJson ?? {})) writeFileSync(join(dir, name), `${JSON.stringify(obj, null, 2)}\n`);
  for (const [name, tensors] of Object.entries(c.extraTensors ?? {})) writeSafetensors(join(dir, name), tensors);
  for (const [name, sub] of Object.entries(c.subdirs ?? {})) {
    mkdirSync(join(dir, name));
    writeContents(join(dir, name), sub);
  }
}

// The old folder moves aside before the new one takes its name and is removed only afterwards, so
// at any moment one complete checkpoint exists under `dir` or its `.old` name.
function replaceDir(tmp: string, dir: string): void {
  if (!existsSync(dir)) { renameSync(tmp, dir); return; }
  const old = join(dirname(dir), `.${basename(dir)}.${process.pid}.${randomBytes(4).toString('hex')}.old`);
  renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export interface ResumeState {
  trainerState: TrainerState;
  optimizer: { tensors: Map<string, Tensor>; step: number };
}

/** Reads the resume files of a checkpoint folder written with optimizer and trainer state, checking every field used. */
export function readResumeState(dir: string): ResumeState {
  const stateFile = join(dir, 'trainer_state.json');
  const optFile = join(dir, 'optimizer.safetensors');
  if (!existsSync(stateFile)) throw new Error(`${dir}: not a resumable checkpoint (no trainer_state.json)`);
  if (!existsSync(optFile)) throw new Error(`${dir}: not a resumable checkpoint (no optimizer.safetensors)`);
  let text: string;
  try {
    text = readFileSync(stateFile, 'utf8');
  } catch (err) {
    throw new Error(`${stateFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${stateFile}: not valid JSON (${(err as Error).message})`);
  }
  checkJsonDepth(parsed, stateFile);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${stateFile}: expected a JSON object`);
  const trainerState = parsed as TrainerState;
  const field = (k: string, ok: boolean, want: string) => {
    if (!ok) throw new Error(`${stateFile}: field '${k}' must be ${want}, got ${JSON.stringify((parsed as Record<string, unknown>)[k]) ?? 'nothing'}`);
  };
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  for (const k of ['globalStep', 'epoch', 'batchInEpoch', 'seed'] as const) field(k, count(trainerState[k]), 'a non-negative integer');
  field('totalSteps', count(trainerState.totalSteps) && trainerState.totalSteps >= 1, 'a positive integer');
  field('globalStep', trainerState.globalStep <= trainerState.totalSteps, `at most totalSteps (${trainerState.totalSteps})`);
  if (trainerState.dropoutStep !== undefined) field('dropoutStep', count(trainerState.dropoutStep), 'a non-negative integer');
  field('bestMetric', trainerState.bestMetric === null || typeof trainerState.bestMetric === 'number', 'a number or null');
  field('bestStep', trainerState.bestStep === null || count(trainerState.bestStep), 'a non-negative integer or null');
  field('metricName', typeof trainerState.metricName === 'string', 'a string');
  field('logHistory', Array.isArray(trainerState.logHistory), 'a list');
  field('args', typeof trainerState.args === 'object' && trainerState.args !== null && !Array.isArray(trainerState.args), 'an object');
  const { tensors, metadata } = readSafetensors(optFile);
  const step = Number(metadata.step);
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`${optFile}: metadata 'step' is missing or not a non-negative integer`);
  if (step !== trainerState.globalStep) {
    throw new Error(`${dir}: optimizer.safetensors was saved at update ${step} but trainer_state.json says ${trainerState.globalStep}; the checkpoint was altered`);
  }
  return { trainerState, optimizer: { tensors, step } };
}

/** The temporary names saveCheckpoint (and the safetensors and config writers) give what they write. */
const TEMPORARY = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.(tmp|old)$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Tidies what killed runs left in `dir`: temporary folders and files are removed, and a `.old` folder whose
 * checkpoint never got its new version (the process died between the two renames) takes its name back.
 * Names of processes still running are left alone. Returns what was done, one line each.
 */
export function removeStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const done: string[] = [];
  // .old before .tmp is irrelevant: a .tmp is never renamed back, only removed.
  for (const name of names.sort()) {
    const m = TEMPORARY.exec(name);
    if (!m || alive(Number(m[2]))) continue;
    const path = join(dir, name);
    const target = join(dir, m[1]!);
    if (m[3] === 'old' && !existsSync(target)) {
      renameSync(path, target);
      done.push(`restored ${target} from ${name}`);
    } else {
      rmSync(path, { recursive: true, force: true });
      done.push(`removed ${path}`);
    }
  }
  return done;
}

/**
 * Fails, naming `flag` and the path, unless `dir` is (or can be created as) a writable folder: checked
 * before any loading or training, so a bad --out does not surface only at the first save.
 */
export function checkWritableFolder(dir: string, flag: string): void {
  writableFolder(dir, flag, dir);
}

/** `shown` is the path the user gave (the folder, or the file to be written in it). */
function writableFolder(dir: string, flag: string, shown: string): void {
  let at = resolve(dir);
  for (;;) {
    let st;
    try {
      st = statSync(at);
    } catch {
      const up = dirname(at);
      if (up === at) throw new Error(`${flag}: ${shown}: no part of the path exists`);
      at = up;
      continue;
    }
    if (!st.isDirectory()) {
      throw new Error(at === resolve(shown) ? `${flag}: ${shown} is a file, not a folder` : `${flag}: ${shown} cannot be created: ${at} is a file, not a folder`);
    }
    try {
      accessSync(at, constants.W_OK);
    } catch {
      throw new Error(`${flag}: ${shown} is not writable (${at} does not allow writing)`);
    }
    return;
  }
}

/** As checkWritableFolder, for a file to be written: its folder must be writable and the path not a folder. */
export function checkWritableFile(file: string, flag: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) throw new Error(`${flag}: ${file} is a folder, not a file`);
  writableFolder(dirname(resolve(file)), flag, file);
}
