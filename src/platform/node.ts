// Node's platform: checkpoint folders on disk (safetensors weights left in their files for ONNX Runtime to
// map), http(s) URLs through fetch, onnxruntime-node, and the package's embedded models. Importing this
// module registers it.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import { urlFiles, type ModelFiles } from '../io/files.ts';
import { folderFiles } from '../io/node-files.ts';
import { FileTensor } from '../io/safetensors.ts';
import { hubFiles } from '../hub/files.ts';
import { isHubId, type HubOptions } from '../hub/id.ts';
import { defaultCacheDir, defaultEndpoint } from '../hub/settings.ts';
import { env, localModelRef } from '../env.ts';
import type { Ort } from '../runtime/ort.ts';
import type * as OrtCommonModule from 'onnxruntime-common';
import type { EmittedModel } from '../runtime/onnx-emit.ts';
import { setPlatform, type Platform, type RuntimeOptions } from './index.ts';

// ONNX Runtime 1.30's Linux build starts a telemetry client with its environment (the first session of a
// process). The client reads the process's command line with a recursion as deep as the line is long, so a
// command line over about 25 KB in the main thread, 12 KB in a worker thread (a long text given as an argument
// to `deberta classify`) overflows the stack and kills the process; and every process leaves an empty
// $TMPDIR/mat-debug-<pid>.log behind. ORT_DISABLE_TELEMETRY=1 keeps the client off; a value already set is
// left alone. Set here, before onnxruntime-node is loaded: in the main thread Node passes process.env on to
// the C environment ONNX Runtime reads; a worker thread's process.env is its own copy.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** The package's models/ folder (embedded default models). */
export const MODELS_DIR = fileURLToPath(new URL('../../models/', import.meta.url));

// A URL; else a Hub id, looked for first as a folder under env.localModelPath (the working directory by
// default) unless env.allowLocalModels is false, then fetched (as transformers decides); else a folder path.
async function openFolder(ref: string, hub?: HubOptions): Promise<ModelFiles> {
  if (/^https?:\/\//i.test(ref)) return urlFiles(ref);
  if (isHubId(ref)) {
    if (!env.allowLocalModels) return hubFiles(ref, hub);
    const local = localModelRef(ref);
    return isFolder(local) ? folderFiles(local) : hubFiles(ref, { ...hub, orFolder: local });
  }
  let isDir = false;
  try {
    isDir = statSync(ref).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${ref}: cannot open the checkpoint folder (${code ?? (err as Error).message})`
      + (code === 'ENOENT' ? '; nor is it a Hugging Face Hub id (org/name)' : ''));
  }
  if (!isDir) throw new Error(`${ref}: not a folder (give the checkpoint folder that holds config.json)`);
  return folderFiles(ref);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Writes model.onnx and its external data (streamed, one weight at a time) into `dir`; returns the model's path. */
function writeModel(dir: string, model: EmittedModel): string {
  if (model.externalData) {
    const fd = openSync(join(dir, model.externalData.location), 'w');
    try {
      for (const chunk of model.externalData.chunks) {
        for (let done = 0; done < chunk.length;) done += writeSync(fd, chunk, done, Math.min(1 << 30, chunk.length - done));
      }
    } finally { closeSync(fd); }
  }
  const path = join(dir, 'model.onnx');
  writeFileSync(path, model.model);
  return path;
}

async function withModelFolder<T>(model: EmittedModel, use: (path: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'deberta-ts-'));
  try {
    return await use(writeModel(dir, model));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `folder`/<sha256 of key>/model.onnx, written by the first caller: into a folder of its own, then
 * renamed into place, so a session never sees a half-written model and two writers do not collide.
 */
async function sharedModelFile(folder: string, key: Uint8Array, make: () => Promise<EmittedModel>): Promise<string> {
  const dir = join(folder, createHash('sha256').update(key).digest('hex').slice(0, 32));
  const path = join(dir, 'model.onnx');
  if (existsSync(path)) return path;
  mkdirSync(folder, { recursive: true });
  const tmp = mkdtempSync(join(folder, '.writing-'));
  try {
    writeModel(tmp, await make());
    try {
      renameSync(tmp, dir);
    } catch (err) {
      if (!existsSync(path)) throw err; // another session wrote it first: use theirs
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return path;
}

let threads: number | undefined;

// A buffer transferred into a message on a channel whose ports are closed is freed with the message, on the
// event loop's next turn; Node 20 has no ArrayBuffer.prototype.transfer to do it in place.
function release(buffers: ArrayBuffer[]): void {
  if (!buffers.length) return;
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, buffers);
  port1.close();
  port2.close();
}

type OrtCommon = typeof OrtCommonModule;
let ortCommon: OrtCommon | undefined;

export const nodePlatform: Platform = {
  name: 'node',
  ort: async () => (await import('onnxruntime-node')) as unknown as Ort,
  // onnxruntime-node is CommonJS: its env is that of the onnxruntime-common it requires (loading which starts
  // no native code), not of the ES module build an `import` would give.
  ortEnv: () => (ortCommon ??= createRequire(createRequire(import.meta.url).resolve('onnxruntime-node'))('onnxruntime-common') as OrtCommon).env,
  envDefaults: () => ({ allowLocalModels: true, localModelPath: '', endpoint: defaultEndpoint(), cacheDir: defaultCacheDir() }),
  open: openFolder,
  defaultThreads: () => threads ?? availableParallelism(),
  configure: (opts: RuntimeOptions) => { if (opts.threads !== undefined) threads = opts.threads; },
  embeddedModel: (name) => {
    const dir = join(MODELS_DIR, name);
    return existsSync(join(dir, 'config.json')) ? dir : undefined;
  },
  weightRegion: (t) => (t instanceof FileTensor ? t.fileRegion : undefined),
  withModelFolder,
  sharedModelFile,
  release,
};

setPlatform(nodePlatform);
