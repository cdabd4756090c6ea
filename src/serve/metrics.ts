/** Counters, gauges and histograms in the Prometheus text exposition format (version 0.0.4). */

type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
  abstract lines(): string[];
}

export class Counter extends Metric {
  private readonly values = new Map<string, number>();
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  lines(): string[] {
    if (this.values.size === 0) return [`${this.name} 0`];
    return [...this.values].map(([k, v]) => `${this.name}${k ? `{${k}}` : ''} ${v}`);
  }
}

/** A value read when scraped: a gauge, or a counter kept elsewhere. */
export class Gauge extends Metric {
  constructor(
    name: string,
    help: string,
    private readonly read: () => number,
    type: 'gauge' | 'counter' = 'gauge',
  ) {
    super(name, help, type);
  }
  lines(): string[] {
    return [`${this.name} ${this.read()}`];
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    private readonly buckets: readonly number[],
  ) {
    super(name, help, 'histogram');
  }
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]!++;
    });
    s.sum += value;
    s.count++;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const [k, s] of this.series) {
      const join = (extra: string) => `{${[k, extra].filter(Boolean).join(',')}}`;
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${join(`le="${b}"`)} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${join('le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
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
    return this.metrics.map((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.lines()].join('\n')).join('\n') + '\n';
  }
}

const LATENCY = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface ServerMetrics {
  registry: Registry;
  requests: Counter;
  promptTokens: Counter;
  generationTokens: Counter;
  cancelled: Counter;
  latency: Histogram;
  ttft: Histogram;
}

export function serverMetrics(gauges: { running: () => number; waiting: () => number; decodeSteps: () => number; decodeRows: () => number }): ServerMetrics {
  const registry = new Registry();
  const m: ServerMetrics = {
    registry,
    requests: registry.add(new Counter('kolm_requests_total', 'HTTP requests by route and status code.')),
    promptTokens: registry.add(new Counter('kolm_prompt_tokens_total', 'Prompt tokens processed.')),
    generationTokens: registry.add(new Counter('kolm_generation_tokens_total', 'Tokens generated.')),
    cancelled: registry.add(new Counter('kolm_requests_cancelled_total', 'Generations stopped because the client went away or the request timed out.')),
    latency: registry.add(new Histogram('kolm_request_duration_seconds', 'Time from request to the end of the response, by route.', LATENCY)),
    ttft: registry.add(new Histogram('kolm_time_to_first_token_seconds', 'Time from request to the first generated token.', LATENCY)),
  };
  registry.add(new Gauge('kolm_requests_running', 'Sequences in the running batch.', gauges.running));
  registry.add(new Gauge('kolm_requests_waiting', 'Requests queued for a batch row.', gauges.waiting));
  registry.add(new Gauge('kolm_decode_steps_total', 'Batched decode steps run.', gauges.decodeSteps, 'counter'));
  registry.add(new Gauge('kolm_decode_rows_total', 'Sequence-steps decoded; divided by steps, the mean batch size.', gauges.decodeRows, 'counter'));
  return m;
}
