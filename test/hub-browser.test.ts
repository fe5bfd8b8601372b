// In browsers a Hub id maps to the Hub's resolve URL (no cache but the browser's); a path-like reference
// stays a URL. Checked on the browser platform object against the Hub stand-in (fetch follows the 302).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { browserPlatform } from '../src/platform/browser.ts';
import { readJson } from '../src/io/files.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { fakeCommit, folderContents, HubStandIn, sha256, type StandInRepo } from './helpers/hub-server.ts';

let hub: HubStandIn;
let files: Record<string, Uint8Array>;
before(async () => {
  files = folderContents(withTinyTokenizer('v3-buckets-seqcls'));
  const v1 = { ...files, 'config.json': new TextEncoder().encode('{"tag": "v1"}') };
  const repo: StandInRepo = { commits: { [fakeCommit('main')]: files, [fakeCommit('v1')]: v1 }, refs: { main: fakeCommit('main'), v1: fakeCommit('v1') } };
  hub = await HubStandIn.start({ 'org/tiny': repo });
});
after(async () => {
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
