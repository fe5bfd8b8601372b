// Training-mode dropout whose masks come from TypeScript: every dropout in the graph multiplies by a
// bool keep-mask input, drawn each step from a seeded generator. So a (seed, step) pair gives the same
// masks on any machine and thread count, and the same session serves every step (ONNX Runtime's own
// Dropout draws from a generator inside the session that cannot be re-seeded per step).
import * as F from '../graph/functional.ts';
import type { Shape } from '../graph/value.ts';
import type { DebertaConfig } from '../models/deberta/config.ts';
import type { DropoutHook, DropoutSite } from '../models/deberta/modeling.ts';
import { tensor, type Tensor } from '../tensor.ts';
import { Rng } from '../util/random.ts';

export type DropoutRates = Record<DropoutSite, number>;

/** The rates transformers uses: cls_dropout (when set) for the classifier input, else hidden_dropout_prob. */
export function dropoutRates(c: DebertaConfig): DropoutRates {
  const cls = c.raw.cls_dropout;
  return {
    hidden: c.hidden_dropout_prob,
    attention: c.attention_probs_dropout_prob,
    pooler: c.pooler_dropout,
    classifier: typeof cls === 'number' ? cls : c.hidden_dropout_prob,
  };
}

interface MaskInput { name: string; rate: number; shape: Shape }

/** Collects the dropout sites of one graph build and draws their masks for each step. */
export class DropoutMasks {
  private readonly sites: MaskInput[] = [];

  constructor(private readonly rates: DropoutRates, private readonly seed: number) {}

  get count(): number { return this.sites.length; }

  /** For BuildOptions.dropout: y = where(keep, x, 0) / (1 - p), with `keep` a graph input of x's shape. */
  readonly hook: DropoutHook = (x, site) => {
    const p = this.rates[site];
    if (!(p > 0)) return x;
    const g = x.graph;
    if (p >= 1) return x.mul(0);
    const name = `dropout_mask.${this.sites.length}`;
    this.sites.push({ name, rate: p, shape: [...x.shape] });
    const keep = g.input(name, 'bool', x.shape);
    return F.where(keep, x, g.scalar(0, x.dtype)).mul(1 / (1 - p));
  };

  /**
   * The masks of one step, by input name. Every site's shape is [rows, ...] with the other symbolic dims
   * being the sequence length, which holds for all of DeBERTa's dropouts (hidden states, attention
   * probabilities, pooled vectors; relative embeddings are of fixed size).
   */
  masks(step: number, rows: number, length: number): Record<string, Tensor> {
    const rng = stepRng(this.seed, step);
    const out: Record<string, Tensor> = {};
    for (const s of this.sites) {
      const dims = s.shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? rows : length));
      const n = dims.reduce((a, b) => a * b, 1);
      const data = new Uint8Array(n);
      rng.fillAtLeast(data, s.rate * 2 ** 32); // keep with probability 1 - rate
      out[s.name] = tensor('bool', dims, data);
    }
    return out;
  }
}

/** An independent stream for each (seed, step). */
function stepRng(seed: number, step: number): Rng {
  const [a, b, c, d] = new Rng(seed).state();
  const rng = new Rng([a!, (b! ^ step) >>> 0, (c! ^ Math.floor(step / 2 ** 32)) >>> 0, d!]);
  for (let i = 0; i < 12; i++) rng.u32(); // let the changed word spread through the state
  return rng;
}
