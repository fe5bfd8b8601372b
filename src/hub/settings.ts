// The Hub settings in force, from the options given and else huggingface_hub's environment variables, so a
// cache and a token that Python uses are used here too. Node only.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { envAssigned } from '../env.ts';
import { DEFAULT_ENDPOINT, DEFAULT_REVISION, type HubOptions, type ProgressCallback } from './id.ts';

export interface HubSettings {
  endpoint: string;
  revision: string;
  cacheDir: string;
  token: string | undefined;
  offline: boolean;
  /** Why the Hub is not asked, when it is not (for messages). */
  offlineWhy: string;
  progress: ProgressCallback | undefined;
}

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

/** huggingface_hub's reading of a boolean variable. */
export function envTrue(name: string): boolean {
  return ['1', 'on', 'yes', 'true'].includes((env(name) ?? '').toLowerCase());
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(): string {
  return env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface');
}

/** `$HF_HUB_CACHE` (or the older `$HUGGINGFACE_HUB_CACHE`), else `$HF_HOME/hub`. */
export function defaultCacheDir(): string {
  return env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE') ?? join(hfHome(), 'hub');
}

/** `$HF_TOKEN`, else the file `$HF_TOKEN_PATH` or `$HF_HOME/token` (what `hf auth login` writes). */
export function defaultToken(): string | undefined {
  const fromEnv = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  if (fromEnv !== undefined) return fromEnv.trim();
  try {
    const t = readFileSync(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token'), 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

/** The Hub's address when no option names one: `$HF_ENDPOINT`, else huggingface.co. */
export function defaultEndpoint(): string {
  return (env('HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** Each setting from the options given, else what was assigned to `env`, else huggingface_hub's environment variables. */
export function hubSettings(o: HubOptions = {}): HubSettings {
  const assigned = envAssigned();
  const offlineWhy = o.localFilesOnly !== undefined ? (o.localFilesOnly ? 'localFilesOnly' : '')
    : assigned.allowRemoteModels === false ? 'env.allowRemoteModels is false'
      : envTrue('HF_HUB_OFFLINE') ? 'HF_HUB_OFFLINE=1' : '';
  const revision = o.revision ?? DEFAULT_REVISION;
  if (typeof revision !== 'string' || revision === '' || revision.split('/').includes('..')) {
    throw new Error(`revision must be a branch, tag or commit, got ${JSON.stringify(revision)}`);
  }
  return {
    endpoint: (o.endpoint ?? assigned.remoteHost ?? defaultEndpoint()).replace(/\/+$/, ''),
    revision,
    cacheDir: o.cacheDir ?? assigned.cacheDir ?? defaultCacheDir(),
    token: o.token === false ? undefined : o.token ?? defaultToken(),
    offline: offlineWhy !== '',
    offlineWhy,
    progress: o.progress_callback,
  };
}
