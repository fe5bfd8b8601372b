// Fuzzing the tokenizer files and inputs with fast-check, seeded, each property in a child process bounded
// in time and memory: tokenizer.json and spm.model give a tokenizer or an Error naming the file; any text,
// lone surrogates and combining storms included, tokenizes to ids in the vocabulary with offsets inside it.
import { test } from 'node:test';
import { runFuzz } from './helpers/fuzz-run.ts';

test('fuzz: edited tokenizer.json files give a tokenizer or an error naming the file', () => {
  runFuzz('tokenizers', 'tokenizerJson', { runs: 400, seconds: 30, memoryMiB: 512 });
});

test('fuzz: damaged and random spm.model bytes give a model or an error naming the file', () => {
  runFuzz('tokenizers', 'spmModel', { runs: 2000, seconds: 30, memoryMiB: 512 });
});

test('fuzz: any text tokenizes to ids in the vocabulary with offsets inside the text', () => {
  runFuzz('tokenizers', 'anyText', { runs: 1000, seconds: 40, memoryMiB: 512 });
});
