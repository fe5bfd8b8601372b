// Builds the embedded default models (models/deberta-v3-brown-small, -spam, -pos) from scratch with this
// project's own commands, on text installed from npm, and writes models/metrics.json. docs/models.md
// describes the data, the splits, the settings and the results of the committed run.
//
//   npm run train:models                 # the full build (the settings of the committed models)
//   npm run train:models -- --quick      # a smoke run: a few updates of each stage, into tmp/ only
//   npm run train:models -- --stages export,metrics --work DIR   # re-export finished runs
//
// Stages (each a child process of bin/deberta.js, except data preparation, export and metrics):
//   data        the fixed splits as files under WORK/data (src/datasets/*, src/tokenizers/train/brown.ts)
//   tokenizer   deberta tokenizer-train: 8000-piece unigram on the Brown training files + nlp-corpus
//   pretrain    deberta pretrain --objective mlm (Enhanced Mask Decoder), held-out Brown text as evaluation
//   spam        deberta train: sequence classification from the pretrained model on whole emails, then a second,
//               lower-rate pass on whole emails, their short views (opening sentences: emailViews) and plain
//               nlp-corpus sentences (not used in pretraining) as ham
//   pos         deberta train: token classification from the pretrained model
//   pos-random  the same from `deberta init` (random initialisation), the same settings: the baseline
//   pos-lowres  both again on 1,014 training sentences (every 17th kept one), 64 updates: the low-resource margin
//   export      F16 safetensors + config + tokenizer files into models/ (no optimizer state)
//   metrics     models/metrics.json from the runs' eval_results.json (spam: measured through the pipeline on
//               the held-out emails, whole and short, and on held-out plain sentences), and a table on stdout
// Progress goes to stderr.
import '../src/platform/node.ts';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { floatToHalf, type Tensor } from '../src/tensor.ts';
import { brownLineToText, brownSplit } from '../src/tokenizers/train/brown.ts';
import { brownPosSplit } from '../src/datasets/brown-pos.ts';
import { spamSplit, type SpamExample } from '../src/datasets/spam.ts';
import { pipeline } from '../src/pipelines/index.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'deberta.js');
export const MODEL_NAMES = { base: 'deberta-v3-brown-small', spam: 'deberta-v3-brown-small-spam', pos: 'deberta-v3-brown-small-pos' } as const;
const STAGES = ['data', 'tokenizer', 'pretrain', 'spam', 'pos', 'pos-random', 'pos-lowres', 'export', 'metrics'] as const;
type Stage = (typeof STAGES)[number];

/** The settings of the committed models (docs/models.md). */
export const SETTINGS = {
  config: {
    model_type: 'deberta-v2', architectures: ['DebertaV2ForMaskedLM'], vocab_size: 8001, hidden_size: 192, num_hidden_layers: 4,
    num_attention_heads: 4, intermediate_size: 768, max_position_embeddings: 512, relative_attention: true, position_buckets: 64,
    max_relative_positions: -1, pos_att_type: ['p2c', 'c2p'], norm_rel_ebd: 'layer_norm', share_att_key: true,
    position_biased_input: false, type_vocab_size: 0, hidden_act: 'gelu', hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1, layer_norm_eps: 1e-7, pad_token_id: 0, initializer_range: 0.02,
  },
  tokenizer: { vocabSize: 8000 },
  /** nlp-corpus sentences in pretraining: the first N of doc-0 … doc-99 in numeric order (the tokenizer sees all). */
  nlpPretrainSentences: 30000,
  /** Training-split POS sentences kept: those whose index % 6 is 0 or 2 (a third, to fit the time budget). */
  posKeep: (i: number) => i % 6 === 0 || i % 6 === 2,
  /** nlp-corpus sentences the spam model's second pass takes as ham, [first, count]: training, held-out (after the pretraining ones). */
  spamPlain: { train: [30000, 2000], heldOut: [40000, 1000] } as Record<'train' | 'heldOut', [number, number]>,
  /** Characters of an email kept (subject + body): about 256 tokens. */
  spamChars: 1200,
  pretrain: { maxLength: 128, batchSize: 32, steps: 1600, lr: 1e-3, warmupRatio: 0.06, seed: 1 },
  /**
   * Pass 1 from the pretrained model; each later pass from the previous pass's best checkpoint (another shuffle).
   * Data 'spam': whole emails; 'spam-plain': each email and its short view (its opening sentences), and plain
   * sentences as ham (`spamPlain`); held-out alike.
   */
  spam: {
    maxLength: 256, batchSize: 16,
    passes: [
      { data: 'spam', steps: 756, lr: 2e-4, warmupRatio: 0.06, seed: 1 }, // 2.5 epochs of the 4,837 training emails
      { data: 'spam-plain', steps: 1460, lr: 1e-4, warmupRatio: 0.06, seed: 2 }, // 2 epochs of 9,674 emails and short views + 2,000 sentences
    ],
  },
  pos: { maxLength: 128, batchSize: 32, steps: 578, lr: 3e-4, warmupRatio: 0.06, seed: 1 },
  /** 2 epochs over the 1,014 low-resource sentences. */
  posLowresSteps: 64,
};

interface Options { work: string; models: string; stages: Set<Stage>; threads: number; quick: boolean; scale: number }

function parseArgs(argv: string[]): Options {
  const o: Options = { work: join(ROOT, 'tmp', 'train-models'), models: join(ROOT, 'models'), stages: new Set(STAGES), threads: cpus().length, quick: false, scale: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--quick') o.quick = true;
    else if (a === '--work') o.work = resolve(val());
    else if (a === '--models') o.models = resolve(val());
    else if (a === '--threads') o.threads = Number(val());
    else if (a === '--scale') o.scale = Number(val());
    else if (a === '--stages') {
      const s = val().split(',');
      for (const x of s) if (!STAGES.includes(x as Stage)) throw new Error(`--stages: unknown stage '${x}' (${STAGES.join(', ')})`);
      o.stages = new Set(s as Stage[]);
    } else if (a === '-h' || a === '--help') {
      process.stdout.write(`npm run train:models -- [--quick] [--scale X] [--threads N] [--work DIR] [--models DIR] [--stages ${STAGES.join(',')}]\n` +
        '  --quick   a few updates per stage, models written under WORK/models (a smoke run)\n' +
        '  --scale   multiply every stage\'s number of updates (e.g. 2 for a longer run)\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (o.quick) { o.work = join(o.work, 'quick'); o.models = join(o.work, 'models'); }
  return o;
}

const log = (s: string) => process.stderr.write(`[train-models] ${s}\n`);
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Runs `deberta ARGS`, stderr passed through; returns the seconds it took. */
function deberta(args: string[]): number {
  log(`deberta ${args.join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'inherit', 'inherit'], cwd: ROOT });
  if (r.status !== 0) throw new Error(`deberta ${args[0]} failed (exit ${r.status ?? r.signal})`);
  return (performance.now() - t) / 1000;
}

/** The nlp-corpus sentences, doc-0 … doc-99 in numeric order. */
export function nlpCorpusSentences(): string[] {
  const dir = join(ROOT, 'node_modules', 'nlp-corpus', 'builds');
  return readdirSync(dir).filter((f) => /^doc-\d+\.json$/.test(f)).sort((a, b) => parseInt(a.slice(4), 10) - parseInt(b.slice(4), 10))
    .flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as string[])
    .map((s) => s.replace(/\s+/g, ' ').trim()).filter((s) => s !== '');
}

async function prepareData(dir: string, quick: boolean): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const cut = <T>(xs: T[], n: number) => (quick ? xs.slice(0, n) : xs);
  const { train, heldOut } = brownSplit();
  const lines = (fs: string[]) => fs.flatMap((f) => readFileSync(f, 'utf8').split('\n').map(brownLineToText).filter((x): x is string => !!x));
  writeFileSync(join(dir, 'brown-train.txt'), cut(lines(train), 2000).join('\n') + '\n');
  writeFileSync(join(dir, 'brown-heldout.txt'), cut(lines(heldOut), 200).join('\n') + '\n');
  const nlp = nlpCorpusSentences();
  writeFileSync(join(dir, 'nlp-corpus.txt'), cut(nlp, 2000).join('\n') + '\n');
  writeFileSync(join(dir, 'nlp-pretrain.txt'), nlp.slice(0, quick ? 500 : SETTINGS.nlpPretrainSentences).join('\n') + '\n');
  const spam = await spamSplit(SETTINGS.spamChars);
  const row = (e: { text: string; label: string }) => ({ text: e.text, label: e.label });
  // quick: a spread of both classes
  const spread = <T>(xs: T[], n: number) => (quick ? xs.filter((_, i) => i % Math.ceil(xs.length / n) === 0) : xs);
  writeFileSync(join(dir, 'spam-train.jsonl'), jsonl(spread(spam.train, 64).map(row)));
  writeFileSync(join(dir, 'spam-heldout.jsonl'), jsonl(spread(spam.heldOut, 32).map(row)));
  const views = (e: SpamExample) => [row(e), { text: e.short, label: e.label }];
  const plain = ([from, n]: [number, number]) => cut(nlp.slice(from, from + n), 32).map((text) => ({ text, label: 'ham' }));
  writeFileSync(join(dir, 'spam-plain-train.jsonl'), jsonl([...spread(spam.train, 64).flatMap(views), ...plain(SETTINGS.spamPlain.train)]));
  writeFileSync(join(dir, 'spam-plain-heldout.jsonl'), jsonl([...spread(spam.heldOut, 32).flatMap(views), ...plain(SETTINGS.spamPlain.heldOut)]));
  const pos = brownPosSplit();
  const kept = pos.train.filter((_, i) => SETTINGS.posKeep(i));
  writeFileSync(join(dir, 'pos-train.jsonl'), jsonl(cut(kept, 200)));
  writeFileSync(join(dir, 'pos-lowres-train.jsonl'), jsonl(kept.filter((_, i) => i % 17 === 0)));
  writeFileSync(join(dir, 'pos-heldout.jsonl'), jsonl(cut(pos.heldOut, 100)));
  log(`data: Brown ${train.length} training / ${heldOut.length} held-out files, ${spam.train.length} / ${spam.heldOut.length} emails, ` +
    `${pos.train.length} / ${pos.heldOut.length} tagged sentences (POS training keeps a third), ${nlp.length} nlp-corpus sentences -> ${dir}`);
}

const F16_SKIP = /^$/; // every float tensor becomes F16

/**
 * A finished run's folder as an embedded model: config, tokenizer files, F16 weights. `maxLength`, the
 * length it was trained at, becomes the tokenizer's `model_max_length`, so pipelines truncate (or window)
 * the way training did.
 */
export function exportF16(from: string, to: string, maxLength?: number): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const f of ['config.json', 'spm.model', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
  }
  const tokConfig = join(to, 'tokenizer_config.json');
  if (maxLength !== undefined && existsSync(tokConfig)) {
    const c = JSON.parse(readFileSync(tokConfig, 'utf8')) as Record<string, unknown>;
    writeFileSync(tokConfig, JSON.stringify({ ...c, model_max_length: maxLength }, null, 2) + '\n');
  }
  const st = readSafetensors(join(from, 'model.safetensors'));
  const out = new Map<string, Tensor>();
  for (const [name, t] of st.tensors) {
    if (t.dtype === 'float32' && !F16_SKIP.test(name)) {
      const src = t.data as Float32Array;
      const h = new Uint16Array(src.length);
      for (let i = 0; i < src.length; i++) h[i] = floatToHalf(src[i]!);
      out.set(name, { dtype: 'float16', dims: t.dims, data: h });
    } else out.set(name, t);
  }
  writeSafetensors(join(to, 'model.safetensors'), out, { format: 'pt' });
}

/**
 * The spam model measured through the pipeline on the held-out emails, whole (accuracy, macro F1) and as
 * short views (accuracy), and on the held-out plain sentences (the share called ham): the last pass chose its
 * checkpoint on all three together, so each is reported on its own.
 */
export async function spamHeldOut(dir: string, quick = false): Promise<{ accuracy: number; macro_f1: number; short_accuracy: number; plain_ham: number }> {
  const heldOut = (await spamSplit(SETTINGS.spamChars)).heldOut.filter((_, i) => !quick || i % 38 === 0);
  const [from, n] = SETTINGS.spamPlain.heldOut;
  const plain = nlpCorpusSentences().slice(from, from + (quick ? 32 : n));
  const classify = await pipeline('text-classification', dir);
  try {
    const predict = async (texts: string[]) => (await classify.run(texts, { batchSize: 16 })).map((r) => r[0]!.label);
    const whole = await predict(heldOut.map((e) => e.text));
    const short = await predict(heldOut.map((e) => e.short));
    const plainHam = (await predict(plain)).filter((l) => l === 'ham').length / plain.length;
    const acc = (got: string[]) => got.filter((l, i) => l === heldOut[i]!.label).length / heldOut.length;
    const f1 = (label: string) => {
      const tp = whole.filter((l, i) => l === label && heldOut[i]!.label === label).length;
      const predicted = whole.filter((l) => l === label).length, actual = heldOut.filter((e) => e.label === label).length;
      return tp === 0 ? 0 : (2 * tp) / (predicted + actual);
    };
    return { accuracy: acc(whole), macro_f1: (f1('ham') + f1('spam')) / 2, short_accuracy: acc(short), plain_ham: plainHam };
  } finally {
    await classify.dispose();
  }
}

/** The run folder of spam pass k (0-based): spam, spam2, spam3, … */
const spamRun = (k: number) => (k === 0 ? 'spam' : `spam${k + 1}`);
const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, number>;
const dirBytes = (d: string): number => readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const o = parseArgs(argv);
  const W = o.work, D = join(W, 'data'), R = join(W, 'runs');
  const steps = (n: number) => Math.max(1, o.quick ? 2 : Math.round(n * o.scale));
  const th = String(o.threads);
  const times: Record<string, number> = existsSync(join(W, 'times.json')) ? readJson(join(W, 'times.json')) : {};
  const timed = async (stage: string, f: () => number | void | Promise<void>) => {
    const t = performance.now();
    await f();
    times[stage] = Math.round((performance.now() - t) / 100) / 10;
    mkdirSync(W, { recursive: true });
    writeFileSync(join(W, 'times.json'), JSON.stringify(times, null, 2) + '\n');
  };
  const S = SETTINGS;
  const common = ['--threads', th, '--no-progress', '--no-dropout'];

  if (o.stages.has('data')) await timed('data', () => prepareData(D, o.quick));
  if (o.stages.has('tokenizer')) {
    await timed('tokenizer', () => deberta(['tokenizer-train', '--input', join(D, 'brown-train.txt'), join(D, 'nlp-corpus.txt'),
      '--vocab-size', String(o.quick ? 1000 : S.tokenizer.vocabSize), '--out', join(W, 'tokenizer'), '--quiet']));
  }
  const cfgFile = join(W, 'config.json');
  if (o.stages.has('pretrain')) {
    // the tokenizer's pieces plus [MASK], added after them
    const tok = JSON.parse(readFileSync(join(W, 'tokenizer', 'tokenizer.json'), 'utf8')) as { model: { vocab: unknown[] }; added_tokens?: { id: number }[] };
    const ids = Math.max(tok.model.vocab.length, ...(tok.added_tokens ?? []).map((t) => t.id + 1));
    writeFileSync(cfgFile, JSON.stringify({ ...S.config, vocab_size: ids }, null, 2) + '\n');
    const p = S.pretrain;
    await timed('pretrain', () => deberta(['pretrain', '--config', cfgFile, '--objective', 'mlm', '--tokenizer', join(W, 'tokenizer'),
      '--train', join(D, 'brown-train.txt'), join(D, 'nlp-pretrain.txt'), '--eval', join(D, 'brown-heldout.txt'), '--out', join(R, 'pretrain'),
      '--max-length', String(p.maxLength), '--batch-size', String(p.batchSize), '--max-steps', String(steps(p.steps)), '--lr', String(p.lr),
      '--warmup-ratio', String(p.warmupRatio), '--seed', String(p.seed), ...common]));
  }
  const pre = join(R, 'pretrain', 'best');
  const ft = (model: string, data: string, out: string, s: { maxLength: number; batchSize: number; lr: number; seed: number }, n: number, task: string, extra: string[], warmup: number) =>
    deberta(['train', '--model', model, '--task', task, '--train', join(D, `${data}-train.jsonl`), '--eval', join(D, `${data.replace('-lowres', '')}-heldout.jsonl`),
      '--out', out, '--max-length', String(s.maxLength), '--batch-size', String(s.batchSize), '--max-steps', String(n), '--lr', String(s.lr),
      '--warmup-ratio', String(warmup), '--seed', String(s.seed), ...common, ...extra]);
  if (o.stages.has('spam')) {
    const s = S.spam;
    await timed('spam', () => {
      s.passes.forEach((p, k) => {
        const from = k === 0 ? pre : join(R, spamRun(k - 1), 'best');
        ft(from, p.data, join(R, spamRun(k)), { ...s, ...p }, steps(p.steps), 'sequence-classification', [], p.warmupRatio);
      });
    });
  }
  const posArgs = ['--metric', 'token_accuracy'];
  if (o.stages.has('pos')) await timed('pos', () => ft(pre, 'pos', join(R, 'pos'), S.pos, steps(S.pos.steps), 'token-classification', posArgs, S.pos.warmupRatio));
  if (o.stages.has('pos-random')) {
    await timed('pos-random', () => {
      deberta(['init', '--config', cfgFile, '--out', join(R, 'random-init'), '--seed', '1', '--head', 'token-classification', '--tokenizer', join(W, 'tokenizer'), '--force']);
      ft(join(R, 'random-init'), 'pos', join(R, 'pos-random'), S.pos, steps(S.pos.steps), 'token-classification', posArgs, S.pos.warmupRatio);
    });
  }
  if (o.stages.has('pos-lowres')) {
    await timed('pos-lowres', () => {
      ft(pre, 'pos-lowres', join(R, 'pos-1k'), S.pos, steps(S.posLowresSteps), 'token-classification', posArgs, S.pos.warmupRatio);
      ft(join(R, 'random-init'), 'pos-lowres', join(R, 'pos-random-1k'), S.pos, steps(S.posLowresSteps), 'token-classification', posArgs, S.pos.warmupRatio);
    });
  }
  const spamBest = join(R, spamRun(S.spam.passes.length - 1), 'best');
  if (o.stages.has('export')) {
    await timed('export', () => {
      exportF16(pre, join(o.models, MODEL_NAMES.base), S.pretrain.maxLength);
      exportF16(spamBest, join(o.models, MODEL_NAMES.spam), S.spam.maxLength);
      exportF16(join(R, 'pos', 'best'), join(o.models, MODEL_NAMES.pos), S.pos.maxLength);
    });
  }
  if (o.stages.has('metrics')) {
    const ev = (d: string) => readJson(join(d, 'eval_results.json'));
    const mlm = ev(pre), pos = ev(join(R, 'pos', 'best')), rnd = ev(join(R, 'pos-random', 'best'));
    const spam = await spamHeldOut(spamBest, o.quick);
    const sizes = Object.fromEntries(Object.values(MODEL_NAMES).map((n) => [n, existsSync(join(o.models, n)) ? dirBytes(join(o.models, n)) : 0]));
    const metrics = {
      masked_token_accuracy: mlm.accuracy, masked_token_perplexity: mlm.perplexity,
      spam_accuracy: spam.accuracy, spam_macro_f1: spam.macro_f1, spam_short_accuracy: spam.short_accuracy, spam_plain_ham: spam.plain_ham,
      pos_token_accuracy: pos.token_accuracy, pos_random_init_token_accuracy: rnd.token_accuracy,
      pos_margin_over_random_init: pos.token_accuracy! - rnd.token_accuracy!,
      ...(existsSync(join(R, 'pos-random-1k', 'best')) ? {
        pos_lowres_token_accuracy: ev(join(R, 'pos-1k', 'best')).token_accuracy,
        pos_lowres_random_init_token_accuracy: ev(join(R, 'pos-random-1k', 'best')).token_accuracy,
        pos_lowres_margin_over_random_init: ev(join(R, 'pos-1k', 'best')).token_accuracy! - ev(join(R, 'pos-random-1k', 'best')).token_accuracy!,
      } : {}),
      seconds: times, bytes: sizes, quick: o.quick,
    };
    mkdirSync(o.models, { recursive: true });
    writeFileSync(join(o.models, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
    const pct = (x: number | undefined) => (x === undefined ? '-' : `${(100 * x).toFixed(2)} %`);
    const rows: [string, string, string][] = [
      ['masked-token accuracy (held-out Brown, EMD)', pct(mlm.accuracy), 'reported'],
      ['spam accuracy (held-out emails)', pct(spam.accuracy), '>= 97.5 %'],
      ['spam accuracy (their short views)', pct(spam.short_accuracy), '>= 95 %'],
      ['held-out plain sentences taken as ham', pct(spam.plain_ham), '>= 95 %'],
      ['POS token accuracy (held-out Brown files)', pct(pos.token_accuracy), '>= 95 %'],
      ['POS token accuracy, random initialisation', pct(rnd.token_accuracy), 'baseline'],
      ['POS margin of pretraining', `${(100 * metrics.pos_margin_over_random_init).toFixed(2)} pt`, '> 0'],
      ...(metrics.pos_lowres_margin_over_random_init === undefined ? [] : [
        ['POS, 1,014 training sentences: pretrained', pct(metrics.pos_lowres_token_accuracy), 'low-resource'],
        ['POS, 1,014 training sentences: random init', pct(metrics.pos_lowres_random_init_token_accuracy), 'baseline'],
        ['POS margin of pretraining, 1,014 sentences', `${(100 * metrics.pos_lowres_margin_over_random_init).toFixed(2)} pt`, '> 0'],
      ] as [string, string, string][]),
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(rows.map(([a, b, c]) => `${a.padEnd(w)}  ${b.padStart(9)}  ${c}`).join('\n') + '\n');
    process.stdout.write(`models: ${Object.entries(sizes).map(([n, b]) => `${n} ${(b / 1e6).toFixed(1)} MB`).join(', ')}\n`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`train-models: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
