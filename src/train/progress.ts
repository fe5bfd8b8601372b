// A one-line progress display for training: step, loss, learning rate, tokens/s and ETA. On a terminal
// the line is redrawn in place; otherwise (logs, CI) a full line is printed every few seconds.

export interface ProgressStats { step: number; total: number; epoch: number; epochs: number; loss: number; lr: number; tokens: number }

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class ProgressBar {
  private start = performance.now();
  private startStep = 0;
  private tokens = 0;
  private lastPrint = 0;
  private drawn = false;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr,
    private readonly everyMs = 5000, private readonly enabled = true) {}

  /** Starts timing at `step` (a resumed run starts past 0). */
  begin(step: number): void {
    this.start = performance.now();
    this.startStep = step;
    this.tokens = 0;
  }

  /** Text of the line for these stats (exposed for tests). */
  line(s: ProgressStats, now = performance.now()): string {
    const elapsed = (now - this.start) / 1000;
    const done = s.step - this.startStep;
    const perStep = done > 0 ? elapsed / done : NaN;
    const width = 20;
    const filled = Math.min(width, Math.round((s.step / Math.max(1, s.total)) * width));
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const tps = elapsed > 0 ? Math.round(this.tokens / elapsed) : 0;
    return `epoch ${s.epoch}/${s.epochs} [${bar}] step ${s.step}/${s.total}  loss ${s.loss.toFixed(4)}  lr ${s.lr.toExponential(2)}  ${tps.toLocaleString('en-US')} tok/s  ETA ${formatDuration(perStep * (s.total - s.step))}`;
  }

  update(s: ProgressStats): void {
    this.tokens += s.tokens;
    if (!this.enabled) return;
    const now = performance.now();
    if (this.out.isTTY) {
      const text = this.line(s, now).slice(0, Math.max(20, (this.out.columns ?? 120) - 1));
      this.out.write(`\r${text}\x1b[K`);
      this.drawn = true;
    } else if (now - this.lastPrint >= this.everyMs || s.step === s.total) {
      this.out.write(`${this.line(s, now)}\n`);
      this.lastPrint = now;
    }
  }

  /** Prints a message on its own line, keeping the bar below it on a terminal. */
  log(message: string): void {
    if (!this.enabled) return;
    if (this.drawn && this.out.isTTY) this.out.write('\r\x1b[K');
    this.out.write(`${message}\n`);
    this.drawn = false;
  }

  end(): void {
    if (this.enabled && this.drawn && this.out.isTTY) this.out.write('\n');
    this.drawn = false;
  }
}
