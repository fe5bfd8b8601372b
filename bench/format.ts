// Prints the report of a saved run (`npm run bench -- --save FILE`) again, as text or Markdown.
//   node --import tsx bench/format.ts FILE [--markdown]
import { readFileSync } from 'node:fs';
import { formatReport, type BenchResult } from './report.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: bench/format.ts RESULT.json [--markdown]');
process.stdout.write(formatReport(JSON.parse(readFileSync(file, 'utf8')) as BenchResult, process.argv.includes('--markdown')));
