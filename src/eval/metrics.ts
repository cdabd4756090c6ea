/**
 * Metric aggregations and standard errors with lm-evaluation-harness semantics (lm_eval/api/metrics.py):
 * per-document values are aggregated by name (`mean`, `perplexity`, `bits_per_byte`, `f1`, `mcc`, `bleu`, `chrf`, …);
 * `mean` gets the closed-form standard error (sample std / √n), the corpus-level ones a bootstrap that draws
 * `Random(i).choices(xs, k=len(xs))` in chunks of ≤ 1000, as lm-eval does.
 */
import { KolmError } from '../util/errors.js';
import { PyRandom } from './pyrandom.js';
import { bleuSegmentStats, chrfFromStats, chrfSegmentStats, computeBleu } from './sacrebleu.js';

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export function sampleStddev(xs: readonly number[]): number {
  const mu = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - mu) ** 2, 0) / (xs.length - 1));
}

export function meanStderr(xs: readonly number[]): number {
  return sampleStddev(xs) / Math.sqrt(xs.length);
}

type Pair = readonly [unknown, unknown];

/** sklearn f1_score(golds, preds) with the default binary average and pos_label=1. */
export function binaryF1(items: readonly Pair[]): number {
  let tp = 0, fp = 0, fn = 0;
  for (const [g, p] of items) {
    const gold = g === 1 || g === true, pred = p === 1 || p === true;
    if (gold && pred) tp++;
    else if (pred) fp++;
    else if (gold) fn++;
  }
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/** sklearn f1_score(golds, preds, average='macro') over the labels present in either. */
export function macroF1(items: readonly Pair[]): number {
  const labels = [...new Set(items.flatMap(([g, p]) => [String(g), String(p)]))];
  if (!labels.length) return 0;
  let total = 0;
  for (const l of labels) {
    let tp = 0, fp = 0, fn = 0;
    for (const [g, p] of items) {
      const gold = String(g) === l, pred = String(p) === l;
      if (gold && pred) tp++;
      else if (pred) fp++;
      else if (gold) fn++;
    }
    const d = 2 * tp + fp + fn;
    total += d === 0 ? 0 : (2 * tp) / d;
  }
  return total / labels.length;
}

/** sklearn matthews_corrcoef (multiclass form); 0 when undefined. */
export function matthewsCorrcoef(items: readonly Pair[]): number {
  const labels = [...new Set(items.flatMap(([g, p]) => [String(g), String(p)]))];
  const idx = new Map(labels.map((l, i) => [l, i]));
  const K = labels.length;
  const t = new Array<number>(K).fill(0), p = new Array<number>(K).fill(0);
  let c = 0;
  for (const [g, q] of items) {
    const gi = idx.get(String(g))!, pi = idx.get(String(q))!;
    t[gi]!++;
    p[pi]!++;
    if (gi === pi) c++;
  }
  const s = items.length;
  const tp = t.reduce((a, x, i) => a + x * p[i]!, 0);
  const den = Math.sqrt((s * s - p.reduce((a, x) => a + x * x, 0)) * (s * s - t.reduce((a, x) => a + x * x, 0)));
  return den === 0 ? 0 : (c * s - tp) / den;
}

/** Unbiased pass@k (Chen et al. 2021): 1 − C(n−c, k) / C(n, k), computed as a stable product. */
export function passAtK(n: number, c: number, k: number): number {
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

const asRefs = (r: unknown): string[] => (Array.isArray(r) ? r.map(String) : [String(r)]);
const asPred = (p: unknown): string => (Array.isArray(p) ? String(p[0]) : String(p));

/**
 * An aggregation: `prepare` turns per-document items into resampling units once (e.g. BLEU sufficient statistics),
 * `reduce` computes the metric from units; bootstrap resamples units.
 */
export interface Aggregation {
  prepare?: (items: readonly unknown[]) => unknown[];
  reduce: (units: readonly unknown[]) => number;
  /** Closed-form standard error, if any. */
  stderr?: (units: readonly unknown[]) => number;
  /** Standard error by bootstrap (lm-eval's bootstrappable list). */
  bootstrap?: boolean;
}

const nums = (xs: readonly unknown[]) => xs as readonly number[];
const pairs = (xs: readonly unknown[]) => xs as readonly Pair[];
const sumStats = (xs: readonly unknown[]) => {
  const rows = xs as readonly number[][];
  const out = new Array<number>(rows[0]?.length ?? 0).fill(0);
  for (const r of rows) r.forEach((v, i) => (out[i]! += v));
  return out;
};

function weightedMean(items: readonly unknown[]): number {
  let a = 0, b = 0;
  for (const [x, y] of items as readonly (readonly [number, number])[]) {
    a += x;
    b += y;
  }
  return a / b;
}

export const AGGREGATIONS: Record<string, Aggregation> = {
  mean: { reduce: (xs) => mean(nums(xs)), stderr: (xs) => meanStderr(nums(xs)) },
  median: { reduce: (xs) => [...nums(xs)].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!, bootstrap: true },
  nanmean: {
    reduce: (xs) => {
      const v = nums(xs).filter((x) => !Number.isNaN(x));
      return v.length ? mean(v) : NaN;
    },
    bootstrap: true,
  },
  perplexity: { reduce: (xs) => Math.exp(-mean(nums(xs))), bootstrap: true },
  weighted_perplexity: { reduce: (xs) => Math.exp(-weightedMean(xs)) },
  bits_per_byte: { reduce: (xs) => -weightedMean(xs) / Math.log(2) },
  f1: { reduce: (xs) => binaryF1(pairs(xs)), bootstrap: true },
  macro_f1: { reduce: (xs) => macroF1(pairs(xs)), bootstrap: true },
  matthews_corrcoef: { reduce: (xs) => matthewsCorrcoef(pairs(xs)), bootstrap: true },
  // Items are (references, prediction) as lm-eval passes them; units are sacreBLEU segment statistics.
  bleu: {
    prepare: (xs) => pairs(xs).map(([r, p]) => bleuSegmentStats(asPred(p), asRefs(r))),
    reduce: (units) => {
      const s = sumStats(units);
      return computeBleu(s.slice(2, 6), s.slice(6, 10), s[0]!, s[1]!).score;
    },
    bootstrap: true,
  },
  chrf: {
    prepare: (xs) => pairs(xs).map(([r, p]) => chrfSegmentStats(asPred(p), asRefs(r))),
    reduce: (units) => chrfFromStats(sumStats(units)),
    bootstrap: true,
  },
};

/** The default aggregation of a metric name (lm-eval's registry defaults). */
export const DEFAULT_AGGREGATION: Record<string, string> = {
  acc: 'mean', acc_norm: 'mean', acc_bytes: 'mean', acc_mutual_info: 'mean', exact_match: 'mean', likelihood: 'mean',
  perplexity: 'perplexity', word_perplexity: 'weighted_perplexity', byte_perplexity: 'weighted_perplexity',
  bits_per_byte: 'bits_per_byte', f1: 'f1', mcc: 'matthews_corrcoef', bleu: 'bleu', chrf: 'chrf',
};

export const HIGHER_IS_BETTER: Record<string, boolean> = {
  perplexity: false, word_perplexity: false, byte_perplexity: false, bits_per_byte: false, ter: false,
};

/** lm-eval's bootstrap_stderr: chunks of min(1000, iters) draws, chunk i seeded Random(i); sample std of the replicates. */
export function bootstrapStderr(reduce: (units: readonly unknown[]) => number, units: readonly unknown[], iters: number): number {
  const chunk = Math.min(1000, iters);
  const res: number[] = [];
  for (let i = 0; i < Math.floor(iters / chunk); i++) {
    const rnd = new PyRandom(i);
    for (let j = 0; j < chunk; j++) res.push(reduce(rnd.choices(units, units.length)));
  }
  return sampleStddev(res);
}

export interface AggregateResult {
  value: number;
  stderr: number | null;
}

/** Aggregate per-document items; stderr null when there is no estimator (or bootstrap is off / one item). */
export function aggregate(name: string, items: readonly unknown[], bootstrapIters: number, custom?: Aggregation): AggregateResult {
  const agg = custom ?? AGGREGATIONS[name];
  if (!agg) throw new KolmError(`unknown aggregation '${name}' (known: ${Object.keys(AGGREGATIONS).join(', ')})`);
  if (items.length === 0) return { value: NaN, stderr: null };
  const units = agg.prepare ? agg.prepare(items) : [...items];
  const value = agg.reduce(units);
  let stderr: number | null = null;
  if (units.length > 1 && bootstrapIters > 0) {
    if (agg.stderr) stderr = agg.stderr(units);
    else if (agg.bootstrap) stderr = bootstrapStderr(agg.reduce, units, bootstrapIters);
  }
  return { value, stderr: stderr !== null && Number.isFinite(stderr) ? stderr : null };
}

/** Python `re` pattern → JS RegExp: leading inline flags ((?s), (?i), (?m)), named groups, \Z. */
export function pyRegex(pattern: string, extraFlags = ''): RegExp {
  let flags = new Set(extraFlags.split(''));
  let p = pattern;
  const m = /^\(\?([aiLmsux]+)\)/.exec(p);
  if (m) {
    for (const f of m[1]!) if ('ims'.includes(f)) flags.add(f);
    p = p.slice(m[0].length);
  }
  p = p.replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>');
  // Python allows escaping any punctuation (\- \, \# …); JS's unicode mode only the syntax characters.
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\' && i + 1 < p.length) {
      const n = p[++i]!;
      if (/[A-Za-z0-9]/.test(n)) out += n === 'Z' ? '$(?![\\s\\S])' : n === 'A' ? '^' : `\\${n}`;
      else if ('^$\\.*+?()[]{}|/'.includes(n) || (n === '-' && inClass)) out += `\\${n}`;
      else out += `\\u{${n.codePointAt(0)!.toString(16)}}`;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  p = out;
  flags.add('u');
  try {
    return new RegExp(p, [...flags].join(''));
  } catch (e) {
    throw new KolmError(`regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

export interface ExactMatchOptions {
  regexes_to_ignore?: string[];
  ignore_case?: boolean;
  ignore_punctuation?: boolean;
  ignore_numbers?: boolean;
}

/** HF evaluate's exact_match (as lm-eval vendors it) for one prediction/reference pair: 1 or 0. */
export function exactMatch(prediction: string, reference: string, opts: ExactMatchOptions = {}): number {
  let p = prediction, r = reference;
  for (const re of opts.regexes_to_ignore ?? []) {
    const rx = pyRegex(re, 'g');
    p = p.replace(rx, '');
    r = r.replace(rx, '');
  }
  if (opts.ignore_case) {
    p = p.toLowerCase();
    r = r.toLowerCase();
  }
  if (opts.ignore_punctuation) {
    p = p.replace(PUNCTUATION, '');
    r = r.replace(PUNCTUATION, '');
  }
  if (opts.ignore_numbers) {
    p = p.replace(/[0-9]/g, '');
    r = r.replace(/[0-9]/g, '');
  }
  return p === r ? 1 : 0;
}
