// DeBERTa v1/v2/v3 as a graph, read top to bottom: embeddings, disentangled attention, encoder, heads.
// Parameter names are the Hugging Face checkpoint's, so loading and saving need no renaming.
import type { Graph } from '../../graph/graph.ts';
import * as F from '../../graph/functional.ts';
import type { Value } from '../../graph/value.ts';
import { tensor } from '../../tensor.ts';
import type { DebertaConfig } from './config.ts';
import { relativeIndexTables } from './relative-position.ts';

export type HeadKind =
  | 'base' | 'masked-lm' | 'sequence-classification' | 'token-classification' | 'question-answering' | 'multiple-choice';

/** Hands out the parameter of a checkpoint name, checking its dims. */
export type ParamSource = (name: string, dims: number[]) => Value;

export interface BuildOptions {
  hiddenStates?: boolean;
  attentions?: boolean;
  /**
   * Longest sequence the relative-position tables cover (default 4096). At most the relative span
   * (position_buckets, else max_relative_positions), every sequence is short, and relative attention
   * shifts each row of scores into place instead of gathering them through an index (see RelativeLayout).
   */
  maxLength?: number;
  /**
   * Line relative attention up by shifting rows (as for short sequences, above) at every length, with one
   * table row per distance (2n), instead of gathering through an [B, heads, n, n] index: more product work
   * once n > span, no index and no gather. createModel sets it for providers other than the CPU's.
   */
  relativeShift?: boolean;
  /**
   * Relative attention projects only the table rows a length uses (gathered, then projected) rather than
   * the whole table (projected, then gathered): for training graphs, whose weights change every step.
   * Inference leaves it off, so that the whole projected table is folded once at load.
   */
  relativeRowsFirst?: boolean;
  /**
   * Pooling heads (sequence classification, multiple choice): run the per-token work (projections, FFN,
   * LayerNorm) only on the tokens the first token's result depends on, not on padding (see Packing).
   * Outputs are the same. Its index comes from NonZero, which not every provider runs: createModel sets
   * it for the CPU.
   */
  skipPadding?: boolean;
  /** Masked-LM head layout: 'cls' (`cls.predictions.*`) or 'lm_head' (`lm_predictions.lm_head.*`); default from `legacy`. */
  mlmLayout?: 'cls' | 'lm_head';
  /** Decode masked-LM logits through the Enhanced Mask Decoder (Microsoft's masked-LM checkpoints). */
  emd?: boolean;
  /**
   * Masked-LM head: predict only where input_ids holds this id (the mask token). The output is then
   * `mask_logits`, [positions, vocab] with the positions in row-major order, instead of `logits` over
   * every position: the vocabulary projection is most of a fill-mask call's work.
   */
  maskLogitsFor?: number;
  /**
   * Floating-point type of the activations; must match the parameters' (default float32). float16 is for
   * GPUs with `shader-f16` (half the memory traffic, faster products); outputs are cast back to float32.
   */
  dtype?: 'float32' | 'float64' | 'float16';
  /** Training: called at every place transformers applies dropout (src/train/dropout.ts); absent: none. */
  dropout?: DropoutHook;
}

/** Where a dropout sits: its rate is hidden_dropout_prob, attention_probs_dropout_prob, pooler_dropout or cls_dropout. */
export type DropoutSite = 'hidden' | 'attention' | 'pooler' | 'classifier';
export type DropoutHook = (x: Value, site: DropoutSite) => Value;

export interface DebertaGraph {
  inputs: { inputIds: Value; attentionMask: Value; tokenTypeIds?: Value };
  outputs: Record<string, Value>;
}

/**
 * Which relative-table rows a sequence uses, and how to line the products up with the keys. One row set and
 * one index serve c2p and p2c: p2c's table at distance −δ is c2p's at δ (the bucketed position is odd in δ
 * and the clamp symmetric), so p2c read through c2p's rows and index lands on the same entries.
 */
interface RelativeLayout {
  rows: Value;
  index?: Value;
  /**
   * Instead of the index, when every sequence is short (maxLength <= span): the rows are the 2n distances
   * n - 1 .. -n, so query i meets key j in column n - 1 - i + j, a shift per row (F.skew). p2c multiplies the
   * keys by `reversed`, the same rows in reverse (distances -n .. n - 1), where key j meets query i in column
   * n - j + i, shifts those rows and transposes.
   */
  shift?: { n: Value; reversed: Value };
}

/**
 * The tokens a pooling head's result depends on, when padding is skipped: every real token, and every
 * token of a row whose first token is padding (that query attends to all keys, as transformers computes
 * it). Per-token work runs on these T tokens packed as [T, hidden]; attention runs on the padded layout.
 */
interface Packing {
  /** [T]: their positions among the batch's B·n, in order. */
  index: Value;
  /**
   * [B, n]: each position's packed row. A skipped position repeats the kept row before it: a key that
   * is masked, with a finite value that gets weight 0.
   */
  unpack: Value;
  /** [B]: the packed row of each sequence's first token. */
  first: Value;
}

/**
 * The bias of a masked pair: float32's lowest value, as transformers' masked_fill uses finfo(dtype).min. It is
 * added here, not filled: in float16 the lowest (-65504) plus a score below -16 rounds to -inf, a row of those
 * is NaN, and NaN keys reach real tokens through 0 · NaN. -32768 stays finite for any score under 32736 and
 * still rounds every score of magnitude up to 16 away, so masked rows come out uniform as in float32.
 */
const MASKED = { float32: -3.4028234663852886e38, float64: -3.4028234663852886e38, float16: -32768 } as const;

/** Sizes derived once from the config. */
export function dims(c: DebertaConfig) {
  const heads = c.num_attention_heads;
  const headSize = c.attention_head_size ?? Math.floor(c.hidden_size / heads);
  const maxRelative = c.max_relative_positions >= 1 ? c.max_relative_positions : c.max_position_embeddings;
  const isV2 = c.model_type === 'deberta-v2';
  const span = isV2 && c.position_buckets > 0 ? c.position_buckets : maxRelative;
  return {
    heads, headSize, allHead: heads * headSize, maxRelative, span, isV2,
    embeddingSize: c.embedding_size ?? c.hidden_size,
    c2p: c.pos_att_type.includes('c2p'), p2c: c.pos_att_type.includes('p2c'),
  };
}

class DebertaBuilder {
  private readonly d;
  constructor(private readonly g: Graph, private readonly c: DebertaConfig, private readonly p: ParamSource,
    private readonly prefix: string, private readonly opts: BuildOptions) {
    this.d = dims(c);
  }

  private w(name: string, shape: number[]): Value { return this.p(this.prefix + name, shape); }

  private drop(x: Value, site: DropoutSite): Value { return this.opts.dropout ? this.opts.dropout(x, site) : x; }

  private linear(x: Value, name: string, inF: number, outF: number, bias = true): Value {
    return F.linear(x, this.w(`${name}.weight`, [outF, inF]), bias ? this.w(`${name}.bias`, [outF]) : undefined);
  }

  private layerNorm(x: Value, name: string, size: number): Value {
    return F.layerNorm(x, this.w(`${name}.weight`, [size]), this.w(`${name}.bias`, [size]), this.c.layer_norm_eps);
  }

  /** transformers: DebertaV2Embeddings.forward (DebertaEmbeddings in v1), in models/deberta_v2/modeling_deberta_v2.py. */
  embeddings(ids: Value, mask: Value, tokenTypes: Value | undefined): Value {
    const { c, d } = this;
    const E = d.embeddingSize;
    let x = F.gather(this.w('embeddings.word_embeddings.weight', [c.vocab_size, E]), ids);
    if (c.position_biased_input) {
      const positions = F.arange(F.dimOf(ids, 1));
      x = x.add(F.gather(this.w('embeddings.position_embeddings.weight', [c.max_position_embeddings, E]), positions));
    }
    if (c.type_vocab_size > 0 && tokenTypes) {
      x = x.add(F.gather(this.w('embeddings.token_type_embeddings.weight', [c.type_vocab_size, E]), tokenTypes));
    }
    if (E !== c.hidden_size) x = this.linear(x, 'embeddings.embed_proj', E, c.hidden_size, false);
    x = this.layerNorm(x, 'embeddings.LayerNorm', c.hidden_size);
    return this.drop(x.mul(F.unsqueeze(mask, [2])), 'hidden');
  }

  /**
   * The relative embedding rows in use, [2 * span, hidden], normalised in v2 when norm_rel_ebd asks.
   * transformers: DebertaV2Encoder.get_rel_embedding.
   */
  relativeEmbeddings(): Value {
    const { c, d } = this;
    const rows = d.isV2 ? 2 * d.span : 2 * d.maxRelative;
    let rel = this.w('encoder.rel_embeddings.weight', [rows, c.hidden_size]);
    if (d.isV2 && c.norm_rel_ebd.includes('layer_norm')) rel = this.layerNorm(rel, 'encoder.LayerNorm', c.hidden_size);
    return rel;
  }

  /**
   * Relative attention with only the table rows a length-n sequence needs. Each term multiplies by W
   * rows of the projected table: the 2n rows of distances n - 1, n - 2, ..., -n when 2n <= 2 * span (the
   * last is padding), else the whole table (a long sequence touches every row anyway). A gather then
   * picks, for query i and key j, the column of its distance. Its int32 index is expanded to
   * [batch, heads, n, n] once per call and shared by every layer and by both terms.
   * transformers: build_relative_position / make_log_bucket_position (DebertaV2Encoder.get_rel_pos), and the
   * index arithmetic of DisentangledSelfAttention.disentangled_attention_bias.
   */
  relativeIndices(ids: Value): RelativeLayout {
    const span = this.d.span;
    // Short sequences (2n <= 2 * span) slice 2n rows around the middle, which needs maxLen > span.
    const maxLen = Math.max(this.opts.maxLength ?? 4096, span + 1);
    const { c2p } = relativeIndexTables({ span, buckets: this.d.isV2 ? this.c.position_buckets : 0, maxRelative: this.d.maxRelative }, maxLen);
    const g = this.g;
    const int = (x: number) => g.constInt64([x]);
    const table = (t: BigInt64Array) => g.constant(tensor('int64', [t.length], t));
    const n = F.dimOf(ids, 1);
    if (this.opts.relativeShift || (this.opts.maxLength !== undefined && this.opts.maxLength <= span)) {
      // Every sequence is short (or shifting is asked for): the 2n rows of distances n - 1 .. -n, and the same in reverse.
      const rows = F.slice(table(c2p.slice().reverse()), int(maxLen).sub(n), int(maxLen).add(n), [0]);
      return { rows, shift: { n, reversed: F.slice(table(c2p), int(maxLen - 1).sub(n), int(maxLen - 1).add(n), [0]) } };
    }
    const twoN = n.mul(2);
    const width = g.op1('Min', [twoN, int(2 * span)]);
    const short = g.op1('LessOrEqual', [twoN, int(2 * span)]);
    const pos = F.arange(n);
    const delta = F.unsqueeze(pos, [1]).sub(F.unsqueeze(pos, [0])); // [n, n]: i - j
    const allRows = F.slice(F.arange(int(2 * span)), int(0), width, [0]);
    // Entry m of the reversed table holds distance maxLen - 1 - m: distances n-1 .. -n are m in [maxLen - n, maxLen + n).
    const distanceRows = F.slice(table(c2p.slice().reverse()), int(maxLen).sub(n), int(maxLen).sub(n).add(width), [0]);
    const full = F.concat([F.dimOf(ids, 0), int(this.d.heads), n, n], 0);
    return {
      rows: F.where(short, distanceRows, allRows),
      // c2p[i][j] = C[i][index(i, j)]; p2c[i][j] = E[index(i, j)][j] (transformers' gather along the keys, transposed).
      index: F.expand(F.where(short, n.sub(1).sub(delta), F.gather(table(c2p), delta.add(maxLen - 1))).cast('int32'), full),
    };
  }

  private packing(mask: Value): Packing {
    const g = this.g;
    const real = mask.cast('bool');
    const keep = g.op1('Or', [real, g.op1('Not', [F.slice(real, [0], [1], [1])])]).reshape([-1]);
    const rank = g.op1('CumSum', [keep.cast('int64'), g.scalar(0, 'int64')]).sub(1);
    const unpack = g.op1('Reshape', [rank, F.shapeOf(mask)]);
    return { index: F.positionsWhere(keep), unpack, first: F.squeeze(F.slice(unpack, [0], [1], [1]), [1]) };
  }

  private splitHeads(x: Value): Value {
    return x.reshape([0, 0, this.d.heads, this.d.headSize]).transpose([0, 2, 1, 3]);
  }

  /**
   * Projections of the v1 fused in_proj: per head, rows [q | k | v] of headSize each. `padded(y, packed)`
   * takes a product of packed rows to the padded layout.
   */
  private v1Projections(x: Value, query: Value, name: string, padded: (y: Value, packed: boolean) => Value): [Value, Value, Value] {
    const { c, d } = this;
    const w = F.transpose(this.w(`${name}.in_proj.weight`, [3 * d.allHead, c.hidden_size]), [1, 0]);
    const heads = (y: Value, packed: boolean) =>
      padded(y.matmul(w), packed).reshape([0, 0, d.heads, 3 * d.headSize]).transpose([0, 2, 1, 3]);
    const perHead = heads(x, true);
    const part = (t: Value, k: number) => F.slice(t, [k * d.headSize], [(k + 1) * d.headSize], [3]);
    const bias = (b: string) => this.w(`${name}.${b}`, [d.allHead]).reshape([d.heads, 1, d.headSize]);
    const q = part(query === x ? perHead : heads(query, false), 0);
    return [q.add(bias('q_bias')), part(perHead, 1), part(perHead, 2).add(bias('v_bias'))];
  }

  /**
   * Queries come from `query` (the layer input, except in the Enhanced Mask Decoder); keys and values from x.
   * With `pack`, x is packed (and `query` too when it is x): projections run packed, attention padded.
   * transformers: DebertaV2Attention — DisentangledSelfAttention.forward and .disentangled_attention_bias, then
   * DebertaV2SelfOutput (v1: DisentangledSelfAttention in models/deberta/modeling_deberta.py, c2p/p2c over build_relative_position).
   */
  attention(x: Value, maskBias: Value, rel: Value | undefined, idx: RelativeLayout | undefined, name: string, query = x,
    pack?: Packing) {
    const { c, d } = this;
    const H = c.hidden_size;
    const queryPacked = pack !== undefined && query === x;
    const padded = (y: Value, packed: boolean) => (pack && packed ? F.gather(y, pack.unpack) : y);
    let q: Value, k: Value, v: Value;
    if (d.isV2) {
      q = this.splitHeads(padded(this.linear(query, `${name}.query_proj`, H, d.allHead), queryPacked));
      k = this.splitHeads(padded(this.linear(x, `${name}.key_proj`, H, d.allHead), true));
      v = this.splitHeads(padded(this.linear(x, `${name}.value_proj`, H, d.allHead), true));
    } else {
      [q, k, v] = this.v1Projections(x, query, name, padded);
    }
    const terms = c.relative_attention ? (d.c2p ? 1 : 0) + (d.p2c ? 1 : 0) : 0;
    const scale = 1 / Math.sqrt(d.headSize * (1 + terms));
    const qs = q.mul(scale);
    let scores = qs.matmul(k.transpose([0, 1, 3, 2]));

    if (c.relative_attention && rel && idx) {
      rel = this.drop(rel, 'hidden'); // transformers' pos_dropout: a fresh mask in every layer
      // The projected table per head, [heads, W, headSize], for W rows: of the whole projected table
      // [2 * span, ...] (input-independent: folded once at load for inference), or only those rows projected.
      const perHead = (table: Value, project: (t: Value) => Value, rows: Value) => this.opts.relativeRowsFirst
        ? project(F.gather(table, rows)).reshape([-1, d.heads, d.headSize]).transpose([1, 0, 2])
        : F.gather(project(table).reshape([0, d.heads, d.headSize]).transpose([1, 0, 2]), rows, 1);
      if (d.c2p) {
        const posKey = (t: Value) => d.isV2
          ? this.linear(t, c.share_att_key ? `${name}.key_proj` : `${name}.pos_key_proj`, H, d.allHead)
          : this.linear(t, `${name}.pos_proj`, H, d.allHead, false);
        // [B, heads, n, W], one column per distance, then each (i, j) takes its distance's column.
        const cols = qs.matmul(perHead(rel, posKey, idx.rows).transpose([0, 2, 1]));
        scores = scores.add(idx.shift ? F.skew(cols, idx.shift.n.sub(1), idx.shift.n, k.shape[2]!) : F.gatherElements(cols, idx.index!, 3));
      }
      if (d.p2c) {
        const posQuery = (t: Value) => (d.isV2
          ? this.linear(t, c.share_att_key ? `${name}.query_proj` : `${name}.pos_query_proj`, H, d.allHead)
          : this.linear(t, `${name}.pos_q_proj`, H, d.allHead)).mul(scale);
        if (idx.shift) {
          // [B, heads, n(keys), W]: key j's row of distances, shifted to [key, query] and transposed.
          const keyRows = k.matmul(perHead(rel, posQuery, idx.shift.reversed).transpose([0, 2, 1]));
          scores = scores.add(F.skew(keyRows, idx.shift.n, F.dimOf(qs, 2), qs.shape[2]!).transpose([0, 1, 3, 2]));
        } else {
          // transformers gathers along the keys and transposes; here: [B, heads, W, n(keys)], one row per distance: gathering along rows lands p2c in [query, key] order.
          const rowsFirst = perHead(rel, posQuery, idx.rows);
          scores = scores.add(F.gatherElements(rowsFirst.matmul(k.transpose([0, 1, 3, 2])), idx.index!, 2));
        }
      }
    }
    // maskBias is 0 or a huge negative (MASKED): the numbers (and gradients) of transformers' masked_fill, so a
    // fully masked (padding) row comes out uniform rather than NaN; one Add in ONNX (see AddMask).
    const probs = this.drop(F.softmax(this.g.op1('AddMask', [scores, maskBias])), 'attention');
    let context = probs.matmul(v).transpose([0, 2, 1, 3]).reshape([0, 0, d.allHead]);
    if (pack && queryPacked) context = F.gather(context.reshape([-1, d.allHead]), pack.index);
    const out = this.drop(this.linear(context, `${name.replace(/\.self$/, '')}.output.dense`, d.allHead, H), 'hidden');
    return { out, probs, context };
  }

  /** transformers: DebertaV2Layer.forward (attention, DebertaV2Intermediate, DebertaV2Output). */
  layer(x: Value, maskBias: Value, rel: Value | undefined, idx: RelativeLayout | undefined, i: number, query = x,
    pack?: Packing) {
    const { c } = this;
    const name = `encoder.layer.${i}`;
    const att = this.attention(x, maskBias, rel, idx, `${name}.attention.self`, query, pack);
    const attOut = this.layerNorm(att.out.add(query), `${name}.attention.output.LayerNorm`, c.hidden_size);
    const inter = F.activation(c.hidden_act, this.linear(attOut, `${name}.intermediate.dense`, c.hidden_size, c.intermediate_size));
    const out = this.drop(this.linear(inter, `${name}.output.dense`, c.intermediate_size, c.hidden_size), 'hidden');
    return { hidden: this.layerNorm(out.add(attOut), `${name}.output.LayerNorm`, c.hidden_size), probs: att.probs };
  }

  /** DeBERTa-v2's convolution beside the first layer: LayerNorm(layer output + act(conv(layer input))). transformers: ConvLayer.forward. */
  conv(layerInput: Value, layerOutput: Value, maskF: Value): Value {
    const { c } = this;
    const k = c.conv_kernel_size;
    const groups = c.conv_groups;
    const x = layerInput.transpose([0, 2, 1]);
    const w = this.w('encoder.conv.conv.weight', [c.hidden_size, c.hidden_size / groups, k]);
    const b = this.w('encoder.conv.conv.bias', [c.hidden_size]);
    const y = F.conv1d(x, w, b, Math.floor((k - 1) / 2), groups).transpose([0, 2, 1]);
    const mask3 = F.unsqueeze(maskF, [2]);
    const act = F.activation(c.conv_act, this.drop(y.mul(mask3), 'hidden'));
    return this.layerNorm(layerOutput.add(act), 'encoder.conv.LayerNorm', c.hidden_size).mul(mask3);
  }

  /**
   * `firstTokenOnly`: the last layer computes only the first token's row (queries, attention rows, FFN),
   * for heads that read nothing else (the pooler); keys and values still come from every token. Such heads
   * skip padding when BuildOptions.skipPadding asks: the hidden states are packed from the first layer
   * on (the second with v2's convolution, which reads the padded layout).
   * transformers: DebertaV2Encoder.forward (get_attention_mask, the layers, ConvLayer after the first).
   */
  encoder(ids: Value, mask: Value, tokenTypes: Value | undefined, firstTokenOnly = false) {
    const { c } = this;
    const dtype = this.opts.dtype ?? 'float32';
    const maskF = mask.cast(dtype);
    const maskB = mask.cast('bool');
    // [B, 1, n, n]: a pair attends only when both tokens are real; added to the scores (see attention).
    const pairs = this.g.op1('And', [F.unsqueeze(maskB, [1, 2]), F.unsqueeze(maskB, [1, 3])]);
    const maskBias = F.where(pairs, this.g.scalar(0, dtype), this.g.scalar(MASKED[dtype], dtype));
    let h = this.embeddings(ids, maskF, tokenTypes);
    const hidden: Value[] = [h];
    const probs: Value[] = [];
    const rel = c.relative_attention ? this.relativeEmbeddings() : undefined;
    const idx = c.relative_attention ? this.relativeIndices(ids) : undefined;
    const hasConv = this.d.isV2 && c.conv_kernel_size > 0;
    const packing = firstTokenOnly && this.opts.skipPadding ? this.packing(mask) : undefined;
    let pack: Packing | undefined;
    for (let i = 0; i < c.num_hidden_layers; i++) {
      if (packing && !pack && !(i === 0 && hasConv)) {
        pack = packing;
        h = F.gather(h.reshape([-1, c.hidden_size]), pack.index);
      }
      const firstTokens = () => (pack ? F.unsqueeze(F.gather(h, pack.first), [1]) : F.slice(h, [0], [1], [1]));
      const layer = firstTokenOnly && i === c.num_hidden_layers - 1 && !(i === 0 && hasConv)
        ? this.layer(h, firstRow(maskBias), rel, idx && { ...idx, index: firstRow(idx.index) }, i, firstTokens(), pack)
        : this.layer(h, maskBias, rel, idx, i, h, pack);
      let out = layer.hidden;
      if (i === 0 && hasConv) out = this.conv(h, out, maskF);
      h = out;
      hidden.push(h);
      probs.push(layer.probs);
    }
    return { last: h, hidden, probs, maskBias, rel, idx };
  }

  /**
   * The Enhanced Mask Decoder as Microsoft's code runs it: the last layer, applied twice with shared
   * weights, to queries that carry absolute positions (P + H) over keys and values H, the output of the
   * layer before it; the second pass takes the first pass's output as its queries.
   * Not in transformers: Microsoft's DeBERTa, apps/models/masked_language_model.py (EnhancedMaskDecoder).
   */
  enhancedMaskDecoder(ids: Value, enc: ReturnType<DebertaBuilder['encoder']>): Value {
    const { c, d } = this;
    if (d.embeddingSize !== c.hidden_size) throw new Error('Enhanced Mask Decoder: embedding_size must equal hidden_size');
    const L = c.num_hidden_layers;
    const keys = enc.hidden[L - 1]!;
    const positions = F.gather(this.w('embeddings.position_embeddings.weight', [c.max_position_embeddings, d.embeddingSize]), F.arange(F.dimOf(ids, 1)));
    let query = keys.add(positions);
    for (let pass = 0; pass < 2; pass++) query = this.layer(keys, enc.maskBias, enc.rel, enc.idx, L - 1, query).hidden;
    return query;
  }
}

/** Row 0 of the query axis of a [batch, heads, queries, keys] tensor (none of none). */
function firstRow(x: Value): Value;
function firstRow(x: Value | undefined): Value | undefined;
function firstRow(x: Value | undefined): Value | undefined { return x && F.slice(x, [0], [1], [2]); }

/**
 * Builds the model with the given head. `prefix` is the checkpoint's prefix of encoder weights
 * ('deberta.' for heads, '' or 'deberta.' for a bare model).
 * transformers: DebertaV2Model and the DebertaV2For{MaskedLM, SequenceClassification (with ContextPooler),
 * TokenClassification, QuestionAnswering, MultipleChoice} forwards; v1 the same classes of modeling_deberta.py.
 */
export function buildDeberta(g: Graph, c: DebertaConfig, p: ParamSource, head: HeadKind, prefix: string,
  opts: BuildOptions = {}): DebertaGraph {
  const seq: (string | number)[] = head === 'multiple-choice' ? ['batch', 'choices', 'sequence'] : ['batch', 'sequence'];
  const inputIds = g.input('input_ids', 'int64', seq);
  const attentionMask = g.input('attention_mask', 'int64', seq);
  const tokenTypeIds = c.type_vocab_size > 0 ? g.input('token_type_ids', 'int64', seq) : undefined;
  // Multiple choice runs every choice as its own row: [batch, choices, n] -> [batch * choices, n].
  const flatten = (x: Value) =>
    head === 'multiple-choice' ? g.op1('Reshape', [x, F.concat([g.constInt64([-1]), F.dimOf(x, 2)], 0)]) : x;
  const ids = flatten(inputIds), mask = flatten(attentionMask);
  const types = tokenTypeIds ? flatten(tokenTypeIds) : undefined;

  const b = new DebertaBuilder(g, c, p, prefix, opts);
  // Pooling heads read only the first token of the last layer: the last layer computes only that row.
  const pooling = head === 'sequence-classification' || head === 'multiple-choice';
  const enc = b.encoder(ids, mask, types, pooling && !opts.hiddenStates && !opts.attentions);
  const outputs: Record<string, Value> = {};
  if (opts.hiddenStates) enc.hidden.forEach((h, i) => { outputs[`hidden_states.${i}`] = h; });
  if (opts.attentions) enc.probs.forEach((a, i) => { outputs[`attentions.${i}`] = a; });

  const top = (name: string, dimsOf: number[]) => p(name, dimsOf);
  const drop = (x: Value, site: DropoutSite) => (opts.dropout ? opts.dropout(x, site) : x);
  const lin = (x: Value, name: string, inF: number, outF: number) =>
    F.linear(x, top(`${name}.weight`, [outF, inF]), top(`${name}.bias`, [outF]));
  const pooled = () => {
    const P = c.pooler_hidden_size;
    const first = drop(F.squeeze(F.slice(enc.last, [0], [1], [1]), [1]), 'pooler');
    return F.activation(c.pooler_hidden_act, lin(first, 'pooler.dense', c.hidden_size, P));
  };
  const nLabels = c.num_labels;

  switch (head) {
    case 'base':
      outputs.last_hidden_state = enc.last;
      break;
    case 'masked-lm': {
      let h = opts.emd ? b.enhancedMaskDecoder(ids, enc) : enc.last;
      if (opts.maskLogitsFor !== undefined) {
        const at = F.positionsWhere(g.op1('Equal', [ids.reshape([-1]), g.scalar(opts.maskLogitsFor, 'int64')]));
        h = F.gather(h.reshape([-1, c.hidden_size]), at);
      }
      const logits = maskedLmHead(c, h, top, p(`${prefix}embeddings.word_embeddings.weight`, [c.vocab_size, dims(c).embeddingSize]), opts.mlmLayout);
      outputs[opts.maskLogitsFor !== undefined ? 'mask_logits' : 'logits'] = logits;
      break;
    }
    case 'sequence-classification':
      outputs.logits = lin(drop(pooled(), 'classifier'), 'classifier', c.pooler_hidden_size, nLabels);
      break;
    case 'token-classification':
      outputs.logits = lin(drop(enc.last, 'hidden'), 'classifier', c.hidden_size, nLabels);
      break;
    case 'question-answering': {
      const both = lin(enc.last, 'qa_outputs', c.hidden_size, 2);
      outputs.start_logits = F.squeeze(F.slice(both, [0], [1], [2]), [2]);
      outputs.end_logits = F.squeeze(F.slice(both, [1], [2], [2]), [2]);
      break;
    }
    case 'multiple-choice': {
      const scores = lin(drop(pooled(), 'classifier'), 'classifier', c.pooler_hidden_size, 1);
      outputs.logits = g.op1('Reshape', [scores, F.slice(F.shapeOf(inputIds), [0], [2], [0])]);
      break;
    }
  }
  return { inputs: { inputIds, attentionMask, tokenTypeIds }, outputs };
}

/**
 * The encoder on id / mask values the caller made, for graphs that hold more than one model (pretraining:
 * a generator and a discriminator in one graph). `emd()` decodes through the Enhanced Mask Decoder.
 */
export function encodeDeberta(g: Graph, c: DebertaConfig, p: ParamSource, prefix: string, ids: Value, mask: Value,
  tokenTypes: Value | undefined, opts: BuildOptions = {}) {
  const b = new DebertaBuilder(g, c, p, prefix, opts);
  const enc = b.encoder(ids, mask, tokenTypes);
  return { last: enc.last, hidden: enc.hidden, emd: () => b.enhancedMaskDecoder(ids, enc) };
}

/**
 * Both masked-LM layouts: `cls.predictions.*` (legacy) and `lm_predictions.lm_head.*`; decoder tied to the word embeddings.
 * transformers: LegacyDebertaV2OnlyMLMHead / LegacyDebertaV2LMPredictionHead (`legacy: true`) and DebertaV2OnlyMLMHead /
 * DebertaV2LMPredictionHead (`legacy: false`).
 */
export function maskedLmHead(c: DebertaConfig, h: Value, p: ParamSource, wordEmbeddings: Value, layout?: 'cls' | 'lm_head'): Value {
  const legacy = (layout ?? (c.legacy !== false ? 'cls' : 'lm_head')) === 'cls';
  const base = legacy ? 'cls.predictions.transform' : 'lm_predictions.lm_head';
  const E = wordEmbeddings.shape[1] as number;
  const outSize = legacy ? E : c.hidden_size;
  let x = F.linear(h, p(`${base}.dense.weight`, [outSize, c.hidden_size]), p(`${base}.dense.bias`, [outSize]));
  x = F.activation(c.hidden_act, x);
  x = F.layerNorm(x, p(`${base}.LayerNorm.weight`, [outSize]), p(`${base}.LayerNorm.bias`, [outSize]), c.layer_norm_eps);
  const bias = p(legacy ? 'cls.predictions.bias' : 'lm_predictions.lm_head.bias', [c.vocab_size]);
  return F.linear(x, wordEmbeddings, bias);
}
