// config.json on disk (Node): read by folder, written through a temporary file and a rename.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { debertaConfigToJson, parseDebertaConfig, type DebertaConfig } from './config.ts';

export * from './config.ts';

/** Reads and parses `<dir>/config.json`. */
export function readDebertaConfig(dir: string): DebertaConfig {
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the config (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return parseDebertaConfig(json, file);
}

/** Writes `<dir>/config.json` through a temporary file and a rename. */
export function writeDebertaConfig(dir: string, config: DebertaConfig): void {
  const file = join(dir, 'config.json');
  const text = `${JSON.stringify(debertaConfigToJson(config, file), null, 2)}\n`;
  const tmp = join(dir, `.config.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* nothing to clean */ }
    throw err;
  }
}
