// The Hub stand-in misbehaving: a connection cut mid-file (resumed with Range), 500s (tried again, then an
// error), each X-Error-Code, a gated repository, a body whose sha256 is wrong (refused, nothing cached).
// Then the cache alone: offline warm (same outputs, no request) and cold (an error naming repo and file),
// the Hub unreachable, a cache folder written by hand in huggingface_hub's layout, copies where links fail.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AutoTokenizer, loadModel, pipeline } from '../src/index.ts';
import { hubFiles } from '../src/hub/files.ts';
import { cleanup, tempDir, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { fakeCommit, folderContents, gitSha1, HubStandIn, oneCommitRepo, sha256 } from './helpers/hub-server.ts';

let hub: HubStandIn;
let folder: string;
let files: Record<string, Uint8Array>;
const TEXT = 'a cheap and quiet hotel';

before(async () => {
  folder = withTinyTokenizer('v3-buckets-seqcls');
  files = folderContents(folder);
  hub = await HubStandIn.start({
    'org/tiny': oneCommitRepo(files),
    'org/gated': { ...oneCommitRepo(files, 'gated'), gatedToken: 'hf_granted' },
  });
});

after(async () => {
  await hub.stop();
  cleanup();
});

/** An address on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((res) => s.close(() => res()));
  return `http://127.0.0.1:${port}`;
}

const round = (r: unknown) => JSON.parse(JSON.stringify(r, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v))) as unknown;
const blobsOf = (cacheDir: string, repo = 'models--org--tiny') => {
  try {
    return readdirSync(join(cacheDir, repo, 'blobs')).sort();
  } catch {
    return [];
  }
};

test('a connection cut mid-file is resumed with Range from the byte it stopped at; the file is whole', async () => {
  const cacheDir = tempDir('hub-cache-');
  const weights = files['model.safetensors']!;
  hub.fault('model.safetensors', 'cut');
  hub.fault('model.safetensors', 'cut');
  const from = hub.requests.length;
  const f = hubFiles('org/tiny', { endpoint: hub.url, cacheDir });
  const path = await f.fetch('model.safetensors');
  assert.deepEqual(new Uint8Array(readFileSync(path)), weights);
  const gets = hub.requests.slice(from).filter((r) => r.method === 'GET' && r.path.startsWith('/cdn/'));
  assert.equal(gets.length, 3);
  assert.equal(gets[0]!.range, undefined);
  // Each cut sends half of what was asked: the resumes start where the bytes stopped.
  const first = weights.length >> 1;
  const second = first + ((weights.length - first) >> 1);
  assert.deepEqual(gets.slice(1).map((g) => g.range), [`bytes=${first}-`, `bytes=${second}-`]);
  assert.deepEqual(blobsOf(cacheDir), [sha256(weights)]);
});

test('a connection that stops sending mid-file is given up after HF_HUB_DOWNLOAD_TIMEOUT and resumed', async () => {
  const cacheDir = tempDir('hub-cache-');
  hub.fault('model.safetensors', 'stall');
  process.env.HF_HUB_DOWNLOAD_TIMEOUT = '1';
  const from = hub.requests.length;
  const t0 = performance.now();
  try {
    const path = await hubFiles('org/tiny', { endpoint: hub.url, cacheDir }).fetch('model.safetensors');
    assert.deepEqual(new Uint8Array(readFileSync(path)), files['model.safetensors']);
  } finally {
    delete process.env.HF_HUB_DOWNLOAD_TIMEOUT;
  }
  const ms = performance.now() - t0;
  assert.ok(ms >= 1000 && ms < 10_000, `gave up after ${ms.toFixed(0)} ms`);
  const gets = hub.requests.slice(from).filter((r) => r.method === 'GET');
  assert.deepEqual(gets.map((g) => g.range), [undefined, `bytes=${files['model.safetensors']!.length >> 1}-`]);
});

test('500 is tried again; one that persists is an error naming the file, and nothing is cached', async () => {
  const cacheDir = tempDir('hub-cache-');
  hub.fault('config.json', '500');
  const f = hubFiles('org/tiny', { endpoint: hub.url, cacheDir });
  assert.deepEqual(new Uint8Array(readFileSync(await f.fetch('config.json'))), files['config.json']);

  const cold = tempDir('hub-cache-');
  for (let i = 0; i < 3; i++) hub.fault('tokenizer.json', '500');
  const g = hubFiles('org/tiny', { endpoint: hub.url, cacheDir: cold });
  await assert.rejects(g.fetch('tokenizer.json'), /^HubError: org\/tiny\/tokenizer\.json: HTTP 500 Internal Server Error from http:\/\/127\.0\.0\.1:\d+\/org\/tiny\/resolve\/main\/tokenizer\.json$/);
  assert.deepEqual(blobsOf(cold).filter((b) => !b.endsWith('.incomplete')), []);
  // The next try succeeds.
  hub.clearFaults();
  assert.deepEqual(new Uint8Array(readFileSync(await g.fetch('tokenizer.json'))), files['tokenizer.json']);
});

test('a body whose sha256 differs from the etag is refused and nothing enters the cache', async () => {
  const cacheDir = tempDir('hub-cache-');
  hub.fault('model.safetensors', 'corrupt');
  await assert.rejects(loadModel('org/tiny', 'auto', { endpoint: hub.url, cacheDir, threads: 1 }),
    new RegExp(`org/tiny/model\\.safetensors: the downloaded bytes have sha256 [0-9a-f]{64}, not the ${sha256(files['model.safetensors']!)} the Hub announced; nothing was cached`));
  assert.ok(!blobsOf(cacheDir).some((b) => b.startsWith(sha256(files['model.safetensors']!))), 'no blob, complete or not');
  assert.ok(!existsSync(join(cacheDir, 'models--org--tiny', 'snapshots', fakeCommit('main'), 'model.safetensors')));
});

test('the Hub\'s error codes become errors that name the repository, the file and what to do', async () => {
  const cacheDir = tempDir('hub-cache-');
  const o = { endpoint: hub.url, cacheDir };
  await assert.rejects(loadModel('org/none', 'auto', o), /org\/none: no such repository on http:\/\/127\.0\.0\.1:\d+ \(RepositoryNotFound, HTTP 404\); check the id, and if it is private or gated, give a token/);
  await assert.rejects(loadModel('org/tiny', 'auto', { ...o, revision: 'v9' }), /org\/tiny: revision 'v9' not found on .* \(RevisionNotFound\); give an existing branch, tag or commit \(the revision option, --revision\)/);
  await assert.rejects(hubFiles('org/tiny', o).fetch('vocab.json'), /org\/tiny\/vocab\.json: the repository has no such file at revision 'main'/);
  assert.ok(existsSync(join(cacheDir, 'models--org--tiny', '.no_exist', fakeCommit('main'), 'vocab.json')));
  await assert.rejects(loadModel('org/gated', 'auto', o), /org\/gated\/config\.json: org\/gated is a gated repository \(GatedRepo, HTTP 401\); accept its conditions .* give a token with access \(HF_TOKEN/);
  const granted = await AutoTokenizer.fromPretrained('org/gated', { ...o, token: 'hf_granted' });
  assert.deepEqual(granted.encode('abc').length, 5);
});

test('offline: a warm cache gives the same outputs with no request; a cold one names the repo and file', async () => {
  const cacheDir = tempDir('hub-cache-');
  const online = await pipeline('text-classification', 'org/tiny', { endpoint: hub.url, cacheDir, threads: 1 });
  const want = round(await online(TEXT, { topK: null }));
  await online.dispose();
  const n = hub.requests.length;
  const offline = await pipeline('text-classification', 'org/tiny', { endpoint: hub.url, cacheDir, threads: 1, localFilesOnly: true });
  assert.deepEqual(round(await offline(TEXT, { topK: null })), want);
  await offline.dispose();
  // HF_HUB_OFFLINE=1 does the same.
  process.env.HF_HUB_OFFLINE = '1';
  try {
    const tok = await AutoTokenizer.fromPretrained('org/tiny', { endpoint: hub.url, cacheDir });
    assert.equal(tok.encode('abc').length, 5);
    await assert.rejects(loadModel('org/tiny', 'auto', { endpoint: hub.url, cacheDir: tempDir('hub-cold-') }),
      /org\/tiny\/config\.json: not in the cache \(.*hub-cold-.*\) and the Hub is not asked \(HF_HUB_OFFLINE=1\), nor is there a folder 'org\/tiny'; download it once online \(deberta download org\/tiny\)/);
  } finally {
    delete process.env.HF_HUB_OFFLINE;
  }
  assert.equal(hub.requests.length, n, 'no request offline');
});

test('the Hub unreachable: the cache answers for the revision it has; without it, the error says so', async () => {
  const cacheDir = tempDir('hub-cache-');
  const online = await pipeline('text-classification', 'org/tiny', { endpoint: hub.url, cacheDir, threads: 1 });
  const want = round(await online(TEXT, { topK: null }));
  await online.dispose();
  const dead = await closedPort();
  const p = await pipeline('text-classification', 'org/tiny', { endpoint: dead, cacheDir, threads: 1 });
  assert.deepEqual(round(await p(TEXT, { topK: null })), want);
  await p.dispose();
  await assert.rejects(loadModel('org/tiny', 'auto', { endpoint: dead, cacheDir: tempDir('hub-cold-') }),
    new RegExp(`^Error: org/tiny/config\\.json: cannot reach ${dead}/org/tiny/resolve/main/config\\.json \\(ECONNREFUSED\\); no copy in the cache \\(.*hub-cold-[^)]*\\); nor is there a folder 'org/tiny' here: download it where the Hub can be reached \\(deberta download org/tiny\\) and copy the cache, or set HF_ENDPOINT to a mirror$`));
});

test('a cache folder written by hand in huggingface_hub\'s layout (relative links, refs/main) is read as it is', async () => {
  const cacheDir = tempDir('hub-hand-');
  const root = join(cacheDir, 'models--someone--handmade');
  const commit = 'a'.repeat(40);
  mkdirSync(join(root, 'blobs'), { recursive: true });
  mkdirSync(join(root, 'refs'), { recursive: true });
  mkdirSync(join(root, 'snapshots', commit), { recursive: true });
  writeFileSync(join(root, 'refs', 'main'), commit); // Python writes no newline
  for (const [name, bytes] of Object.entries(files)) {
    const etag = name.endsWith('.safetensors') ? sha256(bytes) : gitSha1(bytes);
    writeFileSync(join(root, 'blobs', etag), bytes);
    symlinkSync(`../../blobs/${etag}`, join(root, 'snapshots', commit, name));
  }
  const byFolder = await pipeline('text-classification', folder, { threads: 1 });
  const byId = await pipeline('text-classification', 'someone/handmade', { cacheDir, localFilesOnly: true, threads: 1 });
  const byCommit = await pipeline('text-classification', 'someone/handmade', { cacheDir, localFilesOnly: true, threads: 1, revision: commit });
  try {
    const want = round(await byFolder(TEXT, { topK: null }));
    assert.deepEqual(round(await byId(TEXT, { topK: null })), want);
    assert.deepEqual(round(await byCommit(TEXT, { topK: null })), want);
  } finally {
    await Promise.all([byFolder.dispose(), byId.dispose(), byCommit.dispose()]);
  }
  assert.deepEqual(readdirSync(join(root, 'snapshots', commit)).sort(), Object.keys(files).sort(), 'nothing added');
});

test('where the file system refuses symlinks, the snapshot holds copies of the blobs and loads the same', async () => {
  const cacheDir = tempDir('hub-cache-');
  const original = fs.symlinkSync;
  fs.symlinkSync = () => { throw Object.assign(new Error('EPERM: operation not permitted, symlink'), { code: 'EPERM' }); };
  syncBuiltinESMExports();
  try {
    const byId = await pipeline('text-classification', 'org/tiny', { endpoint: hub.url, cacheDir, threads: 1 });
    const byFolder = await pipeline('text-classification', folder, { threads: 1 });
    try {
      assert.deepEqual(round(await byId(TEXT, { topK: null })), round(await byFolder(TEXT, { topK: null })));
    } finally {
      await Promise.all([byId.dispose(), byFolder.dispose()]);
    }
  } finally {
    fs.symlinkSync = original;
    syncBuiltinESMExports();
  }
  const snap = join(cacheDir, 'models--org--tiny', 'snapshots', fakeCommit('main'));
  for (const f of readdirSync(snap)) {
    assert.ok(lstatSync(join(snap, f)).isFile(), `${f} is a copy`);
    assert.deepEqual(new Uint8Array(readFileSync(join(snap, f))), files[f]);
  }
});
