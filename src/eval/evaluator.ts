/**
 * Runs tasks against a backend and aggregates results the way lm-eval's evaluator does: requests per task, responses
 * through each filter pipeline, per-document metric values, aggregation with standard errors per
 * "metric,filter" key, then group aggregates (size-weighted means with pooled standard errors).
 */
import { KolmError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import type { Backend } from './backend.js';
import type { GroupEntry, TaskEntry } from './config.js';
import { buildFilter } from './filters.js';
import type { FunctionContext } from './functions.js';
import { aggregate, type Aggregation } from './metrics.js';
import { lexiconSummary } from './safety.js';
import { REFUSAL_PATTERNS } from '../text/refusal.js';
import { sandboxInfo, type SandboxOptions } from './sandbox.js';
import { Task, type Request } from './task.js';
import type { Doc } from './datasets.js';

export interface EvaluateOptions {
  backend: Backend;
  tasks: TaskEntry[];
  groups?: { entry: GroupEntry; leaves: string[]; children: string[] }[];
  dataDir: string;
  /** Documents per task: a count, or a fraction (< 1) of the task. */
  limit?: number;
  /** Overrides each task's num_fewshot. */
  numFewshot?: number;
  fewshotSeed?: number;
  /** Bootstrap resamples for corpus-level metrics' standard errors (lm-eval's default is 100000). */
  bootstrapIters?: number;
  /** Render prompts through the model's chat template (backends that have one). */
  chat?: (text: string) => string;
  sandbox?: SandboxOptions;
  executionConcurrency?: number;
  /** Called with each document's record (samples JSONL). */
  onSample?: (sample: Record<string, unknown>) => void;
  /** Progress bars on stderr. */
  progress?: boolean;
  log?: (line: string) => void;
}

export interface TaskResult {
  alias: string;
  [key: string]: unknown;
}

export interface EvalResults {
  results: Record<string, TaskResult>;
  groups: Record<string, TaskResult>;
  group_subtasks: Record<string, string[]>;
  configs: Record<string, unknown>;
  versions: Record<string, unknown>;
  'n-shot': Record<string, number>;
  higher_is_better: Record<string, Record<string, boolean>>;
  'n-samples': Record<string, { original: number; effective: number }>;
  model: Record<string, unknown>;
  model_name: string;
  config: Record<string, unknown>;
  timings: Record<string, number>;
  task_info: Record<string, unknown>;
  date: string;
  total_evaluation_time_seconds: number;
}

function limitDocs(n: number, limit: number | undefined): number {
  if (limit === undefined) return n;
  if (limit < 1) return Math.ceil(n * limit);
  return Math.min(n, Math.floor(limit));
}

async function runRequests(backend: Backend, task: string, reqs: Request[], progress: boolean): Promise<unknown[]> {
  const out = new Array<unknown>(reqs.length);
  const kinds = ['loglikelihood', 'loglikelihood_rolling', 'generate_until'] as const;
  for (const kind of kinds) {
    const idx = reqs.flatMap((r, i) => (r.type === kind ? [i] : []));
    if (!idx.length) continue;
    const bar = new Progress(`${task} ${kind}`, idx.length, 'req', progress);
    let last = 0;
    const tick = (done: number) => {
      bar.tick(done - last);
      last = done;
    };
    let res: unknown[];
    if (kind === 'loglikelihood') {
      res = await backend.loglikelihood(idx.map((i) => { const r = reqs[i] as Extract<Request, { type: 'loglikelihood' }>; return { context: r.context, continuation: r.continuation }; }), tick);
    } else if (kind === 'loglikelihood_rolling') {
      res = await backend.loglikelihoodRolling(idx.map((i) => (reqs[i] as Extract<Request, { type: 'loglikelihood_rolling' }>).text), tick);
    } else {
      res = await backend.generateUntil(idx.map((i) => { const { type: _t, ...g } = reqs[i] as Extract<Request, { type: 'generate_until' }>; return g; }), tick);
    }
    tick(idx.length);
    bar.finish();
    idx.forEach((i, j) => (out[i] = res[j]));
  }
  return out;
}

/** Evaluate the tasks; returns lm-eval-shaped results. */
export async function evaluate(opts: EvaluateOptions): Promise<EvalResults> {
  const start = Date.now();
  const log = opts.log ?? (() => {});
  const iters = opts.bootstrapIters ?? 1000;
  const results: EvalResults = {
    results: {}, groups: {}, group_subtasks: {}, configs: {}, versions: {}, 'n-shot': {}, higher_is_better: {}, 'n-samples': {},
    model: opts.backend.info, model_name: opts.backend.name,
    config: { limit: opts.limit ?? null, num_fewshot: opts.numFewshot ?? null, fewshot_seed: opts.fewshotSeed ?? 1234, bootstrap_iters: iters, chat_template: Boolean(opts.chat), data_dir: opts.dataDir },
    timings: {}, task_info: {}, date: new Date().toISOString(), total_evaluation_time_seconds: 0,
  };
  const fnContext: FunctionContext = { task: '', sandbox: opts.sandbox, executionConcurrency: opts.executionConcurrency };
  const sizes = new Map<string, number>();
  for (const entry of opts.tasks) {
    const t0 = Date.now();
    const task = await Task.load(entry, opts.dataDir, { fnContext: { ...fnContext, task: entry.name }, fewshotSeed: opts.fewshotSeed, numFewshot: opts.numFewshot });
    const c = task.config;
    const k = task.numFewshot(opts.numFewshot);
    const n = limitDocs(task.evalDocs.length, opts.limit);
    const docs = task.evalDocs.slice(0, n);
    const mutualInfo = task.activeMetrics().includes('acc_mutual_info');
    const perDoc: { doc: Doc; ctx: string; reqs: Request[] }[] = docs.map((doc) => {
      let ctx = c.output_type === 'loglikelihood_rolling' || c.output_type === 'classifier' ? '' : task.fewshotContext(doc, k);
      if (opts.chat && ctx) ctx = opts.chat(ctx);
      return { doc, ctx, reqs: task.constructRequests(doc, ctx, { chat: Boolean(opts.chat), mutualInfo }) };
    });
    const flat = perDoc.flatMap((d) => d.reqs);
    log(`${task.name}: ${n} of ${task.evalDocs.length} documents, ${k}-shot, ${flat.length} requests`);
    const responses = await runRequests(opts.backend, task.name, flat, opts.progress ?? false);
    let offset = 0;
    const docResps = perDoc.map((d) => {
      const r = responses.slice(offset, offset + d.reqs.length);
      offset += d.reqs.length;
      return r;
    });

    // Filter pipelines (generation); others use the responses as they are under the name 'none'.
    const filtered = new Map<string, unknown[]>();
    if (c.output_type === 'generate_until') {
      const pipelines = c.filter_list ?? [{ name: 'none', filter: [{ function: 'take_first' }] }];
      for (const p of pipelines) {
        const f = buildFilter(p.filter, (step) => task.fn(step['filter_fn'] as never));
        filtered.set(p.name, f(docResps as unknown[][], docs));
      }
    } else {
      filtered.set('none', docResps);
    }

    const values = new Map<string, { items: unknown[] }>();
    const bar = new Progress(`${task.name} scoring`, n * filtered.size, 'doc', (opts.progress ?? false) && (Boolean(c.metric_list?.some((m) => typeof m.metric !== 'string')) || Boolean(c.process_results)));
    for (const [fname, resps] of filtered) {
      for (let i = 0; i < n; i++) {
        const doc = docs[i]!;
        const input = c.output_type === 'generate_until' ? [resps[i]] : (resps[i] as unknown[]);
        let metrics: Record<string, unknown>;
        try {
          metrics = await task.processResults(doc, input);
        } catch (e) {
          throw new KolmError(`${task.file}: scoring document ${i} of task '${task.name}' failed: ${(e as Error).message}`);
        }
        bar.tick();
        for (const [m, v] of Object.entries(metrics)) {
          const key = `${m},${fname}`;
          if (!values.has(key)) values.set(key, { items: [] });
          values.get(key)!.items.push(v);
        }
        opts.onSample?.({
          task: task.name,
          doc_id: i,
          doc,
          target: c.output_type === 'classifier' ? doc['label'] ?? null : safeTarget(task, doc),
          arguments: perDoc[i]!.reqs.map(describeRequest),
          resps: docResps[i],
          filtered_resps: c.output_type === 'generate_until' ? resps[i] : undefined,
          filter: fname,
          metrics: Object.fromEntries(Object.entries(metrics).map(([m, v]) => [m, v])),
        });
      }
    }
    bar.finish();
    const entryOut: TaskResult = { alias: c.task_alias ?? task.name };
    const hib: Record<string, boolean> = {};
    for (const [key, { items }] of values) {
      const [metric] = key.split(',');
      // A key a function metric returned (pass_at_k → pass@1) aggregates like that metric.
      const source = task.activeMetrics().includes(metric!) ? undefined : c.metric_list?.find((m) => typeof m.metric !== 'string')?.metric;
      const agg = task.aggregationFor(metric!, source && typeof source !== 'string' ? source.name.slice(source.name.lastIndexOf('.') + 1) : undefined);
      const custom: Aggregation | undefined = agg.fn ? { reduce: (xs) => Number(agg.fn!(xs)), bootstrap: true } : undefined;
      const r = aggregate(agg.name, items, iters, custom);
      entryOut[key] = r.value;
      entryOut[key.replace(',', '_stderr,')] = r.stderr ?? 'N/A';
      hib[metric!] = task.higherIsBetter(metric!);
    }
    results.results[task.name] = entryOut;
    results.higher_is_better[task.name] = hib;
    results['n-shot'][task.name] = k;
    results['n-samples'][task.name] = { original: task.evalDocs.length, effective: n };
    results.versions[task.name] = (c.metadata?.['version'] as unknown) ?? null;
    results.configs[task.name] = JSON.parse(JSON.stringify({ ...c, file: task.file }));
    results.timings[task.name] = (Date.now() - t0) / 1000;
    const info = taskInfo(task);
    if (info) results.task_info[task.name] = info;
    sizes.set(task.name, n);
    log(`${task.name}: ${summarise(entryOut)} (${results.timings[task.name]!.toFixed(1)} s)`);
  }
  aggregateGroups(results, opts.groups ?? [], sizes);
  results.total_evaluation_time_seconds = (Date.now() - start) / 1000;
  return results;
}

function safeTarget(task: Task, doc: Doc): unknown {
  try {
    return task.docToTarget(doc);
  } catch {
    return null;
  }
}

function describeRequest(r: Request): unknown {
  if (r.type === 'loglikelihood') return [r.context, r.continuation];
  if (r.type === 'loglikelihood_rolling') return [r.text];
  return [r.context, { until: r.until, max_gen_toks: r.maxGenToks, temperature: r.temperature }];
}

function taskInfo(task: Task): Record<string, unknown> | undefined {
  const refs = JSON.stringify(task.config);
  const info: Record<string, unknown> = {};
  if (refs.includes('safety.toxicity_results') || refs.includes('safety.lexicon_classifier_results')) Object.assign(info, lexiconSummary());
  if (refs.includes('safety.refusal_results')) info['refusal_patterns'] = REFUSAL_PATTERNS;
  if (refs.includes('humaneval.') || refs.includes('mbpp.')) {
    const s = sandboxInfo();
    info['sandbox'] = { python: s.python ?? null, network_namespace: s.networkNamespace, prlimit: s.prlimit };
  }
  return Object.keys(info).length ? info : undefined;
}

function summarise(r: TaskResult): string {
  return Object.entries(r)
    .filter(([k, v]) => k !== 'alias' && !k.includes('_stderr') && typeof v === 'number')
    .map(([k, v]) => `${k.replace(/,none$/, '')}=${(v as number).toFixed(4)}`)
    .join(' ');
}

/** lm-eval's pooled_sample_stderr for size-weighted group means. */
export function pooledStderr(stderrs: number[], sizes: number[]): number {
  const total = sizes.reduce((a, b) => a + b, 0);
  const pooled = sizes.reduce((a, n, i) => a + (n - 1) * stderrs[i]! ** 2 * n, 0) / (total - sizes.length);
  return Math.sqrt(pooled / total);
}

function aggregateGroups(results: EvalResults, groups: { entry: GroupEntry; leaves: string[]; children: string[] }[], sizes: Map<string, number>): void {
  // Groups come out of resolution children-first, so a parent sees its subgroups' aggregates.
  for (const { entry, leaves, children } of groups) {
    const name = entry.name;
    results.group_subtasks[name] = leaves;
    const out: TaskResult = { alias: entry.config.group_alias ?? name };
    // Direct members: child tasks and subgroups; a child tag contributes its tasks.
    const direct = children.filter((c) => results.results[c] || results.groups[c]);
    if (direct.length < children.length) {
      const covered = new Set(direct.flatMap((d) => results.group_subtasks[d] ?? [d]));
      for (const l of leaves) if (!covered.has(l) && results.results[l]) direct.push(l);
    }
    let size = 0;
    for (const m of direct) size += sizes.get(m) ?? 0;
    sizes.set(name, size);
    for (const agg of entry.config.aggregate_metric_list ?? []) {
      const filters = agg.filter_list === undefined ? ['none'] : [agg.filter_list].flat();
      for (const f of filters) {
        const key = `${agg.metric},${f}`;
        const vals: number[] = [], ses: (number | null)[] = [], ns: number[] = [];
        for (const m of direct) {
          const r = results.results[m] ?? results.groups[m];
          const v = r?.[key];
          if (typeof v !== 'number') continue;
          vals.push(v);
          const se = r![key.replace(',', '_stderr,')];
          ses.push(typeof se === 'number' ? se : null);
          ns.push(sizes.get(m) ?? 0);
        }
        if (!vals.length) continue;
        const w = agg.weight_by_size === false ? ns.map(() => 1) : ns;
        out[key] = vals.reduce((a, v, i) => a + v * w[i]!, 0) / w.reduce((a, b) => a + b, 0);
        out[key.replace(',', '_stderr,')] = ses.every((s) => s !== null) && ns.every((x) => x > 1) ? pooledStderr(ses as number[], ns) : 'N/A';
      }
    }
    results.groups[name] = out;
  }
}
