// Prometheus metrics in the text exposition format (version 0.0.4), written here rather than with
// prom-client: counters, gauges and histograms with labels are all the server needs.

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

interface Metric {
  render(): string;
}

abstract class Labelled<T> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; value: T }>();
  constructor(readonly name: string, readonly help: string, readonly type: string) {}
  protected get(labels: Labels, init: () => T): T {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, value: init() }));
    return s.value;
  }
  protected header(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
  }
  abstract render(): string;
}

export class Counter extends Labelled<{ v: number }> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    this.get(labels, () => ({ v: 0 })).v += by;
  }
  value(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.value.v ?? 0;
  }
  render(): string {
    let out = this.header();
    for (const { labels, value } of this.series.values()) out += `${this.name}${labelText(labels)} ${num(value.v)}\n`;
    return out;
  }
}

/** A gauge read when /metrics is scraped. */
export class Gauge implements Metric {
  constructor(readonly name: string, readonly help: string, private readonly read: () => { labels: Labels; value: number }[]) {}
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`;
    for (const { labels, value } of this.read()) out += `${this.name}${labelText(labels)} ${num(value)}\n`;
    return out;
  }
}

interface HistogramValue {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Labelled<HistogramValue> {
  constructor(name: string, help: string, readonly buckets: number[]) {
    super(name, help, 'histogram');
  }
  observe(labels: Labels, v: number): void {
    const h = this.get(labels, () => ({ counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) h.counts[i]!++;
    h.sum += v;
    h.count++;
  }
  render(): string {
    let out = this.header();
    for (const { labels, value } of this.series.values()) {
      this.buckets.forEach((le, i) => {
        out += `${this.name}_bucket${labelText({ ...labels, le: num(le) })} ${value.counts[i]}\n`;
      });
      out += `${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${value.count}\n`;
      out += `${this.name}_sum${labelText(labels)} ${num(value.sum)}\n`;
      out += `${this.name}_count${labelText(labels)} ${value.count}\n`;
    }
    return out;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.map((m) => m.render()).join('');
  }
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The server's metrics. Queue gauges are registered by the app, which knows its queues. */
export function serverMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: registry.add(new Counter('deberta_http_requests_total', 'HTTP requests answered, by route, method and status')),
    errors: registry.add(new Counter('deberta_http_errors_total', 'HTTP requests answered with a status of 400 or more, by route and status')),
    latency: registry.add(new Histogram('deberta_http_request_duration_seconds', 'Time from request to response, by route',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])),
    batchSize: registry.add(new Histogram('deberta_batch_size', 'Items per model run (micro-batch), by model and task',
      [1, 2, 4, 8, 16, 32, 64, 128, 256])),
    batchSeconds: registry.add(new Histogram('deberta_batch_duration_seconds', 'Time one model run takes, by model and task',
      [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])),
    batchFailures: registry.add(new Counter('deberta_batch_failures_total', 'Model runs that threw, by model and task')),
    inputFailures: registry.add(new Counter('deberta_input_failures_total', 'Requests failed by one of their inputs (the rest of the batch answered), by model, task and status')),
    rejected: registry.add(new Counter('deberta_queue_rejections_total', 'Requests refused with 503 because the queue was full, by model and task')),
    timeouts: registry.add(new Counter('deberta_request_timeouts_total', 'Requests answered 504 because inference took longer than the timeout, by model and task')),
    cancelled: registry.add(new Counter('deberta_requests_cancelled_total', 'Requests whose client closed the connection before the answer, by model and task')),
  };
}

export type ServerMetrics = ReturnType<typeof serverMetrics>;
