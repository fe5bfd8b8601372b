// Optimisation with PyTorch's semantics: AdamW (decoupled weight decay, bias-corrected moments),
// global-norm gradient clipping, learning-rate schedules as transformers defines them, and gradient
// accumulation. Everything works in place on the parameters' own typed arrays.
import { tensor, type Tensor } from '../tensor.ts';

type FloatArray = Float32Array | Float64Array;

function floats(t: Tensor, what: string): FloatArray {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new Error(`${what}: expected float32 or float64, got ${t.dtype}`);
  return t.data as FloatArray;
}

/**
 * Which parameters get weight decay. 'all' is torch.optim.AdamW's own behaviour; 'no-bias-norm' is the
 * transformers Trainer's: no decay for biases and normalisation weights (names containing "bias",
 * "layernorm" or "rmsnorm", case-insensitive, which also covers DeBERTa v1's q_bias/v_bias).
 */
export type DecayRule = 'all' | 'no-bias-norm' | ((name: string) => boolean);

export function decays(rule: DecayRule, name: string): boolean {
  if (rule === 'all') return true;
  if (rule === 'no-bias-norm') return !/bias|layernorm|rmsnorm/i.test(name);
  return rule(name);
}

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  /** Added to the bias-corrected root of the second moment (torch's default 1e-8). */
  eps?: number;
  weightDecay?: number;
  decay?: DecayRule;
}

interface Moments { expAvg: FloatArray; expAvgSq: FloatArray }

export class AdamW {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly decay: DecayRule;
  /** Updates taken so far (torch keeps one per parameter; here they always move together). */
  stepCount = 0;
  private readonly moments = new Map<string, Moments>();

  constructor(readonly params: Map<string, Tensor>, opts: AdamWOptions) {
    const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, decay = 'all' } = opts;
    if (!(lr >= 0)) throw new Error(`AdamW: invalid learning rate ${lr}`);
    if (!(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1)) throw new Error(`AdamW: betas must lie in [0, 1), got ${betas}`);
    if (!(eps >= 0)) throw new Error(`AdamW: invalid eps ${eps}`);
    if (!(weightDecay >= 0)) throw new Error(`AdamW: invalid weight decay ${weightDecay}`);
    this.lr = lr; this.beta1 = betas[0]; this.beta2 = betas[1]; this.eps = eps; this.weightDecay = weightDecay; this.decay = decay;
    for (const [name, p] of params) {
      const data = floats(p, `AdamW: parameter '${name}'`);
      const make = () => (data instanceof Float64Array ? new Float64Array(data.length) : new Float32Array(data.length));
      this.moments.set(name, { expAvg: make(), expAvgSq: make() });
    }
  }

  /**
   * One update from `grads` (by parameter name) at learning rate `lr` (the schedule's current value), each
   * gradient taken times `scale` as it is read (a clipping coefficient; the gradients are not written).
   * A parameter without a gradient is left alone, as torch skips parameters whose grad is None.
   */
  step(grads: Map<string, Tensor>, lr = this.lr, scale = 1): void {
    const { stepSize, bc2Sqrt, decayFactor } = this.nextStep(lr);
    const { beta1, beta2, eps } = this;
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      const m = this.moments.get(name);
      if (!p || !m) throw new Error(`AdamW: gradient for unknown parameter '${name}'`);
      const pd = p.data as FloatArray;
      const gd = floats(g, `AdamW: gradient of '${name}'`);
      if (gd.length !== pd.length) throw new Error(`AdamW: gradient of '${name}' has ${gd.length} values, the parameter ${pd.length}`);
      const shrink = decays(this.decay, name) ? decayFactor : 1;
      const { expAvg, expAvgSq } = m;
      const a1 = 1 - beta1, a2 = 1 - beta2, n = pd.length, bc2Inv = 1 / bc2Sqrt;
      for (let i = 0; i < n; i++) {
        const gi = gd[i]! * scale;
        const m0 = expAvg[i]!;
        const mi = m0 + (gi - m0) * a1; // torch: exp_avg.lerp_(grad, 1 - beta1)
        const vi = expAvgSq[i]! * beta2 + a2 * gi * gi;
        expAvg[i] = mi;
        expAvgSq[i] = vi;
        // Decoupled decay first (param *= 1 - lr * wd), then the Adam step, both as torch orders them
        // (one division: torch divides sqrt(v) by the correction's root; here it multiplies by its inverse).
        pd[i] = pd[i]! * shrink - (stepSize * mi) / (Math.sqrt(vi) * bc2Inv + eps);
      }
    }
  }

  /**
   * Counts one update and returns the scalars it applies at rate `lr`: torch's step size lr / (1 - beta1^t),
   * the root of the second moment's bias correction, and the decoupled-decay factor 1 - lr * weight_decay of
   * the parameters that decay. step() uses them; so does an update computed elsewhere (the fused training
   * step of src/train/step.ts), which must call this once per update.
   */
  nextStep(lr = this.lr): { step: number; stepSize: number; bc2Sqrt: number; decayFactor: number } {
    if (!(lr >= 0)) throw new Error(`AdamW: invalid learning rate ${lr}`);
    const t = ++this.stepCount;
    return { step: t, stepSize: lr / (1 - this.beta1 ** t), bc2Sqrt: Math.sqrt(1 - this.beta2 ** t), decayFactor: 1 - lr * this.weightDecay };
  }

  /** The live moment buffers of a parameter (updated in place, like the parameters). */
  momentsOf(name: string): { expAvg: Tensor; expAvgSq: Tensor } {
    const m = this.moments.get(name);
    const p = this.params.get(name);
    if (!m || !p) throw new Error(`AdamW: unknown parameter '${name}'`);
    return { expAvg: tensor(p.dtype, p.dims, m.expAvg), expAvgSq: tensor(p.dtype, p.dims, m.expAvgSq) };
  }

  /** The moments as tensors (`exp_avg.<name>`, `exp_avg_sq.<name>`), for saving with a checkpoint. */
  stateTensors(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, m] of this.moments) {
      const p = this.params.get(name)!;
      out.set(`exp_avg.${name}`, tensor(p.dtype, p.dims, m.expAvg));
      out.set(`exp_avg_sq.${name}`, tensor(p.dtype, p.dims, m.expAvgSq));
    }
    return out;
  }

  /** Restores moments saved by stateTensors() and the step count; `file` names the source in errors. */
  loadStateTensors(state: Map<string, Tensor>, stepCount: number, file: string): void {
    for (const [name, m] of this.moments) {
      for (const [key, into] of [[`exp_avg.${name}`, m.expAvg], [`exp_avg_sq.${name}`, m.expAvgSq]] as const) {
        const t = state.get(key);
        if (!t) throw new Error(`${file}: optimizer state lacks '${key}'`);
        if (t.data.length !== into.length) throw new Error(`${file}: '${key}' has ${t.data.length} values, the parameter ${into.length}`);
        into.set(floats(t, `${file}: '${key}'`));
      }
    }
    if (!Number.isSafeInteger(stepCount) || stepCount < 0) throw new Error(`${file}: invalid optimizer step count ${stepCount}`);
    this.stepCount = stepCount;
  }
}

/**
 * Scales all gradients together so that their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ does (coefficient maxNorm / (norm + 1e-6), capped at 1).
 * Returns the norm before clipping.
 */
export function clipGradNorm(grads: Iterable<Tensor>, maxNorm: number): number {
  const list = [...grads];
  const norm = gradNorm(list);
  const coef = clipCoefficient(norm, maxNorm);
  if (coef < 1) for (const g of list) { const d = g.data as FloatArray; for (let i = 0; i < d.length; i++) d[i] = d[i]! * coef; }
  return norm;
}

/** torch's clipping coefficient: maxNorm / (norm + 1e-6), capped at 1. */
const clipCoefficient = (norm: number, maxNorm: number): number => Math.min(1, maxNorm / (norm + 1e-6));

export type ScheduleKind = 'linear' | 'cosine' | 'constant';

export interface Schedule {
  kind: ScheduleKind;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
}

/**
 * The multiplier of the peak rate for optimizer update `step` (0-based), as transformers'
 * get_{linear,cosine,constant}_schedule_with_warmup: a linear ramp from 0 over the warm-up, then a
 * linear or half-cosine decay to 0 at `totalSteps` (or constant). transformers steps its scheduler
 * after each update, so the first update uses step 0 (rate 0 when there is a warm-up).
 */
export function lrFactor(s: Omit<Schedule, 'lr'>, step: number): number {
  const { warmupSteps: w, totalSteps: total } = s;
  if (step < w) return step / Math.max(1, w);
  if (s.kind === 'constant') return 1;
  const rest = Math.max(1, total - w);
  if (s.kind === 'linear') return Math.max(0, (total - step) / rest);
  const progress = (step - w) / rest;
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

export function learningRate(s: Schedule, step: number): number {
  return s.lr * lrFactor(s, step);
}

/**
 * Sums gradients of several micro-batches, each weighted by its share of the whole batch (examples, or
 * labelled tokens for token classification), so that the result equals the gradient of the mean loss over
 * the whole batch.
 */
export class GradientAccumulator {
  // Buffers are kept from one batch to the next (zeroed on the first add) to spare the allocations.
  private sums: Map<string, Tensor> | undefined;
  private weight = 0;
  private lossSum = 0;

  add(grads: Map<string, Tensor>, loss: number, weight: number): void {
    if (!(weight > 0)) return; // a micro-batch with nothing to learn from (e.g. every label ignored)
    if (!this.sums) {
      this.sums = new Map();
      for (const [name, g] of grads) {
        const d = floats(g, `gradient of '${name}'`);
        const copy = d instanceof Float64Array ? new Float64Array(d.length) : new Float32Array(d.length);
        this.sums.set(name, tensor(g.dtype, g.dims, copy));
      }
    } else if (this.weight === 0) {
      for (const s of this.sums.values()) (s.data as FloatArray).fill(0);
    }
    for (const [name, g] of grads) {
      const into = this.sums.get(name);
      if (!into) throw new Error(`gradient accumulation: '${name}' missing from the first micro-batch`);
      const s = into.data as FloatArray, d = g.data as FloatArray;
      for (let i = 0; i < d.length; i++) s[i] = s[i]! + weight * d[i]!;
    }
    this.weight += weight;
    this.lossSum += weight * loss;
  }

  get empty(): boolean { return this.weight === 0; }

  /** The weighted mean gradients and loss; resets the accumulator. The tensors are reused by the next batch. */
  take(): { grads: Map<string, Tensor>; loss: number; weight: number } {
    if (!this.sums || this.weight === 0) throw new Error('gradient accumulation: no gradients to take');
    const grads = this.sums, weight = this.weight;
    for (const g of grads.values()) { const d = g.data as FloatArray; for (let i = 0; i < d.length; i++) d[i] = d[i]! / weight; }
    const loss = this.lossSum / weight;
    this.weight = 0; this.lossSum = 0;
    return { grads, loss, weight };
  }
}

/** The global L2 norm of the gradients, as clip_grad_norm_ measures it. */
export function gradNorm(grads: Iterable<Tensor>): number {
  let sq = 0;
  for (const g of grads) {
    const d = floats(g, 'gradNorm');
    for (let i = 0; i < d.length; i++) sq += d[i]! * d[i]!;
  }
  return Math.sqrt(sq);
}

/**
 * One optimizer update as the trainer takes it: clip the global gradient norm (when maxGradNorm > 0),
 * then AdamW at `lr`, in one pass over the parameters: the clipping coefficient (clipGradNorm's) scales
 * each gradient as AdamW reads it, and the gradients are left as they are. `norm`, when known (the
 * gradient model computes it with the gradients), spares the pass that measures it. Returns the gradient
 * norm before clipping (NaN when clipping is off).
 */
export function applyUpdate(opt: AdamW, grads: Map<string, Tensor>, lr: number, maxGradNorm: number, norm?: number): number {
  if (!(maxGradNorm > 0)) {
    opt.step(grads, lr);
    return NaN;
  }
  const total = norm ?? gradNorm(grads.values());
  opt.step(grads, lr, clipCoefficient(total, maxGradNorm));
  return total;
}
