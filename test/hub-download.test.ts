// Models by Hub id against a Hub stand-in on 127.0.0.1: the same outputs as the folder, only the files the
// loaders read fetched, huggingface_hub's cache layout written (blobs by etag, relative symlinks, refs,
// .no_exist), revisions by branch, tag and commit, sharded and pickled weights, progress events, and the
// token sent to the Hub but not to the host its redirects point at.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModelForSequenceClassification, AutoTokenizer, loadModel, pipeline, type ProgressInfo } from '../src/index.ts';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import type { Tensor } from '../src/tensor.ts';
import { cleanup, tempDir, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { fakeCommit, folderContents, gitSha1, HubStandIn, oneCommitRepo, sha256, type StandInRepo } from './helpers/hub-server.ts';

let hub: HubStandIn;
let folder: string;
let bin: string;
let files: Record<string, Uint8Array>;
const TOKEN = 'hf_test_token';
const TEXTS = ['a cheap and quiet hotel', 'terrible service, never again'];

before(async () => {
  folder = withTinyTokenizer('v3-buckets-seqcls', (c) => { c.id2label = { 0: 'neg', 1: 'mid', 2: 'pos' }; c.label2id = { neg: 0, mid: 1, pos: 2 }; });
  files = folderContents(folder);
  // A second revision (tag v1) whose labels differ.
  const v1 = { ...files, 'config.json': new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(files['config.json'])), id2label: { 0: 'bad', 1: 'meh', 2: 'good' }, label2id: { bad: 0, meh: 1, good: 2 } })) };
  const main = fakeCommit('main');
  const tagged = fakeCommit('v1');
  const repo: StandInRepo = { commits: { [main]: files, [tagged]: v1 }, refs: { main, v1: tagged } };

  // Sharded safetensors: the tensors split over two files with an index.
  const tensors = readSafetensors(join(folder, 'model.safetensors')).tensors;
  const names = [...tensors.keys()];
  const shardDir = tempDir();
  const parts: Record<string, Map<string, Tensor>> = { 'model-00001-of-00002.safetensors': new Map(), 'model-00002-of-00002.safetensors': new Map() };
  const weightMap: Record<string, string> = {};
  names.forEach((n, i) => {
    const shard = i < names.length / 2 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors';
    parts[shard]!.set(n, tensors.get(n)!);
    weightMap[n] = shard;
  });
  const sharded: Record<string, Uint8Array> = { ...files };
  delete sharded['model.safetensors'];
  for (const [shard, t] of Object.entries(parts)) {
    writeSafetensors(join(shardDir, shard), t);
    sharded[shard] = new Uint8Array(readFileSync(join(shardDir, shard)));
  }
  sharded['model.safetensors.index.json'] = new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap }));

  // Pickled weights only.
  bin = withTinyTokenizer('v3-buckets-seqcls-bin', (c) => { c.id2label = { 0: 'neg', 1: 'mid', 2: 'pos' }; c.label2id = { neg: 0, mid: 1, pos: 2 }; });

  hub = await HubStandIn.start({
    'org/tiny': repo,
    'org/sharded': oneCommitRepo(sharded, 'sharded'),
    'org/pickled': oneCommitRepo(folderContents(bin), 'pickled'),
    tiny: oneCommitRepo(files, 'bare'),
  }, { cdn: 'other-origin' });
});

after(async () => {
  await hub.stop();
  cleanup();
});

const round = (r: unknown) => JSON.parse(JSON.stringify(r, (_, v: unknown) => (typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v))) as unknown;

test('a pipeline by Hub id gives the folder\'s outputs, fetches only what it reads, and writes huggingface_hub\'s cache', async () => {
  const cacheDir = tempDir('hub-cache-');
  const events: ProgressInfo[] = [];
  const byFolder = await pipeline('text-classification', folder, { threads: 1 });
  const byId = await pipeline('text-classification', 'org/tiny', { threads: 1, endpoint: hub.url, cacheDir, token: TOKEN, progress_callback: (e) => events.push(e) });
  try {
    assert.deepEqual(round(await byId(TEXTS, { topK: null })), round(await byFolder(TEXTS, { topK: null })));
    assert.equal((await byId(TEXTS[0]!))[0]!.label, (await byFolder(TEXTS[0]!))[0]!.label);
  } finally {
    await byFolder.dispose();
    await byId.dispose();
  }
  // Downloaded: config, weights, the tokenizer's files; nothing else.
  const got = hub.requests.filter((r) => r.method === 'GET' && r.server === 'hub').map((r) => r.path.split('/resolve/main/')[1]).sort();
  assert.deepEqual(got, ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
  const cdnGets = hub.requests.filter((r) => r.server === 'cdn');
  assert.deepEqual(cdnGets.map((r) => r.path), [`/cdn/${sha256(files['model.safetensors']!)}`]);
  // The token goes to the Hub, not to the storage host its redirect names.
  assert.ok(hub.requests.filter((r) => r.server === 'hub').every((r) => r.auth === `Bearer ${TOKEN}`));
  assert.ok(cdnGets.every((r) => r.auth === undefined));

  const root = join(cacheDir, 'models--org--tiny');
  const commit = fakeCommit('main');
  assert.equal(readFileSync(join(root, 'refs', 'main'), 'utf8'), commit);
  const snap = join(root, 'snapshots', commit);
  assert.deepEqual(readdirSync(snap).sort(), ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  for (const f of readdirSync(snap)) {
    assert.ok(lstatSync(join(snap, f)).isSymbolicLink(), `${f} is a symlink`);
    const etag = f === 'model.safetensors' ? sha256(files[f]!) : gitSha1(files[f]!);
    assert.equal(readlinkSync(join(snap, f)), `../../blobs/${etag}`);
    assert.deepEqual(new Uint8Array(readFileSync(join(root, 'blobs', etag))), files[f]);
  }
  // Files the tokenizer looked for and the repository lacks are remembered as missing.
  assert.ok(existsSync(join(root, '.no_exist', commit, 'special_tokens_map.json')));
  assert.ok(existsSync(join(root, '.no_exist', commit, 'added_tokens.json')));
  assert.deepEqual(readdirSync(join(root, 'blobs')).filter((b) => b.endsWith('.incomplete')), []);

  // Progress in transformers.js' shape: each downloaded file initiate → download → progress… → done, then ready.
  const st = events.filter((e) => e.file === 'model.safetensors').map((e) => e.status);
  assert.equal(st[0], 'initiate');
  assert.equal(st[1], 'download');
  assert.equal(st.at(-1), 'done');
  const last = events.filter((e) => e.file === 'model.safetensors' && e.status === 'progress').at(-1)!;
  assert.deepEqual([last.loaded, last.total, last.progress], [files['model.safetensors']!.length, files['model.safetensors']!.length, 100]);
  assert.deepEqual(events.at(-1), { status: 'ready', name: 'org/tiny', task: 'text-classification', model: 'org/tiny' });

  // A second load asks the Hub (HEAD) but downloads nothing.
  const before = hub.requests.length;
  const again = await pipeline('text-classification', 'org/tiny', { threads: 1, endpoint: hub.url, cacheDir });
  await again.dispose();
  const later = hub.requests.slice(before);
  assert.ok(later.length > 0);
  assert.deepEqual(later.filter((r) => r.method !== 'HEAD'), []);
});

test('revisions: a tag, a commit (answered from the cache without a request once there), a bare name', async () => {
  const cacheDir = tempDir('hub-cache-');
  const o = { endpoint: hub.url, cacheDir, threads: 1 };
  const tagged = await pipeline('text-classification', 'org/tiny', { ...o, revision: 'v1' });
  const labels = (await tagged(TEXTS[0]!, { topK: null })).map((r) => r.label).sort();
  await tagged.dispose();
  assert.deepEqual(labels, ['bad', 'good', 'meh']);
  assert.equal(readFileSync(join(cacheDir, 'models--org--tiny', 'refs', 'v1'), 'utf8'), fakeCommit('v1'));

  const commit = fakeCommit('v1');
  const n = hub.requests.length;
  const model = await AutoModelForSequenceClassification.fromPretrained('org/tiny', { ...o, revision: commit });
  const tok = await AutoTokenizer.fromPretrained('org/tiny', { endpoint: hub.url, cacheDir, revision: commit });
  assert.equal(hub.requests.length, n, 'a cached commit needs no request');
  assert.deepEqual(Object.values(model.config.id2label).sort(), ['bad', 'good', 'meh']);
  const { logits } = await model(tok([TEXTS[0]!]));
  assert.deepEqual(logits!.dims, [1, 3]);
  await model.dispose();

  const bare = await loadModel('tiny', 'auto', o);
  assert.equal(bare.head, 'sequence-classification');
  await bare.dispose();
  assert.ok(existsSync(join(cacheDir, 'models--tiny', 'refs', 'main')));
});

test('sharded safetensors and pickled weights by id: the index and every shard, or pytorch_model.bin when there is no safetensors', async () => {
  const cacheDir = tempDir('hub-cache-');
  const o = { endpoint: hub.url, cacheDir, threads: 1 };
  for (const [id, dir] of [['org/sharded', folder], ['org/pickled', bin]] as const) {
    const ref = await pipeline('text-classification', dir, { threads: 1 });
    const p = await pipeline('text-classification', id, o);
    assert.deepEqual(round(await p(TEXTS, { topK: null })), round(await ref(TEXTS, { topK: null })), id);
    await p.dispose();
    await ref.dispose();
  }
  const shardGets = hub.requests.filter((r) => r.method === 'GET' && r.server === 'hub' && r.path.startsWith('/org/sharded/')).map((r) => r.path.split('/').pop());
  assert.ok(shardGets.includes('model.safetensors.index.json'));
  const cdn = hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET').map((r) => r.path);
  const shardShas = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((s) => `/cdn/${sha256(hub.repos.get('org/sharded')!.commits[fakeCommit('sharded')]![s]!)}`);
  for (const s of shardShas) assert.ok(cdn.includes(s), s);
  const pickled = readdirSync(join(cacheDir, 'models--org--pickled', 'snapshots', fakeCommit('pickled'))).sort();
  assert.deepEqual(pickled, ['config.json', 'pytorch_model.bin', 'tokenizer.json', 'tokenizer_config.json']);
});

test('a renamed repository: the Hub\'s relative redirect is followed, and the files land under the id asked for', async () => {
  const cacheDir = tempDir('hub-cache-');
  hub.renamed.set('old-org/tiny', 'org/tiny');
  try {
    const p = await pipeline('text-classification', 'old-org/tiny', { endpoint: hub.url, cacheDir, threads: 1 });
    const ref = await pipeline('text-classification', folder, { threads: 1 });
    assert.deepEqual(round(await p(TEXTS, { topK: null })), round(await ref(TEXTS, { topK: null })));
    await Promise.all([p.dispose(), ref.dispose()]);
  } finally {
    hub.renamed.clear();
  }
  assert.equal(readFileSync(join(cacheDir, 'models--old-org--tiny', 'refs', 'main'), 'utf8'), fakeCommit('main'));
  const moved = hub.requests.filter((r) => r.path.startsWith('/old-org/tiny/')).map((r) => r.method);
  assert.ok(moved.length > 0 && moved.every((m) => m === 'HEAD'), 'the old id is only asked with HEAD; the GETs go where it moved');
});

test('a path that is neither a folder nor a Hub id, and an id the Hub does not know, are named in the error', async () => {
  const cacheDir = tempDir('hub-cache-');
  await assert.rejects(loadModel('./no/such/folder', 'auto'), /no\/such\/folder: cannot open the checkpoint folder \(ENOENT\); nor is it a Hugging Face Hub id/);
  await assert.rejects(loadModel('org/unknown', 'auto', { endpoint: hub.url, cacheDir }),
    /org\/unknown: no such repository on http:\/\/127\.0\.0\.1:\d+ \(RepositoryNotFound, HTTP 404\).*token.*nor is there a folder 'org\/unknown' here/);
  // Nothing was cached for a repository that does not exist.
  assert.deepEqual(readdirSync(cacheDir), []);
});
