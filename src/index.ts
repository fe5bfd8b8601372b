// deberta-ts for Node: the shared API (./api.ts) on onnxruntime-node, with checkpoints read from folders
// on disk (or URLs), plus the functions that read and write files.
import './platform/node.ts';

export * from './api.ts';
export { readDebertaConfig, writeDebertaConfig } from './models/deberta/config-file.ts';
export { readSafetensors, writeSafetensors } from './io/safetensors.ts';
export { readTorchCheckpoint, folderFiles } from './io/node-files.ts';
export { MODELS_DIR } from './platform/node.ts';
export { hubFiles, type HubFiles } from './hub/files.ts';
export { downloadModel, type DownloadOptions } from './hub/download.ts';
export { scanCache, removeFromCache, type CachedRepo } from './hub/cache.ts';
export { defaultCacheDir } from './hub/settings.ts';
