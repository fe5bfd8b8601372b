// The package as users get it: `npm pack`, the tarball installed into a fresh project (no tsx, no repository
// files), then used the ways the README says: import and require in Node, the README's TypeScript examples
// under a user's strict tsconfig, the `deberta` command, and browser builds made by esbuild, Vite and webpack and
// run in headless Chromium. Outputs are compared with the same pipeline run from this repository's sources.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, transformSync } from 'esbuild';
import { chromium } from 'playwright-core';
import { pipeline, type ClassificationResult } from '../src/pipelines/index.ts';
import { cleanup, withTinyTokenizer } from './helpers/pipeline-models.ts';
import { serveFolder } from './helpers/static-server.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TEXT = 'DeBERTa runs in Node and in the browser.';
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

interface Packed { filename: string; size: number; unpackedSize: number; files: { path: string }[] }

let work = '';
let app = '';
let packed: Packed;
let checkpoint = '';
let expected: ClassificationResult[] = [];
let installSeconds = 0;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 240_000): string {
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const npm = (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) => run('npm', args, cwd, env);

function scores(xs: ClassificationResult[]): Map<string, number> {
  return new Map(xs.map((x) => [x.label, x.score]));
}

function assertSameScores(got: ClassificationResult[], want: ClassificationResult[], tol: number, what: string): number {
  assert.deepEqual(got.map((x) => x.label), want.map((x) => x.label), `${what}: labels`);
  const w = scores(want);
  let worst = 0;
  for (const x of got) worst = Math.max(worst, Math.abs(x.score - w.get(x.label)!));
  assert.ok(worst <= tol, `${what}: scores differ by ${worst}`);
  return worst;
}

before(async () => {
  if (!existsSync(join(ROOT, 'dist/index.js'))) execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'deberta-package-'));
  // The repository's .npmrc turns lifecycle scripts off, so `npm pack` takes dist/ as `npm test` just built it.
  packed = (JSON.parse(npm(['pack', '--json', '--pack-destination', work], ROOT)) as Packed[])[0]!;

  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  // As a user offline would install it: scripts on, onnxruntime-node's download skipped by its documented variable.
  const t0 = performance.now();
  npm(['install', '--ignore-scripts=false', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed.filename),
    'typescript@~5.9.3', '@types/node@^20.19.0'], app, { ONNXRUNTIME_NODE_INSTALL: 'skip' });
  installSeconds = (performance.now() - t0) / 1000;

  checkpoint = withTinyTokenizer('v3-buckets-seqcls');
  const classify = await pipeline('text-classification', checkpoint, { threads: 1 });
  expected = await classify(TEXT, { topK: null });
  await classify.dispose();
});

after(() => {
  cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('package: the tarball holds what users need and nothing of the repository', (t) => {
  const files = packed.files.map((f) => f.path);
  for (const dir of ['test/', 'bench/', '.ci/', 'src/', 'scripts/', 'web/', 'dist/demo/']) {
    assert.deepEqual(files.filter((f) => f.startsWith(dir)), [], `${dir} is packed`);
  }
  for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/deberta.js', 'dist/index.js', 'dist/index.d.ts', 'dist/index.cjs',
    'dist/browser.js', 'dist/browser.d.ts', 'dist/cli/main.js', 'models/deberta-v3-brown-small/spm.model']) {
    assert.ok(files.includes(f), `${f} is not packed`);
  }
  assert.ok(files.some((f) => f.endsWith('.js.map')), 'source maps are packed');
  const installed = JSON.parse(readFileSync(join(app, 'node_modules/deberta-ts/package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(installed.dependencies.tsx, undefined, 'tsx is a runtime dependency');
  assert.equal(existsSync(join(app, 'node_modules/tsx')), false, 'tsx was installed for the user');
  // Every package the packed code imports is one it declares: a package that is only there because npm
  // hoisted another's dependency is missing under pnpm or a different hoisting.
  const declared = new Set([...Object.keys(installed.dependencies), 'deberta-ts']);
  const undeclared = new Set<string>();
  for (const f of files.filter((x) => /\.(c?js)$/.test(x) && (x.startsWith('dist/') || x.startsWith('bin/')))) {
    const code = readFileSync(join(app, 'node_modules/deberta-ts', f), 'utf8');
    for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)['"]([^'"./][^'"]*)['"]/g)) {
      const name = m[1]!.startsWith('@') ? m[1]!.split('/').slice(0, 2).join('/') : m[1]!.split('/')[0]!;
      if (!name.startsWith('node:') && !declared.has(name)) undeclared.add(`${name} (${f})`);
    }
  }
  assert.deepEqual([...undeclared], [], 'packed code imports packages it does not declare');
  // The README states the packed size; it must stay within 10 % of the real one.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = /packed tarball is ([\d.]+) MB \(([\d.]+) MB unpacked\)/.exec(readme);
  assert.ok(m, 'README states the packed size as "packed tarball is N MB (M MB unpacked)"');
  const mb = packed.size / 1e6, unpackedMb = packed.unpackedSize / 1e6;
  assert.ok(Math.abs(Number(m[1]) - mb) / mb <= 0.1, `README says ${m[1]} MB packed, it is ${mb.toFixed(1)} MB`);
  assert.ok(Math.abs(Number(m[2]) - unpackedMb) / unpackedMb <= 0.1, `README says ${m[2]} MB unpacked, it is ${unpackedMb.toFixed(1)} MB`);
  t.diagnostic(`tarball ${mb.toFixed(1)} MB, ${unpackedMb.toFixed(1)} MB unpacked, ${files.length} files; installed into an empty project in ${installSeconds.toFixed(1)} s`);
});

test('package: import in an ES module script classifies like the sources', (t) => {
  writeFileSync(join(app, 'classify.mjs'), `import { pipeline } from 'deberta-ts';
const classify = await pipeline('text-classification', process.argv[2], { threads: 1 });
console.log(JSON.stringify(await classify(process.argv[3], { topK: null })));
await classify.dispose();
`);
  const out = JSON.parse(run(process.execPath, ['classify.mjs', checkpoint, TEXT], app)) as ClassificationResult[];
  // Measured 0 (import, require and the CLI alike): a floor of 4 float32 ulp.
  t.diagnostic(`scores within ${assertSameScores(out, expected, 4 * 2 ** -23, 'import').toExponential(1)} of the sources`);
});

test('package: require in a CommonJS script classifies like the sources', (t) => {
  writeFileSync(join(app, 'classify.cjs'), `const { pipeline } = require('deberta-ts');
(async () => {
  const classify = await pipeline('text-classification', process.argv[2], { threads: 1 });
  console.log(JSON.stringify(await classify(process.argv[3], { topK: null })));
  await classify.dispose();
})();
`);
  const r = spawnSync(process.execPath, ['classify.cjs', checkpoint, TEXT], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'require() printed warnings');
  t.diagnostic(`scores within ${assertSameScores(JSON.parse(r.stdout) as ClassificationResult[], expected, 4 * 2 ** -23, 'require').toExponential(1)} of the sources`);
});

test("package: the README's TypeScript examples type-check in a user's strict project (nodenext and bundler); the first runs", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 2, `the README has ${blocks.length} TypeScript examples`);
  const names = blocks.map((code, i) => {
    writeFileSync(join(app, `example${i}.ts`), code);
    return `example${i}.ts`;
  });
  const common = { strict: true, target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'] };
  const configs = {
    nodenext: { ...common, module: 'nodenext', moduleResolution: 'nodenext' },
    bundler: { ...common, module: 'esnext', moduleResolution: 'bundler', lib: ['es2023', 'dom'] },
  };
  for (const [name, compilerOptions] of Object.entries(configs)) {
    writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions, files: names }));
    const r = spawnSync(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `tsc (${name}):\n${r.stdout}${r.stderr}`);
  }
  // The first example (the embedded models) runs as written, its types stripped as a user's build would.
  const js = transformSync(blocks[0]!, { loader: 'ts', format: 'esm' }).code;
  writeFileSync(join(app, 'example0.mjs'), js);
  const out = run(process.execPath, ['example0.mjs'], app);
  assert.match(out, /label: 'spam', score: 0\.9/);
  assert.match(out, /token_str: '\w+'/);
  // The check is real: a wrong type in the same setting fails.
  writeFileSync(join(app, 'wrong.ts'), "import { pipeline } from 'deberta-ts';\nconst n: number = pipeline;\nexport { n };\n");
  writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions: configs.nodenext, files: ['wrong.ts'] }));
  const wrong = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], { cwd: app, encoding: 'utf8' });
  assert.match(wrong.stdout, /wrong\.ts\(2,7\): error TS2322/);
});

test('package: npx deberta runs the compiled command line', (t) => {
  const help = run('npx', ['--no-install', 'deberta', '--help'], app);
  assert.match(help, /Usage: deberta/);
  assert.match(help, /classify/);
  const out = run('npx', ['--no-install', 'deberta', 'classify', '--model', checkpoint, '--threads', '1', '--top-k', 'all', TEXT], app);
  const got = JSON.parse(out.trim().split('\n')[0]!) as ClassificationResult[];
  t.diagnostic(`scores within ${assertSameScores(got, expected, 4 * 2 ** -23, 'deberta classify').toExponential(1)} of the sources`);
});

const noChromium = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} not installed (apt-get install chromium)` : false;

/** The page's classification of TEXT, from `site` served on 127.0.0.1 (the page sets `result` or `failure`). */
async function classifyInChromium(site: string): Promise<ClassificationResult[]> {
  const server = await serveFolder(site);
  const profile = mkdtempSync(join(tmpdir(), 'deberta-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}/index.html`);
    type PageState = { result?: ClassificationResult[]; failure?: string };
    await page.waitForFunction(() => (globalThis as PageState).result !== undefined || (globalThis as PageState).failure !== undefined,
      undefined, { timeout: 90_000 });
    const failure = await page.evaluate(() => (globalThis as PageState).failure);
    assert.equal(failure, undefined, `the page failed: ${failure}`);
    assert.deepEqual(errors, []);
    return (await page.evaluate(() => (globalThis as PageState).result))!;
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const PAGE = (setup: string) => `import { pipeline${setup ? ', configureRuntime' : ''} } from 'deberta-ts';
${setup}
try {
  const classify = await pipeline('text-classification', '/model/');
  window.result = await classify(${JSON.stringify(TEXT)}, { topK: null });
} catch (err) {
  window.failure = String(err && err.stack || err);
}
`;

test('package: esbuild bundles it for the browser, and the page classifies like Node', { skip: noChromium, timeout: 180_000 }, async (t) => {
  const site = join(work, 'site');
  mkdirSync(site);
  // esbuild copies no assets: the WebAssembly files are served from onnxruntime-web's dist folder.
  writeFileSync(join(app, 'page.js'), PAGE("configureRuntime({ wasmPaths: '/ort/' });"));
  const r = await build({
    absWorkingDir: app, entryPoints: ['page.js'], outfile: join(site, 'page.js'), bundle: true, format: 'esm',
    platform: 'browser', target: 'es2022', minify: true, logLevel: 'silent', metafile: true,
  });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings.map((w) => w.text), [], 'esbuild warned');
  const inputs = Object.keys(r.metafile!.inputs);
  assert.deepEqual(inputs.filter((f) => f.startsWith('node:') || f.includes('onnxruntime-node')), []);
  assert.ok(inputs.some((f) => f.includes('node_modules/deberta-ts/dist/browser.js')), 'the browser entry was bundled');
  const bundleBytes = readFileSync(join(site, 'page.js')).length;
  writeFileSync(join(site, 'index.html'), '<!doctype html><meta charset="utf-8"><title>deberta-ts</title><script type="module" src="page.js"></script>\n');
  symlinkSync(checkpoint, join(site, 'model'));
  symlinkSync(join(app, 'node_modules/onnxruntime-web/dist'), join(site, 'ort'));
  // WebAssembly kernels against native ones: measured 7.4e-8 (esbuild and Vite): a floor of 4 float32 ulp.
  const worst = assertSameScores(await classifyInChromium(site), expected, 4 * 2 ** -23, 'browser (esbuild)');
  t.diagnostic(`esbuild browser bundle ${(bundleBytes / 1024).toFixed(0)} KiB minified; scores within ${worst.toExponential(1)} of Node`);
});

test('package: Vite builds it with no configuration, copying ONNX Runtime\'s wasm itself, and the page classifies like Node', { skip: noChromium, timeout: 180_000 }, async (t) => {
  const project = join(app, 'vite-page');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'index.html'), '<!doctype html><meta charset="utf-8"><title>deberta-ts</title><script type="module" src="/src/main.js"></script>\n');
  writeFileSync(join(project, 'src/main.js'), PAGE(''));
  run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'], project);
  const assets = readdirSync(join(project, 'dist/assets'));
  assert.ok(assets.some((f) => /^ort-wasm-simd-threaded\.jsep-.*\.wasm$/.test(f)), `no wasm among ${assets.join(', ')}`);
  symlinkSync(checkpoint, join(project, 'dist/model'));
  const worst = assertSameScores(await classifyInChromium(join(project, 'dist')), expected, 4 * 2 ** -23, 'browser (Vite)');
  t.diagnostic(`Vite build: ${assets.join(', ')}; scores within ${worst.toExponential(1)} of Node`);
});

interface WebpackReport {
  errors: string[];
  warnings: { name: string; module: string; message: string }[];
  modules: string[];
  assets: { name: string; source: string }[];
}

// `npx webpack --mode production` in a folder with no webpack.config.js, through webpack's Node API: the default
// entry (src/index.js) and output (dist/main.js), both from the working directory. A child process of its own,
// as the CLI is: webpack's minimizer starts worker threads, which would inherit this process' `--import` flags
// and fail to load its TypeScript preload.
const WEBPACK_BUILD = (webpackModule: string) => `import webpack from ${JSON.stringify(pathToFileURL(webpackModule).href)};
const stats = await new Promise((ok, fail) => webpack({ mode: 'production' }, (err, s) => (err ? fail(err) : ok(s))));
const json = stats.toJson({ all: false, assets: true, modules: true, nestedModules: true });
console.log(JSON.stringify({
  errors: stats.compilation.errors.map((e) => e.message),
  warnings: stats.compilation.warnings.map((w) => ({ name: w.name, module: w.module?.identifier() ?? '', message: w.message })),
  modules: json.modules.flatMap((m) => [m.name, ...(m.modules ?? []).map((n) => n.name)]).filter((name) => name),
  assets: json.assets.map((a) => ({ name: a.name, source: a.info.sourceFilename ?? '' })),
}));
`;

test('package: webpack builds it with no configuration, copying ONNX Runtime\'s wasm itself, and the page classifies like Node', { skip: noChromium, timeout: 180_000 }, async (t) => {
  const project = join(app, 'webpack-page');
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'src/index.js'), PAGE(''));
  writeFileSync(join(work, 'webpack-build.mjs'), WEBPACK_BUILD(createRequire(join(ROOT, 'package.json')).resolve('webpack')));
  const t0 = performance.now();
  const report = JSON.parse(run(process.execPath, [join(work, 'webpack-build.mjs')], project)) as WebpackReport;
  const seconds = (performance.now() - t0) / 1000;
  assert.deepEqual(report.errors, []);
  // Expected: the size hints of a production build (ONNX Runtime's wasm alone is 27 MB), and protobufjs' probe
  // for optional modules (`require(name)` in @protobufjs/inquire), which fails harmlessly in a bundle.
  const SIZE_HINTS = ['AssetsOverSizeLimitWarning', 'EntrypointsOverSizeLimitWarning', 'NoAsyncChunksWarning'];
  const other = report.warnings.filter((w) => !SIZE_HINTS.includes(w.name)
    && !(w.module.includes('node_modules/@protobufjs/inquire/') && w.message.startsWith('Critical dependency')));
  assert.deepEqual(other.map((w) => w.message), [], 'webpack warned');
  assert.deepEqual(report.modules.filter((m) => m.startsWith('node:') || m.includes('onnxruntime-node') || m.includes('deberta-ts/dist/index.js')), []);
  assert.ok(report.modules.some((m) => m.includes('node_modules/deberta-ts/dist/browser.js')), 'the browser entry was bundled');
  const wasm = report.assets.filter((a) => a.source.endsWith('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.jsep.wasm'));
  assert.equal(wasm.length, 1, `ONNX Runtime's wasm is not among ${report.assets.map((a) => a.name).join(', ')}`);
  const dist = join(project, 'dist');
  writeFileSync(join(dist, 'index.html'), '<!doctype html><meta charset="utf-8"><title>deberta-ts</title><script src="main.js"></script>\n');
  symlinkSync(checkpoint, join(dist, 'model'));
  const worst = assertSameScores(await classifyInChromium(dist), expected, 4 * 2 ** -23, 'browser (webpack)');
  t.diagnostic(`webpack build in ${seconds.toFixed(1)} s: ${report.assets.map((a) => a.name).join(', ')}; `
    + `warnings: ${report.warnings.map((w) => w.name).join(', ')}; scores within ${worst.toExponential(1)} of Node`);
});
