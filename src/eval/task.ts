/**
 * A loaded task: its documents and lm-eval's ConfigurableTask behaviour — doc_to_text/target/choice resolution,
 * few-shot context construction (description, k examples joined by target and few-shot delimiters), request
 * construction per output type and the default process_results (acc / acc_norm / acc_bytes / f1 / mcc /
 * exact_match for multiple choice; perplexities for rolling log-likelihood; exact match, BLEU, chrF and function
 * metrics for generation).
 */
import { KolmError } from '../util/errors.js';
import { FunctionRef, resolveFunction, type TaskConfig, type TaskEntry } from './config.js';
import { loadSplit, resolveDataFiles, type Doc, type DatasetKwargs, type ParallelFiles } from './datasets.js';
import { CONTEXT_FUNCTIONS, type EvalFunction, type FunctionContext } from './functions.js';
import { exactMatch, DEFAULT_AGGREGATION, HIGHER_IS_BETTER, type ExactMatchOptions } from './metrics.js';
import { PyRandom } from './pyrandom.js';
import { parsePyLiteral, renderTemplate, renderValue, templateNames } from './template.js';
import type { LoglikelihoodResult } from './backend.js';

export type Request =
  | { type: 'loglikelihood'; context: string; continuation: string }
  | { type: 'loglikelihood_rolling'; text: string }
  | { type: 'generate_until'; context: string; until: string[]; maxGenToks: number; temperature: number; topP?: number; seed?: number };

const isDigits = (s: string) => /^\d+$/.test(s);
const metricName = (m: string | FunctionRef) => (typeof m === 'string' ? m : m.name.slice(m.name.lastIndexOf('.') + 1));

export class Task {
  readonly name: string;
  readonly file: string;
  readonly config: TaskConfig;
  private fns = new Map<string, EvalFunction>();
  evalDocs: Doc[] = [];
  private fewshotPool: Doc[] | undefined;
  private rnd: PyRandom;
  multipleTarget = false;

  private constructor(entry: TaskEntry, readonly dataDir: string, readonly fnContext: FunctionContext, fewshotSeed: number) {
    this.name = entry.name;
    this.file = entry.file;
    this.config = entry.config;
    this.rnd = new PyRandom(fewshotSeed);
  }

  /** Load data and functions; check the prompt fields against the first document (lm-eval's "test one doc"). */
  static async load(entry: TaskEntry, dataDir: string, opts: { fnContext?: FunctionContext; fewshotSeed?: number; numFewshot?: number } = {}): Promise<Task> {
    const t = new Task(entry, dataDir, opts.fnContext ?? { task: entry.name }, opts.fewshotSeed ?? 1234);
    await t.resolveFunctions();
    const c = t.config;
    const evalSplit = c.test_split ?? c.validation_split ?? 'train';
    t.evalDocs = await t.loadDocs(evalSplit);
    if (!t.evalDocs.length) throw new KolmError(`${t.file}: task '${t.name}' has no documents in split '${evalSplit}'`);
    if (t.numFewshot(opts.numFewshot) > 0) t.fewshotPool = await t.loadFewshotDocs();
    t.checkFirstDoc();
    return t;
  }

  numFewshot(override?: number): number {
    if (this.config.output_type === 'loglikelihood_rolling' || this.config.output_type === 'classifier') return 0;
    return override ?? this.config.num_fewshot ?? 0;
  }

  private async resolveFunctions(): Promise<void> {
    const refs: FunctionRef[] = [];
    const walk = (v: unknown) => {
      if (v instanceof FunctionRef) refs.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(this.config);
    for (const r of refs) if (!this.fns.has(r.name)) this.fns.set(r.name, await resolveFunction(r));
  }

  fn(ref: FunctionRef): EvalFunction {
    return this.fns.get(ref.name)!;
  }

  private splitFiles(split: string): { files: string[] | ParallelFiles; field: string } {
    const c = this.config;
    const kw = (c.dataset_kwargs ?? {}) as DatasetKwargs;
    const df = kw.data_files!;
    const sub = (p: string) => p.replaceAll('{dataset_name}', c.dataset_name ?? '');
    /** Files matching any of the patterns (a list lists alternatives/parts; it is an error when none match). */
    const resolveAll = (p: string | string[], field: string): string[] => {
      const patterns = [p].flat().map(sub);
      const found = [...new Set(patterns.flatMap((x) => resolveDataFiles(x, this.dataDir)))];
      if (!found.length) {
        throw new KolmError(`${this.file}: field '${field}': no data file matches ${patterns.map((x) => JSON.stringify(x)).join(' or ')} under the data directory ${this.dataDir} (set --data-dir to the folder holding the benchmark's files)`);
      }
      return found;
    };
    if (typeof df === 'string' || Array.isArray(df)) {
      if (split !== 'train') throw new KolmError(`${this.file}: field 'dataset_kwargs.data_files': a plain list of files is the 'train' split; map split names to files to use split '${split}'`);
      return { files: resolveAll(df, 'dataset_kwargs.data_files'), field: 'dataset_kwargs.data_files' };
    }
    const spec = (df as Record<string, unknown>)[split];
    const field = `dataset_kwargs.data_files.${split}`;
    if (spec === undefined) throw new KolmError(`${this.file}: field '${field}': split '${split}' has no files (splits: ${Object.keys(df).join(', ')})`);
    if (c.dataset_path === 'parallel') {
      const out: ParallelFiles = {};
      for (const [lang, p] of Object.entries(spec as Record<string, string>)) out[lang] = resolveAll(p, `${field}.${lang}`)[0]!;
      return { files: out, field };
    }
    return { files: resolveAll(spec as string | string[], field), field };
  }

  private async loadDocs(split: string, processDocs: FunctionRef | undefined = this.config.process_docs): Promise<Doc[]> {
    const { files, field } = this.splitFiles(split);
    let docs = await loadSplit(this.config.dataset_path as never, files, (this.config.dataset_kwargs ?? {}) as DatasetKwargs, `${this.file}: ${field}`);
    if (processDocs) {
      try {
        docs = this.fn(processDocs)(docs) as Doc[];
      } catch (e) {
        throw new KolmError(`${this.file}: field 'process_docs' (!function ${processDocs.name}) failed on split '${split}': ${(e as Error).message}`);
      }
      if (!Array.isArray(docs)) throw new KolmError(`${this.file}: field 'process_docs' (!function ${processDocs.name}) did not return a list of documents`);
    }
    return docs;
  }

  private async loadFewshotDocs(): Promise<Doc[]> {
    const c = this.config;
    const fc = c.fewshot_config ?? {};
    const split = fc.split ?? c.fewshot_split ?? undefined;
    if (split) return this.loadDocs(split, fc.process_docs ?? c.process_docs);
    if (fc.samples !== undefined) return fc.samples instanceof FunctionRef ? (this.fn(fc.samples)() as Doc[]) : (fc.samples as Doc[]);
    const fallback = c.training_split ?? c.validation_split ?? c.test_split;
    if (!fallback) throw new KolmError(`${this.file}: few-shot examples requested but the task has no fewshot_split, training_split, validation_split or fewshot_config.samples`);
    return this.loadDocs(fallback);
  }

  private get fewshotSplit(): string | null | undefined {
    return this.config.fewshot_config?.split ?? this.config.fewshot_split;
  }

  private checkFirstDoc(): void {
    const doc = this.evalDocs[0]!;
    const c = this.config;
    for (const field of ['doc_to_text', 'doc_to_target', 'doc_to_choice', 'description'] as const) {
      const v = c[field];
      if (typeof v !== 'string' || v in doc) continue;
      let names: Set<string>;
      try {
        names = templateNames(v);
      } catch (e) {
        throw new KolmError(`${this.file}: field '${field}': ${(e as Error).message}`);
      }
      const missing = [...names].filter((n) => !(n in doc));
      if (missing.length) {
        throw new KolmError(`${this.file}: field '${field}': the template uses ${missing.map((m) => `'${m}'`).join(', ')}, which ${missing.length > 1 ? 'are not fields' : 'is not a field'} of the documents (fields: ${Object.keys(doc).join(', ')})`);
      }
    }
    const target = this.docToTarget(doc);
    this.multipleTarget = Array.isArray(target);
    if (c.output_type === 'multiple_choice') {
      const choices = this.docToChoice(doc);
      if (!Array.isArray(choices)) throw new KolmError(`${this.file}: field 'doc_to_choice' must produce a list of strings (got ${JSON.stringify(choices)?.slice(0, 100)})`);
    }
    if (c.output_type !== 'classifier' && c.output_type !== 'loglikelihood_rolling') {
      const text = this.docToText(doc);
      if (typeof text !== 'string' && typeof text !== 'number') throw new KolmError(`${this.file}: field 'doc_to_text' must produce a string (got ${JSON.stringify(text)?.slice(0, 100)})`);
    }
  }

  private where(field: string): string {
    return `${this.file}: field '${field}'`;
  }

  docToText(doc: Doc, spec: unknown = this.config.doc_to_text): string | number {
    if (typeof spec === 'number') return spec;
    if (typeof spec === 'string') {
      if (spec in doc) return doc[spec] as string;
      const s = renderTemplate(spec, doc, this.where('doc_to_text'));
      return isDigits(s) && this.config.doc_to_choice !== undefined ? Number(s) : s;
    }
    if (spec instanceof FunctionRef) return this.fn(spec)(doc) as string;
    throw new KolmError(`${this.where('doc_to_text')} is not set`);
  }

  docToTarget(doc: Doc, spec: unknown = this.config.doc_to_target): string | number | unknown[] {
    if (typeof spec === 'number' || Array.isArray(spec)) return spec as number | unknown[];
    if (typeof spec === 'string') {
      if (spec in doc) return doc[spec] as string;
      const s = renderTemplate(spec, doc, this.where('doc_to_target'));
      if (isDigits(s) && this.config.doc_to_choice !== undefined) return Number(s);
      if (s.length >= 2 && s.startsWith('[') && s.endsWith(']')) {
        const v = parsePyLiteral(s);
        return Array.isArray(v) ? v : s;
      }
      return s;
    }
    if (spec instanceof FunctionRef) return this.fn(spec)(doc) as string;
    if (spec === undefined) return '';
    throw new KolmError(`${this.where('doc_to_target')}: unsupported value`);
  }

  docToChoice(doc: Doc, spec: unknown = this.config.doc_to_choice): string[] {
    let v: unknown;
    if (typeof spec === 'string') v = spec in doc ? doc[spec] : renderValue(spec, doc, this.where('doc_to_choice'));
    else if (Array.isArray(spec)) v = spec;
    else if (spec instanceof FunctionRef) v = this.fn(spec)(doc);
    else if (spec && typeof spec === 'object') v = Object.values(spec);
    else throw new KolmError(`${this.where('doc_to_choice')} is not set`);
    if (!Array.isArray(v)) throw new KolmError(`${this.where('doc_to_choice')}: expected a list of choices, got ${JSON.stringify(v)?.slice(0, 120)}`);
    return v.map(String);
  }

  private resolveField(doc: Doc, spec: string | undefined): string {
    if (!spec) return '';
    return spec in doc ? String(doc[spec]) : renderTemplate(spec, doc, this.where('description'));
  }

  /** lm-eval's ContextSampler.sample / FirstNSampler.sample for one evaluation document. */
  private sampleFewshot(n: number, doc: Doc): Doc[] {
    const pool = this.fewshotPool ?? [];
    // lm-eval passes the evaluated document for exclusion when fewshot split == test split (None == None included).
    const sameSplit = (this.fewshotSplit ?? null) === (this.config.test_split ?? null);
    const key = (d: Doc) => JSON.stringify(d);
    const docKey = sameSplit ? key(doc) : undefined;
    if (this.config.fewshot_config?.sampler === 'first_n') {
      const p = docKey ? pool.filter((d) => key(d) !== docKey) : pool;
      if (n > p.length) throw new KolmError(`${this.file}: ${n} few-shot examples requested but only ${p.length} are available`);
      return p.slice(0, n);
    }
    if (n + (docKey ? 1 : 0) > pool.length) throw new KolmError(`${this.file}: ${n} few-shot examples requested but only ${pool.length} documents are available for sampling`);
    if (!docKey) return this.rnd.sample(pool, n);
    return this.rnd.sample(pool, n + 1).filter((d) => key(d) !== docKey).slice(0, n);
  }

  /** The prompt for a document: description, few-shot examples, then the document's question. */
  fewshotContext(doc: Doc, numFewshot: number): string {
    const c = this.config;
    const fc = c.fewshot_config ?? {};
    let out = this.resolveField(doc, c.description);
    if (numFewshot > 0) {
      const tgtDelim = fc.target_delimiter ?? c.target_delimiter;
      const fewDelim = fc.fewshot_delimiter ?? c.fewshot_delimiter;
      for (const fs of this.sampleFewshot(numFewshot, doc)) {
        const q = this.docToText(fs, fc.doc_to_text ?? c.doc_to_text);
        const choices = (fc.doc_to_choice ?? c.doc_to_choice) !== undefined ? this.docToChoice(fs, fc.doc_to_choice ?? c.doc_to_choice) : undefined;
        const a = this.docToTarget(fs, fc.doc_to_target ?? c.doc_to_target);
        const hasAnswer = a !== undefined && a !== null && a !== '';
        const answer = choices && typeof a === 'number' ? choices[a] : Array.isArray(a) ? a[0] : a;
        if (typeof q !== 'string') throw new KolmError(`${this.where('doc_to_text')}: few-shot text is not a string (${JSON.stringify(q)})`);
        out += q + (hasAnswer ? tgtDelim : '');
        if (hasAnswer) {
          if (typeof answer !== 'string') throw new KolmError(`${this.where('doc_to_target')}: few-shot answer is not a string (${JSON.stringify(answer)}); with an index target, doc_to_choice must be set`);
          out += answer + fewDelim;
        }
      }
    }
    const q = this.docToText(doc);
    if (typeof q !== 'string') throw new KolmError(`${this.where('doc_to_text')}: produced ${JSON.stringify(q)}, not a string`);
    return out + q;
  }

  /** The generation settings lm-eval derives from generation_kwargs. */
  generationSettings(): { until: string[]; maxGenToks: number; temperature: number; topP?: number } {
    const g = this.config.generation_kwargs ?? {};
    const doSample = g.do_sample === true;
    return {
      until: g.until ?? [this.config.fewshot_delimiter],
      maxGenToks: g.max_gen_toks ?? 256,
      temperature: doSample ? (g.temperature ?? 1) : (g.temperature ?? 0),
      topP: g.top_p,
    };
  }

  constructRequests(doc: Doc, ctx: string, opts: { chat?: boolean; mutualInfo?: boolean; seed?: number } = {}): Request[] {
    const c = this.config;
    switch (c.output_type) {
      case 'multiple_choice': {
        const delim = opts.chat ? '' : c.target_delimiter;
        const reqs: Request[] = this.docToChoice(doc).map((ch) => ({ type: 'loglikelihood', context: ctx, continuation: delim + ch }));
        if (opts.mutualInfo) for (const ch of this.docToChoice(doc)) reqs.push({ type: 'loglikelihood', context: '', continuation: delim + ch });
        return reqs;
      }
      case 'loglikelihood':
        return [{ type: 'loglikelihood', context: ctx, continuation: String(this.docToTarget(doc)) }];
      case 'loglikelihood_rolling':
        return [{ type: 'loglikelihood_rolling', text: String(this.docToTarget(doc)) }];
      case 'generate_until': {
        const g = this.generationSettings();
        return Array.from({ length: c.repeats }, (_, r) => ({ type: 'generate_until' as const, context: ctx, ...g, seed: g.temperature > 0 ? (opts.seed ?? 1234) + r : undefined }));
      }
      case 'classifier':
        return [];
    }
  }

  /** Metric names; a function metric is named after the function (lm-eval uses its __name__: pass_at_1). */
  metricNames(): string[] {
    return (this.config.metric_list ?? []).map((m) => metricName(m.metric));
  }

  metricConfig(name: string): Record<string, unknown> | undefined {
    return this.config.metric_list?.find((m) => metricName(m.metric) === name) as Record<string, unknown> | undefined;
  }

  /** Default metrics per output type when metric_list is absent (lm-eval's DEFAULT_METRIC_REGISTRY). */
  defaultMetrics(): string[] {
    switch (this.config.output_type) {
      case 'multiple_choice': return ['acc', 'acc_norm'];
      case 'loglikelihood': return ['perplexity', 'acc'];
      case 'loglikelihood_rolling': return ['word_perplexity', 'byte_perplexity', 'bits_per_byte'];
      case 'generate_until': return ['exact_match'];
      default: return [];
    }
  }

  activeMetrics(): string[] {
    return this.config.metric_list ? this.metricNames() : this.defaultMetrics();
  }

  async processResults(doc: Doc, results: unknown[]): Promise<Record<string, unknown>> {
    const c = this.config;
    if (c.process_results) {
      // lm-eval hands process_results (loglikelihood, is_greedy) tuples.
      const shaped = results.map((r) => (r && typeof r === 'object' && 'logprob' in r ? [(r as LoglikelihoodResult).logprob, (r as LoglikelihoodResult).isGreedy] : r));
      return (await this.fn(c.process_results)(doc, shaped)) as Record<string, unknown>;
    }
    const use = this.activeMetrics();
    if (c.output_type === 'loglikelihood') {
      const [r] = results as LoglikelihoodResult[];
      return { ...(use.includes('perplexity') ? { perplexity: r!.logprob } : {}), ...(use.includes('acc') ? { acc: r!.isGreedy ? 1 : 0 } : {}) };
    }
    if (c.output_type === 'loglikelihood_rolling') {
      const ll = results[0] as number;
      const text = String(this.docToTarget(doc));
      const words = text.split(/\s+/).length;
      const bytes = Buffer.byteLength(text, 'utf8');
      return {
        ...(use.includes('word_perplexity') ? { word_perplexity: [ll, words] } : {}),
        ...(use.includes('byte_perplexity') ? { byte_perplexity: [ll, bytes] } : {}),
        ...(use.includes('bits_per_byte') ? { bits_per_byte: [ll, bytes] } : {}),
      };
    }
    if (c.output_type === 'multiple_choice') return this.processMultipleChoice(doc, results as LoglikelihoodResult[], use);
    if (c.output_type === 'generate_until') return this.processGeneration(doc, results[0], use);
    throw new KolmError(`${this.file}: output_type ${c.output_type} needs process_results`);
  }

  private processMultipleChoice(doc: Doc, results: LoglikelihoodResult[], use: string[]): Record<string, unknown> {
    const choices = this.docToChoice(doc);
    let lls = results.map((r) => r.logprob);
    const greedy = results.map((r) => r.isGreedy);
    let unconditional: number[] | undefined;
    if (use.includes('acc_mutual_info') && lls.length === 2 * choices.length) {
      unconditional = lls.slice(choices.length);
      lls = lls.slice(0, choices.length);
    }
    const argmax = (xs: number[]) => xs.reduce((best, x, i) => (x > xs[best]! ? i : best), 0);
    const pred = argmax(lls);
    const predNorm = argmax(lls.map((l, i) => l / choices[i]!.length));
    const predByte = argmax(lls.map((l, i) => l / Buffer.byteLength(choices[i]!, 'utf8')));
    const gold = this.docToTarget(doc) as number | string | (number | string)[];
    const toIndex = (g: number | string) => (typeof g === 'number' ? (g < choices.length ? g : -100) : choices.includes(g) ? choices.indexOf(g) : -100);
    const golds = Array.isArray(gold) ? gold.map(toIndex) : [toIndex(gold)];
    const goldIndex = golds[0]!;
    const hit = (p: number) => (golds.includes(p) ? 1 : 0);
    const out: Record<string, unknown> = {};
    if (use.includes('acc')) out['acc'] = hit(pred);
    if (use.includes('acc_norm')) out['acc_norm'] = hit(predNorm);
    if (use.includes('acc_bytes')) out['acc_bytes'] = hit(predByte);
    if (use.includes('f1')) out['f1'] = [goldIndex, pred];
    if (use.includes('mcc')) out['mcc'] = [goldIndex, pred];
    if (use.includes('exact_match')) out['exact_match'] = golds.some((g) => g !== -100 && greedy[g]) ? 1 : 0;
    if (use.includes('likelihood')) out['likelihood'] = lls[goldIndex] ?? NaN;
    if (unconditional) out['acc_mutual_info'] = hit(argmax(lls.map((l, i) => l - unconditional![i]!)));
    return out;
  }

  private async processGeneration(doc: Doc, result: unknown, use: string[]): Promise<Record<string, unknown>> {
    let gold: unknown = this.docToTarget(doc);
    if (this.config.doc_to_choice !== undefined) gold = this.docToChoice(doc)[gold as number];
    const out: Record<string, unknown> = {};
    const golds = Array.isArray(gold) ? gold.map(String) : [String(gold)];
    for (const metric of use) {
      const mc = this.metricConfig(metric) ?? {};
      const kwargs = Object.fromEntries(Object.entries(mc).filter(([k]) => !['metric', 'aggregation', 'higher_is_better', 'hf_evaluate'].includes(k)));
      const ref = mc['metric'];
      if (ref instanceof FunctionRef) {
        const fn = this.fn(ref);
        const args: unknown[] = [this.multipleTarget ? golds : [golds[0]], [result], kwargs];
        if (CONTEXT_FUNCTIONS.has(ref.name)) args.push(this.fnContext);
        const score = await fn(...args);
        if (score && typeof score === 'object') Object.assign(out, score);
        else out[metric] = score;
      } else if (metric === 'exact_match') {
        const pred = String(Array.isArray(result) ? result[0] : result);
        out[metric] = golds.some((g) => exactMatch(pred, g, kwargs as ExactMatchOptions) === 1) ? 1 : 0;
      } else if (metric === 'bleu' || metric === 'chrf' || metric === 'ter') {
        out[metric] = [this.multipleTarget ? golds : golds[0], result];
      } else {
        throw new KolmError(`${this.file}: metric '${metric}' is not available for generate_until (exact_match, bleu, chrf, or a !function)`);
      }
    }
    return out;
  }

  /** Aggregation for a result key (its metric_list entry, the source metric of an expanded key, or the default). */
  aggregationFor(key: string, sourceMetric?: string): { name: string; fn?: EvalFunction } {
    const mc = this.metricConfig(key) ?? (sourceMetric ? this.metricConfig(sourceMetric) : undefined);
    const agg = mc?.['aggregation'];
    if (agg instanceof FunctionRef) return { name: agg.name, fn: this.fn(agg) };
    if (typeof agg === 'string') return { name: agg };
    return { name: DEFAULT_AGGREGATION[key] ?? 'mean' };
  }

  higherIsBetter(key: string): boolean {
    const mc = this.metricConfig(key);
    if (typeof mc?.['higher_is_better'] === 'boolean') return mc['higher_is_better'] as boolean;
    return HIGHER_IS_BETTER[key] ?? true;
  }
}
