// npm run build: compiles src/ to dist/ (ES modules, .d.ts, source maps) with tsc, and writes the CommonJS
// entry. Plain JavaScript so that it runs without tsx (npm pack runs it through prepack).
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
// A fresh build, keeping the browser demo site (dist/demo, from npm run build:browser).
for (const entry of (() => { try { return readdirSync(dist); } catch { return []; } })()) {
  if (entry !== 'demo') rmSync(join(dist, entry), { recursive: true, force: true });
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

// require('deberta-ts'): Node >= 20.19 loads ES modules through require() (no top-level await here).
writeFileSync(join(dist, 'index.cjs'), `'use strict';
// CommonJS entry: require() of the ES module build, which Node 20.19 and later allow.
try {
  module.exports = require('./index.js');
} catch (err) {
  if (err && err.code === 'ERR_REQUIRE_ESM') {
    throw new Error('deberta-ts: require() of this ES module package needs Node 20.19 or later (this is ' + process.version + '); use import() instead');
  }
  throw err;
}
`);
process.stderr.write(`built ${dist}\n`);
