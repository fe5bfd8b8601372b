// Hub downloads and cache loads, measured against the test stand-in (test/helpers/hub-server.ts) on
// 127.0.0.1 in a child process (so the server does not share this event loop). Not a test.
//   npm run bench:hub [-- --mb 350] [-- --rounds 5]
// 1. Throughput: one LFS file of --mb MB (random bytes) fetched into an empty cache (HEAD, 302, GET to a
//    .incomplete blob with sha256 on the fly, rename, link), the best of --rounds; a plain fetch of the same
//    URL that only counts the bytes is the reference for what the loopback and the server give.
// 2. Overhead of a warm cache: pipeline('text-classification', …) on the embedded spam model from its
//    folder, by id online (a HEAD per file read, no download) and by id offline; medians of --rounds.
import '../src/platform/node.ts';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { hubFiles } from '../src/hub/files.ts';
import { pipeline } from '../src/pipelines/index.ts';
import { MODELS_DIR } from '../src/platform/node.ts';
import { folderContents, HubStandIn, oneCommitRepo } from '../test/helpers/hub-server.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const MB = Number(arg('mb', '350'));
const ROUNDS = Number(arg('rounds', '5'));
const SPAM = join(MODELS_DIR, 'deberta-v3-brown-small-spam');

if (process.argv.includes('--serve')) {
  // The child: the stand-in with the big file and the embedded model; prints its URL, stops on stdin's end.
  const hub = await HubStandIn.start({
    'bench/big': oneCommitRepo({ 'model.safetensors': new Uint8Array(randomBytes(MB * 1e6)) }, 'big'),
    'bench/spam': oneCommitRepo(folderContents(SPAM), 'spam'),
  });
  process.stdout.write(`${hub.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void hub.stop().then(() => process.exit(0)));
} else {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--serve', '--mb', String(MB)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`stand-in exited (${code})`)));
  });
  const temp = mkdtempSync(join(tmpdir(), 'bench-hub-'));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  try {
    console.log(`Hub stand-in at ${url}; Node ${process.version}; ${MB} MB file; best of ${ROUNDS}`);
    const raw: number[] = [];
    const ours: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t = performance.now();
      const res = await fetch(`${url}/bench/big/resolve/main/model.safetensors`);
      let n = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) n += chunk.length;
      raw.push(performance.now() - t);
      if (n !== MB * 1e6) throw new Error(`fetched ${n} bytes`);

      const cacheDir = join(temp, `cache-${r}`);
      t = performance.now();
      await hubFiles('bench/big', { endpoint: url, cacheDir }).fetch('model.safetensors');
      ours.push(performance.now() - t);
      rmSync(cacheDir, { recursive: true, force: true });
    }
    const rate = (ms: number) => `${(MB / (ms / 1000)).toFixed(0)} MB/s (${(ms / 1000).toFixed(2)} s)`;
    console.log(`download into the cache (sha256 checked): best ${rate(Math.min(...ours))}, median ${rate(median(ours))}`);
    console.log(`plain fetch, bytes counted only:          best ${rate(Math.min(...raw))}, median ${rate(median(raw))}`);

    const cacheDir = join(temp, 'warm');
    const load = async (ref: string, o: object) => {
      const t = performance.now();
      const p = await pipeline('text-classification', ref, { threads: 1, ...o });
      const ms = performance.now() - t;
      await p.dispose();
      return ms;
    };
    await load('bench/spam', { endpoint: url, cacheDir }); // fills the cache
    await load(SPAM, {}); // warms the file system cache and ONNX Runtime
    const times: Record<string, number[]> = { folder: [], 'id, online (HEADs)': [], 'id, offline': [] };
    for (let r = 0; r < ROUNDS; r++) {
      times.folder!.push(await load(SPAM, {}));
      times['id, online (HEADs)']!.push(await load('bench/spam', { endpoint: url, cacheDir }));
      times['id, offline']!.push(await load('bench/spam', { endpoint: url, cacheDir, localFilesOnly: true }));
    }
    const base = median(times.folder!);
    for (const [k, v] of Object.entries(times)) {
      console.log(`pipeline load, ${k.padEnd(20)} median ${median(v).toFixed(0)} ms (${median(v) - base >= 0 ? '+' : ''}${(median(v) - base).toFixed(0)} ms against the folder)`);
    }
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once('exit', r));
    rmSync(temp, { recursive: true, force: true });
  }
}
