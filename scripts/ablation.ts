// A small version of the DeBERTa paper's ablation (Table 4; docs/ablation.md): pretrain DeBERTa, -EMD, -C2P,
// -P2C and a BERT-style model with absolute positions on the Brown training files with one equal budget
// (updates x batch x length), score masked-token accuracy on the held-out Brown files, fine-tune each for
// universal POS tagging with identical settings and score token accuracy on held-out Brown sentences.
//
//   npm run ablation -- [--out DIR] [--pretrain-steps N] [--pos-steps N] [--pos-train N] [--pos-eval N]
//                       [--seeds 42,43] [--extra-seed-rows deberta,...] [--threads 1] [--dry-run]
//
// The first seed runs every row; later seeds run the rows named by --extra-seed-rows (default: all).
//
// Every command is printed before it runs; a row whose outputs already exist is not rerun (delete its
// folder to redo it), so an interrupted run continues where it stopped. Results go to OUT/results.json and a
// Markdown table to stdout.
import '../src/platform/node.ts';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { brownFiles, brownSplit } from '../src/tokenizers/train/brown.ts';
import { brownPosSplit, type TaggedSentence } from '../src/datasets/brown-pos.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    out: { type: 'string', default: '/tmp/ablation/runs' },
    'pretrain-steps': { type: 'string', default: '280' },
    'batch-size': { type: 'string', default: '16' },
    'max-length': { type: 'string', default: '128' },
    'pos-steps': { type: 'string', default: '250' },
    'pos-train': { type: 'string', default: '4000' },
    'pos-eval': { type: 'string', default: '2000' },
    seeds: { type: 'string', default: '42,43' },
    'extra-seed-rows': { type: 'string', default: 'deberta,no-emd,no-c2p,no-p2c,bert' },
    threads: { type: 'string', default: '1' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const out = resolve(a.out!);
const seeds = a.seeds!.split(',').map((s) => s.trim());
const extraSeedRows = new Set(a['extra-seed-rows']!.split(','));
const maxLength = Number(a['max-length']);

// The tiny model every row shares; the rows differ only in the switches the paper ablates.
const base = {
  model_type: 'deberta-v2', architectures: ['DebertaV2ForMaskedLM'], vocab_size: 8001,
  hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 512,
  hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 128, type_vocab_size: 0, initializer_range: 0.02, layer_norm_eps: 1e-7,
  relative_attention: true, max_relative_positions: -1, position_buckets: 64, share_att_key: true,
  norm_rel_ebd: 'layer_norm', pos_att_type: ['p2c', 'c2p'], position_biased_input: false,
  pad_token_id: 0, pooler_hidden_size: 128, pooler_dropout: 0, pooler_hidden_act: 'gelu',
};
interface Row { key: string; name: string; config: Record<string, unknown>; flags: string[] }
const rows: Row[] = [
  // relative attention (c2p + p2c), absolute positions only in the Enhanced Mask Decoder
  { key: 'deberta', name: 'DeBERTa', config: {}, flags: ['--emd'] },
  // no EMD: the absolute positions go in at the input as in BERT, a plain LM head on the last layer
  { key: 'no-emd', name: '−EMD', config: { position_biased_input: true }, flags: ['--no-emd'] },
  { key: 'no-c2p', name: '−C2P', config: { pos_att_type: ['p2c'] }, flags: ['--emd'] },
  { key: 'no-p2c', name: '−P2C', config: { pos_att_type: ['c2p'] }, flags: ['--emd'] },
  // BERT: absolute positions at the input, no relative attention, no EMD
  {
    key: 'bert', name: 'BERT-style (absolute positions)',
    config: { relative_attention: false, position_biased_input: true, pos_att_type: null, position_buckets: -1 }, flags: ['--no-emd'],
  },
];

function quote(s: string): string { return /^[\w./=,:@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`; }
function run(args: string[], log: string): number {
  const cmd = ['node', 'bin/deberta.js', ...args];
  console.log(`$ ${cmd.map(quote).join(' ')}  > ${log} 2>&1`);
  if (a['dry-run']) return 0;
  const t0 = performance.now();
  const fd = openSync(log, 'w');
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: root, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (r.status !== 0) throw new Error(`exit ${r.status}: see ${log}`);
  const s = (performance.now() - t0) / 1000;
  console.log(`  (${s.toFixed(0)} s)`);
  return s;
}

mkdirSync(out, { recursive: true });
// Data: Brown training files to pretrain, held-out files to score the masked LM (brownSplit: every tenth file).
const split = brownSplit(brownFiles());
const trainList = split.train.map((f) => f.startsWith(root) ? f.slice(root.length + 1) : f);
const heldList = split.heldOut.map((f) => f.startsWith(root) ? f.slice(root.length + 1) : f);
// POS: the first N training sentences and the first M held-out sentences of brownPosSplit(), as JSONL.
const pos = brownPosSplit();
const jsonl = (s: TaggedSentence[]) => s.map((x) => JSON.stringify({ tokens: x.tokens, tags: x.tags })).join('\n') + '\n';
const posTrain = join(out, 'pos-train.jsonl'), posEval = join(out, 'pos-eval.jsonl');
writeFileSync(posTrain, jsonl(pos.train.slice(0, Number(a['pos-train']))));
writeFileSync(posEval, jsonl(pos.heldOut.slice(0, Number(a['pos-eval']))));
console.log(`POS: ${Math.min(pos.train.length, Number(a['pos-train']))} training sentences (of ${pos.train.length}), ` +
  `${Math.min(pos.heldOut.length, Number(a['pos-eval']))} held-out sentences (of ${pos.heldOut.length})`);

interface Result { row: string; name: string; seed: string; accuracy: number; perplexity: number; pos: number; pretrainS: number; posS: number }
const results: Result[] = [];
const resultsFile = join(out, 'results.json');
const previous: Result[] = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) : [];
for (const seed of seeds) {
  for (const row of rows) {
    if (seed !== seeds[0] && !extraSeedRows.has(row.key)) continue;
    const dir = join(out, `${row.key}-s${seed}`);
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ ...base, ...row.config }, null, 2) + '\n');
    const pre = join(dir, 'pretrain'), ft = join(dir, 'pos');
    const prev = previous.find((r) => r.row === row.key && r.seed === seed);
    let pretrainS = prev?.pretrainS ?? 0, posS = prev?.posS ?? 0;
    if (!existsSync(join(pre, 'last', 'trainer_state.json'))) {
      pretrainS = run(['pretrain', '--config', config, '--objective', 'mlm', ...row.flags,
        '--train', ...trainList, '--eval', ...heldList, '--out', pre,
        '--max-steps', a['pretrain-steps']!, '--batch-size', a['batch-size']!, '--max-length', String(maxLength),
        '--lr', '1e-3', '--warmup-steps', '30', '--threads', a.threads!, '--seed', seed, '--no-progress'], join(dir, 'pretrain.log'));
    }
    if (!existsSync(join(ft, 'last', 'trainer_state.json'))) {
      posS = run(['train', '--model', join(pre, 'last'), '--task', 'token-classification',
        '--train', posTrain, '--eval', posEval, '--out', ft, '--tokens-column', 'tokens', '--label-column', 'tags',
        '--max-steps', a['pos-steps']!, '--batch-size', '16', '--lr', '1e-3', '--warmup-ratio', '0.1',
        '--max-length', String(maxLength), '--metric', 'token_accuracy', '--threads', a.threads!, '--seed', seed, '--no-progress'], join(dir, 'pos.log'));
    }
    if (a['dry-run']) continue;
    const last = (file: string, key: string) => {
      const h = (JSON.parse(readFileSync(file, 'utf8')) as { logHistory: Record<string, number>[] }).logHistory;
      return h.filter((e) => key in e && 'epoch' in e).at(-1) ?? h.filter((e) => key in e).at(-1)!;
    };
    const m = last(join(pre, 'last', 'trainer_state.json'), 'perplexity');
    const p = last(join(ft, 'last', 'trainer_state.json'), 'token_accuracy');
    results.push({ row: row.key, name: row.name, seed, accuracy: m.accuracy!, perplexity: m.perplexity!, pos: p.token_accuracy!, pretrainS, posS });
    writeFileSync(resultsFile, JSON.stringify([...results, ...previous.filter((r) => !results.some((x) => x.row === r.row && x.seed === r.seed))], null, 2) + '\n');
  }
}
if (!a['dry-run']) {
  console.log('\n| model | seed | masked-token accuracy | perplexity | POS token accuracy | pretrain s | POS s |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.seed} | ${(100 * r.accuracy).toFixed(2)} | ${r.perplexity.toFixed(1)} | ${(100 * r.pos).toFixed(2)} | ${r.pretrainS.toFixed(0)} | ${r.posS.toFixed(0)} |`);
  }
}
