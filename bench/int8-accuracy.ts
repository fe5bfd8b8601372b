// The accuracy cost of `quantize: 'int8'` on the embedded models: held-out spam accuracy of the
// float32 and int8 classifiers, and how often int8 fill-mask agrees with float32 on the top-1 token at masked
// positions of held-out Brown sentences. Usage: node --import tsx bench/int8-accuracy.ts [--emails N] [--sentences N]
import '../src/platform/node.ts';
import { join } from 'node:path';
import { spamSplit } from '../src/datasets/spam.ts';
import { brownSplit, brownLineToText } from '../src/tokenizers/train/brown.ts';
import { loadModel, type DebertaModel } from '../src/models/auto.ts';
import { AutoTokenizer } from '../src/tokenizers/index.ts';
import { readFileSync } from 'node:fs';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const models = join(import.meta.dirname, '..', 'models');
const threads = 2;

async function spamAccuracy(model: DebertaModel, texts: string[], labels: number[], tok: Awaited<ReturnType<typeof AutoTokenizer.fromPretrained>>) {
  let correct = 0;
  for (let i = 0; i < texts.length; i += 16) {
    const batch = tok(texts.slice(i, i + 16), { padding: true, truncation: true, maxLength: 256 });
    const { logits } = await model(batch);
    const [rows, classes] = logits!.dims as [number, number];
    for (let r = 0; r < rows; r++) {
      const row = logits!.data.subarray(r * classes, (r + 1) * classes);
      if (row.indexOf(Math.max(...row)) === labels[i + r]) correct++;
    }
  }
  return correct / texts.length;
}

const spamDir = join(models, 'deberta-v3-brown-small-spam');
const spamTok = await AutoTokenizer.fromPretrained(spamDir);
const f32 = await loadModel(spamDir, 'auto', { threads });
const i8 = await loadModel(spamDir, 'auto', { threads, quantize: 'int8' });
const label2id = f32.config.label2id;
const held = (await spamSplit(1200)).heldOut.slice(0, arg('--emails', 1209));
const texts = held.map((e) => e.text), labels = held.map((e) => label2id[e.label]!);
const [a32, a8] = [await spamAccuracy(f32, texts, labels, spamTok), await spamAccuracy(i8, texts, labels, spamTok)];
console.log(`spam held-out accuracy (${texts.length} emails): float32 ${(100 * a32).toFixed(2)} %, int8 ${(100 * a8).toFixed(2)} %, difference ${(100 * (a8 - a32)).toFixed(2)} points`);

const mlmDir = join(models, 'deberta-v3-brown-small');
const tok = await AutoTokenizer.fromPretrained(mlmDir);
const m32 = await loadModel(mlmDir, 'auto', { threads });
const m8 = await loadModel(mlmDir, 'auto', { threads, quantize: 'int8' });
const sentences: string[] = [];
for (const file of brownSplit().heldOut) {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const t = brownLineToText(line);
    if (t && t.split(' ').length >= 6) sentences.push(t);
  }
}
let agree = 0, total = 0;
const maskId = tok.maskTokenId;
for (const s of sentences.slice(0, arg('--sentences', 300))) {
  const ids = tok(s, { truncation: true, maxLength: 128 }).inputIds[0]!;
  // Mask every 7th real token (fixed positions, about 15 % of them).
  const masked = ids.map((id, k) => (k > 0 && k < ids.length - 1 && k % 7 === 3 ? maskId : id));
  const positions = masked.flatMap((id, k) => (id === maskId ? [k] : []));
  if (!positions.length) continue;
  const [o32, o8] = [await m32({ inputIds: [masked] }), await m8({ inputIds: [masked] })];
  const vocab = o32.logits!.dims[2]!;
  const top = (d: Float32Array, k: number) => { const row = d.subarray(k * vocab, (k + 1) * vocab); return row.indexOf(Math.max(...row)); };
  for (const k of positions) { total++; if (top(o32.logits!.data, k) === top(o8.logits!.data, k)) agree++; }
}
console.log(`fill-mask top-1 agreement int8 vs float32: ${agree}/${total} masked tokens (${(100 * agree / total).toFixed(1)} %)`);
for (const m of [f32, i8, m32, m8]) await m.dispose();
