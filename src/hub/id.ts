// Hugging Face Hub ids and the options that say where and how a model is fetched by id. Pure and
// browser-safe: the Node side (src/hub/*.ts besides this file) adds the cache and the protocol.

/** What a download reports, in transformers.js' shape (`progress_callback`). */
export interface ProgressInfo {
  status: 'initiate' | 'download' | 'progress' | 'done' | 'ready';
  /** The repository id (or the folder or URL the model came from). */
  name: string;
  /** The file, for every status but 'ready'. */
  file?: string;
  /** Percent of the file fetched (0–100), on 'progress'. */
  progress?: number;
  /** Bytes fetched so far, on 'progress'. */
  loaded?: number;
  /** The file's size in bytes, on 'progress'. */
  total?: number;
  /** The task, on 'ready' from a pipeline. */
  task?: string;
  /** The model reference, on 'ready'. */
  model?: string;
}

export type ProgressCallback = (info: ProgressInfo) => void;

/** How a model given by Hub id is fetched. Each setting also comes from huggingface_hub's environment variable. */
export interface HubOptions {
  /** A branch, tag or commit (default 'main'). */
  revision?: string;
  /** The cache folder (default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`). Node only. */
  cacheDir?: string;
  /** An access token for private or gated repositories (default `$HF_TOKEN`, else the file `$HF_HOME/token`); false: none. */
  token?: string | false;
  /**
   * Never ask the Hub (default: `env.allowRemoteModels` false, or `$HF_HUB_OFFLINE` set to 1). Node: the cache
   * answers. Browsers: only a model under `env.localModelPath` (with `env.allowLocalModels`) can be read.
   */
  localFilesOnly?: boolean;
  /** The Hub's address (default `$HF_ENDPOINT`, else https://huggingface.co). */
  endpoint?: string;
  /** Called as files are fetched: transformers.js' events ('initiate', 'download', 'progress', 'done', 'ready'). */
  progress_callback?: ProgressCallback;
}

/** HubOptions' names (a record, so that the compiler holds the list to the interface). */
export const HUB_OPTIONS = Object.keys({
  revision: 1, cacheDir: 1, token: 1, localFilesOnly: 1, endpoint: 1, progress_callback: 1,
} satisfies Record<keyof HubOptions, 1>);

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_REVISION = 'main';

const SEGMENT = /^\w(?:[\w.-]*\w)?$/;

/** True for a valid Hub repository id (`org/name` or `name`), by huggingface_hub's rules. */
export function isHubId(ref: string): boolean {
  if (ref.length === 0 || ref.length > 96 || ref.includes('--') || ref.includes('..') || ref.endsWith('.git')) return false;
  const parts = ref.split('/');
  return parts.length <= 2 && parts.every((p) => SEGMENT.test(p));
}

/** The repository's folder in the cache: `models--org--name`. */
export function repoFolderName(repo: string): string {
  return `models--${repo.split('/').join('--')}`;
}

/** The URL a file is fetched from: `{endpoint}/{repo}/resolve/{revision}/{file}` (revision and file URL-encoded as the Hub wants). */
export function resolveUrl(endpoint: string, repo: string, revision: string, file?: string): string {
  const base = `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/`;
  return file === undefined ? base : base + file.split('/').map(encodeURIComponent).join('/');
}

/** `repo` or `repo@revision` (revision shown only when not main), for messages. */
export function repoLabel(repo: string, revision: string): string {
  return revision === DEFAULT_REVISION ? repo : `${repo}@${revision}`;
}
