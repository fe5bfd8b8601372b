// The one interface every loader reads through (src/io/files.ts): a folder, a URL (served here on
// 127.0.0.1) and files in memory load the same checkpoint to the same outputs; errors name the file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { memoryFiles, urlFiles, type ModelFiles } from '../src/io/files.ts';
import { loadModel } from '../src/models/auto.ts';
import { pipeline } from '../src/pipelines/index.ts';
import { AutoTokenizer } from '../src/tokenizers/auto.ts';
import { configureRuntime, platform } from '../src/platform/index.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';

after(cleanup);

const TEXT = 'files from anywhere';

function inMemory(dir: string): ModelFiles {
  return memoryFiles(Object.fromEntries(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))])), 'mem:/ckpt');
}

/** Serves `dir` on 127.0.0.1 and records every path asked for. */
async function serve(dir: string) {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url!, 'http://x').pathname).replace(/^\/ckpt\//, '');
    asked.push(name);
    let body: Buffer | undefined;
    try {
      if (!name.includes('/')) body = readFileSync(join(dir, name));
    } catch { /* 404 */ }
    if (body) res.writeHead(200).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ckpt`;
  return { url, asked, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test('a checkpoint in memory and by URL gives the folder\'s outputs; only the files read are fetched', async () => {
  const dir = withTinyTokenizer('v3-buckets-seqcls');
  const fromFolder = await pipeline('text-classification', dir, { threads: 1 });
  const want = await fromFolder(TEXT, { topK: null });
  await fromFolder.dispose();
  assert.equal(want.length, 3);

  const fromMemory = await pipeline('text-classification', inMemory(dir), { threads: 1 });
  assert.deepEqual(await fromMemory(TEXT, { topK: null }), want);
  await fromMemory.dispose();

  const site = await serve(dir);
  try {
    const fromUrl = await pipeline('text-classification', site.url, { threads: 1 });
    assert.deepEqual(await fromUrl(TEXT, { topK: null }), want);
    await fromUrl.dispose();
    // tokenizer.json answers first, so spm.model, vocab.json and merges.txt are never asked for.
    assert.deepEqual([...new Set(site.asked)].filter((f) => ['spm.model', 'vocab.json', 'merges.txt', 'pytorch_model.bin'].includes(f)), []);
    assert.ok(site.asked.includes('model.safetensors') && site.asked.includes('tokenizer.json'));
  } finally {
    await site.close();
  }
});

test('weights in memory equal the folder\'s, tensor for tensor; a URL that is missing names it', async () => {
  const dir = 'test/fixtures/models/v3-buckets-seqcls';
  const disk = await loadCheckpointTensors(dir);
  const mem = await loadCheckpointTensors(inMemory(dir));
  assert.deepEqual(mem.files, ['mem:/ckpt/model.safetensors']);
  assert.deepEqual([...mem.tensors.keys()].sort(), [...disk.tensors.keys()].sort());
  for (const [k, t] of disk.tensors) assert.deepEqual(mem.tensors.get(k)!.data, t.data, k);

  const site = await serve('test/fixtures/models/v3-buckets-seqcls');
  try {
    await assert.rejects(loadModel(`${site.url}/../nothing/`), /nothing\/config\.json: HTTP 404/);
    await assert.rejects(AutoTokenizer.fromPretrained(urlFiles(site.url)), /\/ckpt\/: no tokenizer files \(expected tokenizer\.json, spm\.model, or vocab\.json \+ merges\.txt\)/);
  } finally {
    await site.close();
  }
  await assert.rejects(loadModel(memoryFiles({}, 'mem:/empty')), /^Error: mem:\/empty\/config\.json: cannot read \(config\.json: not among the mem:\/empty\)$/);
});

test('Node opens folders and URLs; a missing folder or a file in its place is named', async () => {
  assert.equal(platform().name, 'node');
  await assert.rejects(loadModel('test/fixtures/models/no-such-model'), /test\/fixtures\/models\/no-such-model: cannot open the checkpoint folder \(ENOENT\)/);
  await assert.rejects(loadModel('test/fixtures/models/v3-buckets-seqcls/config.json'), /config\.json: not a folder/);
  assert.throws(() => configureRuntime({ threads: 0 }), /configureRuntime: threads must be a positive integer, got 0/);
});
