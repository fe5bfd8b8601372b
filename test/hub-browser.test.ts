// In browsers a Hub id maps to the Hub's resolve URL (no cache but the browser's); a path-like reference
// stays a URL; transformers.js' env settings (a local model path tried first, remote models refused, the
// Hub's address, ONNX Runtime Web's thread count) apply. Checked on the browser platform object against the
// Hub stand-in (fetch follows the 302) and a static server.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ortWeb from 'onnxruntime-web';
import { browserPlatform } from '../src/platform/browser.ts';
import { env, resetEnv } from '../src/env.ts';
import { readJson } from '../src/io/files.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { fakeCommit, folderContents, HubStandIn, sha256, type StandInRepo } from './helpers/hub-server.ts';

let hub: HubStandIn;
let files: Record<string, Uint8Array>;
let site: Server;
let siteUrl: string;
before(async () => {
  // A web server with one model under /models/org/local/.
  site = createServer((req, res) => {
    const file = req.url?.startsWith('/models/org/local/') ? files[req.url.slice('/models/org/local/'.length)] : undefined;
    res.writeHead(file ? 200 : 404).end(file);
  }).listen(0, '127.0.0.1');
  await once(site, 'listening');
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  files = folderContents(withTinyTokenizer('v3-buckets-seqcls'));
  const v1 = { ...files, 'config.json': new TextEncoder().encode('{"tag": "v1"}') };
  const repo: StandInRepo = { commits: { [fakeCommit('main')]: files, [fakeCommit('v1')]: v1 }, refs: { main: fakeCommit('main'), v1: fakeCommit('v1') } };
  hub = await HubStandIn.start({ 'org/tiny': repo });
});
afterEach(() => resetEnv());
after(async () => {
  site.close();
  await hub.stop();
  cleanup();
});

test('browser platform: org/name at a revision reads from {endpoint}/{repo}/resolve/{revision}/', async () => {
  const main = await browserPlatform.open('org/tiny', { endpoint: hub.url });
  assert.equal(main.where, `${hub.url}/org/tiny/resolve/main/`);
  assert.deepEqual(await main.read('tokenizer_config.json'), files['tokenizer_config.json']);
  assert.equal(sha256(await main.read('model.safetensors')), sha256(files['model.safetensors']!)); // through the 302
  assert.equal(await main.has('spm.model'), false);
  const v1 = await browserPlatform.open('org/tiny', { endpoint: hub.url, revision: 'v1' });
  assert.deepEqual(await readJson(v1, 'config.json'), { tag: 'v1' });
  // A URL stays a URL.
  assert.equal((await browserPlatform.open(`${hub.url}/org/tiny/resolve/main/`)).where, `${hub.url}/org/tiny/resolve/main/`);
});

test('browser platform: env defaults as transformers.js has them in browsers; cacheDir cannot be set', () => {
  assert.equal(env.allowLocalModels, false);
  assert.equal(env.localModelPath, '/models/');
  assert.equal(env.remoteHost, 'https://huggingface.co/');
  assert.equal(env.cacheDir, null);
  assert.throws(() => { env.cacheDir = '/tmp'; }, /^TypeError: env\.cacheDir: browsers cache downloads in their HTTP cache/);
  assert.equal(env.backends.onnx, ortWeb.env);
});

test('browser platform: env.localModelPath tried first when allowed, then the Hub at env.remoteHost; env.allowRemoteModels = false refuses the Hub', async () => {
  env.remoteHost = hub.url;
  assert.equal((await browserPlatform.open('org/tiny')).where, `${hub.url}/org/tiny/resolve/main/`);
  env.allowLocalModels = true;
  env.localModelPath = `${siteUrl}/models/`;
  const local = await browserPlatform.open('org/local');
  assert.equal(local.where, `${siteUrl}/models/org/local/`);
  assert.deepEqual(await local.read('tokenizer_config.json'), files['tokenizer_config.json']);
  // Not on the site: the Hub.
  assert.equal((await browserPlatform.open('org/tiny')).where, `${hub.url}/org/tiny/resolve/main/`);
  env.allowRemoteModels = false;
  assert.equal((await browserPlatform.open('org/local')).where, `${siteUrl}/models/org/local/`);
  await assert.rejects(browserPlatform.open('org/tiny'),
    { message: `org/tiny: not fetched from the Hub (env.allowRemoteModels is false), and found no ${siteUrl}/models/org/tiny/config.json` });
  // A call's own option wins.
  assert.equal((await browserPlatform.open('org/tiny', { localFilesOnly: false })).where, `${hub.url}/org/tiny/resolve/main/`);
  env.allowLocalModels = false;
  await assert.rejects(browserPlatform.open('org/local'), { message: 'org/local: not fetched from the Hub (env.allowRemoteModels is false), and env.allowLocalModels is false' });
});

test("browser platform: a thread count set in env.backends.onnx is kept; otherwise the platform's default", async () => {
  const saved = ortWeb.env.wasm.numThreads;
  try {
    ortWeb.env.wasm.numThreads = undefined;
    await browserPlatform.ort();
    assert.equal(ortWeb.env.wasm.numThreads, browserPlatform.defaultThreads());
    env.backends.onnx.wasm.numThreads = 3;
    await browserPlatform.ort();
    assert.equal(ortWeb.env.wasm.numThreads, 3);
  } finally {
    ortWeb.env.wasm.numThreads = saved;
  }
});
