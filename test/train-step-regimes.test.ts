// Relative attention within the span: the graph built for short sequences (maxLength <= span: every row of
// scores shifted into place, no gather index, only the table rows in use projected) gives the general
// graph's outputs and gradients; the gradient model trains through it until a longer batch comes, then
// through the general graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Graph } from '../src/graph/graph.ts';
import { loadCheckpointTensors } from '../src/io/checkpoint.ts';
import { readDebertaConfig } from '../src/models/deberta/config-file.ts';
import { buildDeberta, dims, type HeadKind } from '../src/models/deberta/modeling.ts';
import { bindWeights } from '../src/models/deberta/weights.ts';
import { Session } from '../src/runtime/session.ts';
import { readSafetensors } from '../src/io/safetensors.ts';
import { tensor, toFloat64, type Tensor } from '../src/tensor.ts';
import { AdamW } from '../src/train/optim.ts';
import { gradientModelFromTensors, type TrainBatch } from '../src/train/step.ts';

const root = join(import.meta.dirname, 'fixtures', 'models');

/** The fixture's batch cut to its first `n` tokens (n <= the fixture's length). */
function batchOf(name: string, n?: number): TrainBatch {
  const t = readSafetensors(join(root, name, 'expected.safetensors')).tensors;
  const cut = (x: Tensor | undefined) => {
    if (!x || n === undefined) return x;
    const d = x.dims, len = d[d.length - 1]!, rows = x.data.length / len;
    const data = new BigInt64Array(rows * n);
    for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) data[r * n + j] = BigInt((x.data as BigInt64Array)[r * len + j]!);
    return tensor('int64', [...d.slice(0, -1), n], data);
  };
  const ids = cut(t.get('input.input_ids'))!;
  // The fixtures pad on the right: cut short, every row keeps at least its first token.
  return {
    inputIds: ids, attentionMask: cut(t.get('input.attention_mask'))!, tokenTypeIds: cut(t.get('input.token_type_ids')),
    // Token labels are cut with their tokens; sequence labels stay.
    labels: t.get('label.labels')?.dims.join() === t.get('input.input_ids')!.dims.join() ? cut(t.get('label.labels')) : t.get('label.labels'),
    startPositions: n === undefined ? t.get('label.start_positions') : t.get('label.start_positions') && tensor('int64', [ids.dims[0]!], new BigInt64Array(ids.dims[0]!).fill(1n)),
    endPositions: n === undefined ? t.get('label.end_positions') : t.get('label.end_positions') && tensor('int64', [ids.dims[0]!], new BigInt64Array(ids.dims[0]!).fill(2n)),
  };
}

const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return diff / Math.max(scale, 1e-300);
};

const cases: [string, HeadKind, number][] = [
  ['v3-buckets-seqcls', 'sequence-classification', 12], // span 16 (log buckets), c2p and p2c, first-token-only last layer
  ['v3-buckets-tokcls', 'token-classification', 16],
  ['v2-unshared-c2p-seqcls', 'sequence-classification', 16], // c2p only, own pos_key_proj
  ['v1-clamp-abs-seqcls', 'sequence-classification', 8], // v1, p2c only, span 8
  ['v1-base-qa', 'question-answering', 40], // v1, span 64 (the whole fixture is short)
];

for (const [name, head, n] of cases) {
  test(`${name}: the short-sequence graph (no gather index) gives the general graph's outputs, n = ${n}`, async () => {
    const dir = join(root, name);
    const config = readDebertaConfig(dir);
    const { tensors } = await loadCheckpointTensors(dir);
    const span = dims(config).span;
    assert.ok(n <= span, `${name}: n ${n} within the span ${span}`);
    const outputs: Record<string, Tensor>[] = [];
    for (const short of [false, true]) {
      const g = new Graph();
      const built = buildDeberta(g, config, bindWeights(g, tensors, { file: dir, dtype: 'float64' }).source, head, 'deberta.',
        { dtype: 'float64', ...(short ? { maxLength: span, relativeRowsFirst: true } : {}) });
      const gathers = g.nodes.filter((node) => node.type === 'GatherElements').length;
      assert.equal(gathers === 0, short, `${name}: GatherElements nodes in the ${short ? 'short' : 'general'} graph: ${gathers}`);
      const s = await Session.fromGraph(g, { outputs: built.outputs }, { threads: 1 });
      const b = batchOf(name, n);
      const feeds: Record<string, Tensor> = { input_ids: b.inputIds, attention_mask: b.attentionMask };
      if (config.type_vocab_size > 0) feeds.token_type_ids = b.tokenTypeIds ?? tensor('int64', b.inputIds.dims);
      outputs.push(await s.run(feeds));
      await s.release();
    }
    for (const k of Object.keys(outputs[0]!)) {
      const err = maxRelDiff(toFloat64(outputs[1]![k]!), toFloat64(outputs[0]![k]!));
      assert.ok(err <= 1e-12, `${name}: ${k} differs by ${err.toExponential(2)}`);
    }
  });

  // A longer batch to switch with comes from the fixture's 40 tokens (v1-base: its span of 64 covers them all).
  if (dims(readDebertaConfig(join(root, name))).span >= 40) continue;
  test(`${name}: gradients and a fused step through the short graph equal the general graph's after a longer batch switched to it`, async () => {
    const dir = join(root, name);
    const config = readDebertaConfig(dir);
    // Dropout on: its masks are shaped by the graph's shapes (the first-token-only layer's [batch, heads, 1, n]).
    Object.assign(config, { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 });
    const { tensors } = await loadCheckpointTensors(dir);
    const make = () => gradientModelFromTensors(config, tensors, head, { dtype: 'float64', dropout: true, seed: 3, threads: 1 });
    const short = await make(), general = await make();
    // A batch longer than the span moves `general` to the general graph for good; `short` skips that step's masks.
    await general.computeGradients(batchOf(name, dims(config).span + 1));
    short.step = general.step;
    const b = batchOf(name, n);
    const a = await short.computeGradients(b), c = await general.computeGradients(b);
    assert.ok(Math.abs(a.loss - c.loss) <= 1e-12 * Math.abs(c.loss), `${name}: loss ${a.loss} vs ${c.loss}`);
    let worst = 0;
    for (const [k, g] of c.grads) worst = Math.max(worst, maxRelDiff(toFloat64(a.grads.get(k)!), toFloat64(g)));
    assert.ok(worst <= 1e-10, `${name}: gradients differ by ${worst.toExponential(2)}`);
    // One fused update on each: the same parameters after it.
    const optA = new AdamW(short.params, { lr: 1e-3 }), optC = new AdamW(general.params, { lr: 1e-3 });
    await short.trainStep(b, optA, 1e-3, 1);
    await general.trainStep(b, optC, 1e-3, 1);
    let moved = 0;
    for (const [k, p] of general.params) {
      moved = Math.max(moved, maxRelDiff(toFloat64(short.params.get(k)!), toFloat64(p)));
    }
    assert.ok(moved <= 1e-10, `${name}: parameters after a fused step differ by ${moved.toExponential(2)}`);
    await short.dispose();
    await general.dispose();
  });
}
