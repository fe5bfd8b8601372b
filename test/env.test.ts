// transformers.js' `env` in Node: a Hub id read from a folder under env.localModelPath, or from the Hub when
// env.allowLocalModels is false; env.allowRemoteModels = false answering from the cache alone; env.remoteHost
// and env.cacheDir as defaults between a call's options and huggingface_hub's environment variables; unknown
// settings refused; env.backends.onnx being the very object onnxruntime-node reads.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AutoTokenizer, env, pipeline, type ClassificationResult } from '../src/index.ts';
import { resetEnv } from '../src/env.ts';
import { cleanup, tempDir, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { folderContents, HubStandIn, oneCommitRepo } from './helpers/hub-server.ts';

let hub: HubStandIn;
let localRoot: string;
let dead: string; // an address where nothing listens
const labels = (names: string[]) => (c: Record<string, unknown>) => {
  c.id2label = Object.fromEntries(names.map((n, i) => [i, n]));
  c.label2id = Object.fromEntries(names.map((n, i) => [n, i]));
};

before(async () => {
  // The Hub's org/tiny and the local copy differ in their labels, so each result says where it came from.
  const remote = withTinyTokenizer('v3-buckets-seqcls', labels(['neg', 'mid', 'pos']));
  const local = withTinyTokenizer('v3-buckets-seqcls', labels(['local-a', 'local-b', 'local-c']));
  localRoot = tempDir('env-models-');
  mkdirSync(join(localRoot, 'org'));
  cpSync(local, join(localRoot, 'org', 'tiny'), { recursive: true });
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  dead = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  probe.close();
  hub = await HubStandIn.start({ 'org/tiny': oneCommitRepo(folderContents(remote)), 'org/other': oneCommitRepo(folderContents(remote), 'other') });
});
afterEach(() => resetEnv());
after(async () => {
  await hub.stop();
  cleanup();
});

async function labelsOf(model: string, options: Record<string, unknown> = {}): Promise<string[]> {
  const classify = await pipeline('text-classification', model, options);
  try {
    return ((await classify('a quiet hotel', { topK: null })) as ClassificationResult[]).map((r) => r.label).sort();
  } finally {
    await classify.dispose();
  }
}

test('env: the defaults in Node are the working directory, the Hub and huggingface_hub\'s cache', () => {
  assert.equal(env.allowRemoteModels, true);
  assert.equal(env.allowLocalModels, true);
  assert.equal(env.localModelPath, '');
  const saved = { endpoint: process.env.HF_ENDPOINT, cache: process.env.HF_HUB_CACHE };
  try {
    delete process.env.HF_ENDPOINT;
    process.env.HF_HUB_CACHE = '/somewhere/hub';
    assert.equal(env.remoteHost, 'https://huggingface.co/');
    assert.equal(env.cacheDir, '/somewhere/hub');
    process.env.HF_ENDPOINT = 'http://mirror.example/';
    assert.equal(env.remoteHost, 'http://mirror.example/');
  } finally {
    for (const [k, v] of [['HF_ENDPOINT', saved.endpoint], ['HF_HUB_CACHE', saved.cache]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
});

test('env.localModelPath: a Hub id is read from the folder of that name under it, without asking the Hub', async () => {
  env.localModelPath = `${localRoot}/`;
  env.remoteHost = hub.url;
  env.cacheDir = tempDir('env-cache-');
  const before = hub.requests.length;
  assert.deepEqual(await labelsOf('org/tiny'), ['local-a', 'local-b', 'local-c']);
  assert.equal((await AutoTokenizer.fromPretrained('org/tiny')).encode('abc').length, 5);
  assert.equal(hub.requests.length, before, 'no request for a model found locally');
  // An id with no folder there comes from the Hub.
  assert.deepEqual(await labelsOf('org/other'), ['mid', 'neg', 'pos']);
  assert.ok(hub.requests.length > before);
  assert.ok(existsSync(join(env.cacheDir!, 'models--org--other', 'refs', 'main')), 'downloaded into env.cacheDir');
});

test('env.allowLocalModels = false: the id goes to the Hub even where the folder exists', async () => {
  env.localModelPath = localRoot;
  env.remoteHost = hub.url;
  env.cacheDir = tempDir('env-cache-');
  env.allowLocalModels = false;
  assert.deepEqual(await labelsOf('org/tiny'), ['mid', 'neg', 'pos']);
  // A folder given as a path is still a folder.
  assert.deepEqual(await labelsOf(join(localRoot, 'org', 'tiny')), ['local-a', 'local-b', 'local-c']);
});

test('env.allowRemoteModels = false: the cache answers with no request; a cold cache names the setting; an option overrides it', async () => {
  env.remoteHost = hub.url;
  const warm = tempDir('env-cache-');
  env.cacheDir = warm;
  assert.deepEqual(await labelsOf('org/other'), ['mid', 'neg', 'pos']); // fills the cache

  env.allowRemoteModels = false;
  const before = hub.requests.length;
  assert.deepEqual(await labelsOf('org/other'), ['mid', 'neg', 'pos']);
  assert.equal(hub.requests.length, before, 'nothing asked of the Hub');
  env.cacheDir = tempDir('env-cold-');
  await assert.rejects(labelsOf('org/other'),
    /^Error: org\/other\/config\.json: not in the cache \(.*env-cold-.*\) and the Hub is not asked \(env\.allowRemoteModels is false\), nor is there a folder 'org\/other'; download it once online \(deberta download org\/other\)$/);
  // A call's own option wins over env.
  assert.deepEqual(await labelsOf('org/other', { local_files_only: false }), ['mid', 'neg', 'pos']);
  assert.ok(hub.requests.length > before);
});

test('env.remoteHost sits between a call\'s endpoint and $HF_ENDPOINT', async () => {
  const saved = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = dead;
  try {
    env.cacheDir = tempDir('env-cache-');
    await assert.rejects(labelsOf('org/other'), new RegExp(`cannot reach ${dead}/org/other/resolve/main/config\\.json \\(ECONNREFUSED\\)`));
    env.remoteHost = `${hub.url}/`;
    assert.deepEqual(await labelsOf('org/other'), ['mid', 'neg', 'pos']);
    env.cacheDir = tempDir('env-cache-');
    await assert.rejects(labelsOf('org/other', { endpoint: dead }), new RegExp(`cannot reach ${dead}/`));
  } finally {
    if (saved === undefined) delete process.env.HF_ENDPOINT; else process.env.HF_ENDPOINT = saved;
  }
});

test('env: values are checked, and settings this library does not have are refused by name', () => {
  const e = env as unknown as Record<string, unknown>;
  assert.throws(() => { e.allowRemoteModels = 'no'; }, { name: 'TypeError', message: 'env.allowRemoteModels must be true or false, got "no"' });
  assert.throws(() => { e.remoteHost = 'hf-mirror.com'; }, { name: 'TypeError', message: "env.remoteHost must be an http(s) URL such as 'https://huggingface.co/', got \"hf-mirror.com\"" });
  assert.throws(() => { e.cacheDir = null; }, { name: 'TypeError', message: 'env.cacheDir must be a folder path, got null' });
  assert.throws(() => { e.localModelPath = 3; }, /^TypeError: env\.localModelPath must be a string/);
  assert.throws(() => { e.useFSCache = false; }, {
    name: 'TypeError',
    message: 'env.useFSCache: not a setting of deberta-ts (its settings: allowRemoteModels, allowLocalModels, localModelPath, remoteHost, cacheDir)',
  });
  assert.throws(() => { e.backends = {}; }, /^TypeError: env\.backends: read-only/);
  assert.equal(env.allowRemoteModels, true, 'a refused value changes nothing');
});

test("env.backends.onnx is the env onnxruntime-node's sessions read", async () => {
  const ortNode = await import('onnxruntime-node');
  assert.equal(env.backends.onnx, ortNode.env);
  assert.equal(env.backends.onnx, (createRequire(import.meta.url)('onnxruntime-node') as typeof ortNode).env);
  assert.equal(env.backends.onnx.versions.node, '1.30.0');
});
