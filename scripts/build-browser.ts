// Builds the browser bundle and demo site into one static folder (default dist/demo):
// deberta.js (src/browser.ts with onnxruntime-web, as an ES module), ONNX Runtime's WebAssembly files,
// the demo page from web/, and the embedded models from models/ when that folder exists.
// The browser entry imports no Node built-in, so esbuild bundles it as any user's bundler would.
// Run: npm run build:browser [-- OUT_DIR]
import { build } from 'esbuild';
import { copyFileSync, cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** What onnxruntime-web's default (WebGPU + WebAssembly) build loads at run time. */
const ORT_FILES = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'];
const WEB_FILES = ['index.html', 'demo.js'];

export interface BuildResult { outDir: string; bundle: string; bytes: number }

/** Bundles and copies everything the demo needs into `outDir`. */
export async function buildBrowser(outDir = join(root, 'dist/demo'), opts: { minify?: boolean; models?: boolean } = {}): Promise<BuildResult> {
  mkdirSync(outDir, { recursive: true });
  const bundle = join(outDir, 'deberta.js');
  await build({
    entryPoints: [join(root, 'src/browser.ts')],
    outfile: bundle,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: true,
    logLevel: 'warning',
  });
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web')); // its dist/ folder
  for (const f of ORT_FILES) copyFileSync(join(ortDist, f), join(outDir, f));
  for (const f of WEB_FILES) copyFileSync(join(root, 'web', f), join(outDir, f));
  const models = join(root, 'models');
  if ((opts.models ?? true) && existsSync(models)) cpSync(models, join(outDir, 'models'), { recursive: true });
  return { outDir, bundle, bytes: statSync(bundle).size };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildBrowser(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stderr.write(`built ${r.bundle} (${(r.bytes / 1024).toFixed(0)} KiB); serve ${r.outDir} (e.g. deberta serve --static ${r.outDir})\n`);
}
