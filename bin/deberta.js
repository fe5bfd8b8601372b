#!/usr/bin/env node
// The `deberta` command: runs the compiled CLI in dist/ (packages ship it; in a clone, `npm run build` writes it).
const cli = new URL('../dist/cli/main.js', import.meta.url);
let mod;
try {
  mod = await import(cli.href);
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    process.stderr.write('deberta: the compiled CLI (dist/cli/main.js) is missing; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}
await mod.main();
