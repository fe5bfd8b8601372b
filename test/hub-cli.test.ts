// The command line against the Hub stand-in: `deberta classify --model org/name` downloads once with
// progress on stderr, then runs from the cache, also with the stand-in stopped and HF_HUB_OFFLINE=1;
// `deberta download` prints the snapshot folder; `deberta cache ls | rm`. Two processes fetching the same
// repository at once leave one whole copy, downloaded once. Settings come from HF_ENDPOINT and HF_HUB_CACHE.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { DownloadProgress } from '../src/cli/hub-args.ts';
import { pipeline } from '../src/index.ts';
import { cleanup, tempDir, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { fakeCommit, folderContents, HubStandIn, oneCommitRepo as oneCommitRepoOf, sha256, type StandInRepo } from './helpers/hub-server.ts';
import { SPAM_MODEL, startServe, type ServeProcess } from './helpers/serve-process.ts';

const ROOT = join(import.meta.dirname, '..');
let hub: HubStandIn;
let folder: string;
let files: Record<string, Uint8Array>;
let big: Record<string, Uint8Array>;
let repos: Record<string, StandInRepo>;

before(async () => {
  folder = withTinyTokenizer('v3-buckets-seqcls', (c) => { c.id2label = { 0: 'neg', 1: 'mid', 2: 'pos' }; c.label2id = { neg: 0, mid: 1, pos: 2 }; });
  files = folderContents(folder);
  const main = fakeCommit('main');
  const v1 = fakeCommit('v1');
  const repo: StandInRepo = { commits: { [main]: files, [v1]: files }, refs: { main, v1 } };
  // Weights of 8 MB (not parsed by `deberta download`), sent slowly so that two downloads overlap.
  big = { ...files, 'model.safetensors': new Uint8Array(randomBytes(8 << 20)) };
  repos = { 'org/tiny': repo, 'org/twice': { commits: { [main]: big }, refs: { main } } };
  hub = await HubStandIn.start(repos);
});

after(async () => {
  await hub.stop();
  cleanup();
});

/** `deberta …` from the sources in a child process (asynchronously: the stand-in answers from this one). */
async function deberta(args: string[], env: Record<string, string>): Promise<{ out: string; err: string }> {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', './src/platform/node.ts', 'src/cli/main.ts', ...args], {
    cwd: ROOT, env: { ...process.env, HF_TOKEN: '', HF_HUB_OFFLINE: '', ...env }, timeout: 120_000, maxBuffer: 16 << 20,
  });
  return { out: stdout, err: stderr };
}

test('deberta classify --model org/name: downloads once with progress, then runs from the cache, offline with the Hub gone', async () => {
  const cache = tempDir('hub-cli-');
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
  const text = 'a cheap and quiet hotel';
  const want = await pipeline('text-classification', folder, { threads: 1 });
  const expected = await want.run([text], { topK: 1 });
  await want.dispose();
  const args = ['classify', '--model', 'org/tiny', text, '--format', 'json', '--threads', '1'];

  const first = await deberta(args, env);
  const got = JSON.parse(first.out) as { label: string; score: number }[][];
  assert.equal(got[0]![0]!.label, expected[0]![0]!.label);
  assert.ok(Math.abs(got[0]![0]!.score - expected[0]![0]!.score) < 4 * 2 ** -23); // measured 0: a float32 floor
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
    assert.match(first.err, new RegExp(`downloading org/tiny/${f.replace('.', '\\.')}\\n`));
    assert.match(first.err, new RegExp(`downloaded org/tiny/${f.replace('.', '\\.')} in \\d+\\.\\d s\\n`));
  }
  const gets = hub.requests.filter((r) => r.method === 'GET').length;
  assert.equal(gets, 4);

  const second = await deberta(args, env);
  assert.equal(second.out, first.out);
  assert.doesNotMatch(second.err, /download/);
  assert.equal(hub.requests.filter((r) => r.method === 'GET').length, gets, 'nothing downloaded again');

  // `deberta download` prints the snapshot folder; another revision is another snapshot of the same blobs.
  const dl = await deberta(['download', 'org/tiny', '--revision', 'v1'], env);
  assert.equal(dl.out, `${join(cache, 'models--org--tiny', 'snapshots', fakeCommit('v1'))}\n`);
  assert.equal(readFileSync(join(cache, 'models--org--tiny', 'refs', 'v1'), 'utf8'), fakeCommit('v1'));
  assert.equal(hub.requests.filter((r) => r.method === 'GET').length, gets, 'same etags: the blobs are reused');

  const ls = JSON.parse((await deberta(['cache', 'ls', '--json'], env)).out) as { repo: string; refs: Record<string, string>; size: number; snapshots: string[] }[];
  assert.deepEqual(ls.map((r) => [r.repo, r.refs, r.snapshots.length]), [['org/tiny', { main: fakeCommit('main'), v1: fakeCommit('v1') }, 2]]);
  assert.equal(ls[0]!.size, Object.values(files).reduce((n, b) => n + b.length, 0));

  // The stand-in stopped: HF_HUB_OFFLINE=1 runs from the cache without asking.
  await hub.stop();
  const offline = await deberta(args, { ...env, HF_HUB_OFFLINE: '1' });
  assert.equal(offline.out, first.out);

  const rm = await deberta(['cache', 'rm', 'org/tiny', '--revision', 'v1'], env);
  assert.match(rm.out, /removed .*snapshots.*\n.*refs.v1\n$/);
  assert.ok(existsSync(join(cache, 'models--org--tiny', 'blobs', sha256(files['model.safetensors']!))), 'main still uses the blobs');
  await deberta(['cache', 'rm', 'org/tiny'], env);
  assert.equal((await deberta(['cache', 'ls'], env)).out, `no models in ${cache}\n`);
  await assert.rejects(deberta(['classify', '--model', 'org/tiny', 'x'], { ...env, HF_HUB_OFFLINE: '1' }),
    /deberta: org\/tiny\/config\.json: not in the cache .* and the Hub is not asked \(HF_HUB_OFFLINE=1\)/);
  hub = await HubStandIn.start(repos); // again, for the tests after this one
});

test('two processes downloading the same repository at once: one download of each file, one whole copy', async () => {
  const cache = tempDir('hub-cli-');
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
  hub.chunkDelayMs = 20; // 128 chunks: about 2.6 s for the weights
  hub.gates.set('model.safetensors', 2); // and they start only once both processes asked for them
  const from = hub.requests.length;
  try {
    const [a, b] = await Promise.all([deberta(['download', 'org/twice'], env), deberta(['download', 'org/twice'], env)]);
    const snap = join(cache, 'models--org--twice', 'snapshots', fakeCommit('main'));
    assert.equal(a.out, `${snap}\n`);
    assert.equal(b.out, `${snap}\n`);
    for (const [name, bytes] of Object.entries(big)) {
      assert.equal(sha256(readFileSync(join(snap, name))), sha256(bytes), name);
      assert.equal(hub.requests.slice(from).filter((r) => r.method === 'GET' && (r.path.endsWith(`/${name}`) || r.path === `/cdn/${sha256(bytes)}`)).length, 1, `${name} downloaded once`);
    }
    assert.deepEqual(readdirSync(join(cache, 'models--org--twice', 'blobs')).filter((f) => f.includes('.incomplete')), []);
    assert.ok(existsSync(join(cache, '.locks', 'models--org--twice')));
    // They did overlap: both asked for the weights' metadata before the one download of them ended.
    const log = hub.requests.slice(from);
    const heads = log.filter((r) => r.method === 'HEAD' && r.path.endsWith('/model.safetensors'));
    const get = log.find((r) => r.method === 'GET' && r.path === `/cdn/${sha256(big['model.safetensors']!)}`)!;
    assert.equal(heads.length, 2);
    assert.ok(heads.every((h) => h.at < get.finished!), 'the second process waited for the first one\'s download');
  } finally {
    hub.chunkDelayMs = 0;
    hub.gates.clear();
  }
});

test('download progress: a bar redrawn in place on a terminal, two lines per file otherwise', () => {
  class Sink extends Writable {
    text = '';
    constructor(public isTTY: boolean) { super(); }
    override _write(c: Buffer, _e: string, done: () => void) { this.text += c.toString(); done(); }
  }
  for (const tty of [true, false]) {
    const sink = new Sink(tty);
    const p = new DownloadProgress(sink);
    p.callback({ status: 'initiate', name: 'org/x', file: 'config.json' });
    p.callback({ status: 'done', name: 'org/x', file: 'config.json' }); // from the cache: nothing shown
    p.callback({ status: 'initiate', name: 'org/x', file: 'model.safetensors' });
    p.callback({ status: 'download', name: 'org/x', file: 'model.safetensors' });
    p.callback({ status: 'progress', name: 'org/x', file: 'model.safetensors', loaded: 5e6, total: 2e7, progress: 25 });
    p.callback({ status: 'progress', name: 'org/x', file: 'model.safetensors', loaded: 2e7, total: 2e7, progress: 100 });
    p.callback({ status: 'done', name: 'org/x', file: 'model.safetensors' });
    if (tty) {
      assert.match(sink.text, /^\rorg\/x\/model\.safetensors \[#{5}-{15}\] 5\.0 MB\/20 MB {2}.*\x1b\[K\rorg\/x\/model\.safetensors \[#{20}\] 20 MB\/20 MB .*\x1b\[K\r\x1b\[Kdownloaded org\/x\/model\.safetensors in \d+\.\d s\n$/);
    } else {
      assert.match(sink.text, /^downloading org\/x\/model\.safetensors\ndownloaded org\/x\/model\.safetensors in \d+\.\d s\n$/);
    }
  }
});

test('deberta serve --model org/name: fetched into the cache, then served from it', async () => {
  const stand = await HubStandIn.start({ 'org/spam': oneCommitRepoOf(folderContents(SPAM_MODEL)) });
  const cache = tempDir('hub-cli-');
  const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_HUB_CACHE: process.env.HF_HUB_CACHE };
  Object.assign(process.env, { HF_ENDPOINT: stand.url, HF_HUB_CACHE: cache });
  let s: ServeProcess | undefined;
  try {
    s = await startServe(['--model', 'org/spam', '--workers', '1', '--threads', '1']);
    assert.match(s.stderr(), /downloaded org\/spam\/model\.safetensors in/);
    assert.match(s.stderr(), new RegExp(`loaded spam \\(text-classification\\) from ${join(cache, 'models--org--spam', 'snapshots', fakeCommit('main'))}`));
    const text = 'WIN a FREE cruise! Reply now to claim your prize';
    const res = await fetch(`${s.base}/v1/text-classification`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [text] }) });
    assert.equal(res.status, 200);
    const body = await res.json() as unknown;
    const local = await pipeline('text-classification', SPAM_MODEL, { threads: 1 });
    const want = await local(text);
    await local.dispose();
    assert.equal(JSON.stringify(body).includes(`"label":"${want[0]!.label}"`), true, JSON.stringify(body));
  } finally {
    await s?.kill();
    await stand.stop();
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
});

test('--tokenizer org/name with a model folder: only the tokenizer\'s files are fetched; the table of cache ls', async () => {
  const cache = tempDir('hub-cli-');
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
  const from = hub.requests.length;
  const args = ['classify', 'a cheap and quiet hotel', '--format', 'json', '--threads', '1'];
  const byId = await deberta([...args, '--model', folder, '--tokenizer', 'org/tiny'], env);
  const byFolder = await deberta([...args, '--model', folder], env);
  assert.equal(byId.out, byFolder.out);
  const got = hub.requests.slice(from).filter((r) => r.method === 'GET').map((r) => r.path.split('/').pop()).sort();
  assert.deepEqual(got, ['tokenizer.json', 'tokenizer_config.json']);
  const table = (await deberta(['cache', 'ls'], env)).out.split('\n');
  assert.match(table[0]!, /^repo\s+size\s+revisions\s+files\s+modified\s+path$/);
  assert.match(table.find((l) => l.startsWith('org/tiny'))!, new RegExp(`^org/tiny\\s+\\d+(\\.\\d)?K\\s+main\\s+2\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+${join(cache, 'models--org--tiny')}$`));
  await assert.rejects(deberta([...args, '--model', folder, '--revision', 'v1'], env), /--revision is for Hugging Face Hub ids/);
});
