/**
 * BLEU and chrF exactly as sacreBLEU 2.x defines them (metrics/bleu.py, metrics/chrf.py, tokenizers/*), so scores
 * are comparable with published ones: corpus-level sufficient statistics, 13a tokenisation by default,
 * exp smoothing, closest reference length (ties to the shorter), chrF with character 6-grams, β = 2 and whitespace
 * removed. Strings are handled as Unicode code points and whitespace as Python's `str.split()` sees it.
 */
import { KolmError } from '../util/errors.js';

/** Python's str.split() whitespace (Unicode White_Space plus the ASCII separators 0x1c–0x1f). */
const PY_WS = '\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS_RUN = new RegExp(`[${PY_WS}]+`, 'u');

/** `str.split()` with no argument: runs of whitespace separate, leading/trailing whitespace ignored. */
export function pySplit(s: string): string[] {
  return s.split(WS_RUN).filter((w) => w.length > 0);
}

export type BleuTokenizer = '13a' | 'none' | 'char' | 'intl';

const RE_13A: [RegExp, string][] = [
  // language-dependent part (assuming Western languages)
  [/([{-~[-` -&(-+:-@/])/gu, ' $1 '],
  // tokenize period and comma unless preceded by a digit
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // tokenize period and comma unless followed by a digit
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // tokenize dash when preceded by a digit
  [/([0-9])(-)/gu, '$1 $2 '],
];

const RE_INTL: [RegExp, string][] = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

/** mteval-v13a tokenisation (sacreBLEU's Tokenizer13a + TokenizerRegexp). */
export function tokenize13a(line: string): string {
  line = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  line = ` ${line} `;
  for (const [re, rep] of RE_13A) line = line.replace(re, rep);
  return pySplit(line).join(' ');
}

/** mteval-v14 international tokenisation (sacreBLEU's TokenizerV14International). */
export function tokenizeIntl(line: string): string {
  for (const [re, rep] of RE_INTL) line = line.replace(re, rep);
  return pySplit(line).join(' ');
}

function tokenizer(name: BleuTokenizer): (s: string) => string {
  switch (name) {
    case '13a': return tokenize13a;
    case 'intl': return tokenizeIntl;
    case 'none': return (s) => s;
    case 'char': return (s) => Array.from(s).join(' ');
    default: throw new KolmError(`BLEU: unknown tokenizer '${name as string}' (13a, intl, char, none)`);
  }
}

export interface BleuOptions {
  tokenize?: BleuTokenizer;
  lowercase?: boolean;
  smoothMethod?: 'exp' | 'none' | 'floor' | 'add-k';
  smoothValue?: number;
  maxNgramOrder?: number;
  effectiveOrder?: boolean;
}

export interface BleuScore {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

const SMOOTH_DEFAULTS: Record<string, number | undefined> = { none: undefined, floor: 0.1, 'add-k': 1, exp: undefined };

function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

function wordNgrams(tokens: readonly string[], maxOrder: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      // keyed by order, then the tokens joined by NUL
      const key = `${n}\u0000${tokens.slice(i, i + n).join('\u0000')}`;
      out.set(key, (out.get(key) ?? 0) + 1);
    }
  }
  return out;
}

/** BLEU from sufficient statistics (sacreBLEU's BLEU.compute_bleu). */
export function computeBleu(correct: number[], total: number[], sysLen: number, refLen: number, opts: BleuOptions = {}): BleuScore {
  const method = opts.smoothMethod ?? 'exp';
  if (!(method in SMOOTH_DEFAULTS)) throw new KolmError(`BLEU: unknown smooth method '${method}' (exp, none, floor, add-k)`);
  const smoothValue = opts.smoothValue ?? SMOOTH_DEFAULTS[method];
  const maxOrder = opts.maxNgramOrder ?? 4;
  correct = [...correct];
  total = [...total];
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
  const precisions = new Array<number>(maxOrder).fill(0);
  if (!correct.some((c) => c !== 0)) return { score: 0, counts: correct, totals: total, precisions, bp, sysLen, refLen };
  let smoothMteval = 1;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1]! += smoothValue!;
      total[n - 1]! += smoothValue!;
    }
    if (total[n - 1] === 0) break;
    if (opts.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * smoothValue!) / total[n - 1]!;
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
    }
  }
  let s = 0;
  for (const p of precisions.slice(0, effOrder)) s += myLog(p);
  const score = bp * Math.exp(s / effOrder);
  return { score, counts: correct, totals: total, precisions, bp, sysLen, refLen };
}

/** Per-segment statistics [hypLen, refLen, correct_1..N, total_1..N] (sacreBLEU's _compute_segment_statistics). */
export function bleuSegmentStats(hypothesis: string, references: readonly string[], opts: BleuOptions = {}): number[] {
  const tok = tokenizer(opts.tokenize ?? '13a');
  const maxOrder = opts.maxNgramOrder ?? 4;
  const prep = (s: string) => tok((opts.lowercase ? s.toLowerCase() : s).trimEnd());
  let refNgrams: Map<string, number> | undefined;
  const refLens: number[] = [];
  for (const ref of references) {
    const toks = pySplit(prep(ref));
    refLens.push(toks.length);
    const ng = wordNgrams(toks, maxOrder);
    if (!refNgrams) refNgrams = ng;
    else for (const [k, c] of ng) refNgrams.set(k, Math.max(refNgrams.get(k) ?? 0, c));
  }
  const hypToks = pySplit(prep(hypothesis));
  const hypLen = hypToks.length;
  let closestDiff = -1;
  let closestLen = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = len;
    } else if (diff === closestDiff && len < closestLen) closestLen = len;
  }
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  for (const [k, c] of wordNgrams(hypToks, maxOrder)) {
    const n = Number(k.slice(0, k.indexOf('\u0000'))) - 1;
    total[n]! += c;
    const r = refNgrams?.get(k);
    if (r !== undefined) correct[n]! += Math.min(c, r);
  }
  return [hypLen, closestLen, ...correct, ...total];
}

/**
 * Corpus BLEU (sacrebleu.corpus_bleu). `references[i]` holds the references of hypothesis i (any number per
 * segment; sacreBLEU's own layout is transposed: one stream per reference set).
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], opts: BleuOptions = {}): BleuScore {
  if (hypotheses.length !== references.length) throw new KolmError(`BLEU: ${hypotheses.length} hypotheses but ${references.length} reference lists`);
  const maxOrder = opts.maxNgramOrder ?? 4;
  const sum = new Array<number>(2 + 2 * maxOrder).fill(0);
  hypotheses.forEach((h, i) => bleuSegmentStats(h, references[i]!, opts).forEach((v, j) => (sum[j]! += v)));
  return computeBleu(sum.slice(2, 2 + maxOrder), sum.slice(2 + maxOrder), sum[0]!, sum[1]!, opts);
}

export function sentenceBleu(hypothesis: string, references: readonly string[], opts: BleuOptions = {}): BleuScore {
  return corpusBleu([hypothesis], [references], opts);
}

export interface ChrfOptions {
  charOrder?: number;
  wordOrder?: number;
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams (default: removed). */
  whitespace?: boolean;
  /** chrF++.py-style epsilon smoothing; default false = sacreBLEU's effective-order averaging. */
  epsSmoothing?: boolean;
}

const PUNCTS = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

function charNgrams(line: string, maxOrder: number, whitespace: boolean): Map<string, number>[] {
  const chars = Array.from(whitespace ? line : pySplit(line).join(''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const k = chars.slice(i, i + n).join('');
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

function removePunctuation(sent: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(sent)) {
    const cps = Array.from(w);
    if (cps.length === 1) out.push(w);
    else if (PUNCTS.has(cps[cps.length - 1]!)) out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]!);
    else if (PUNCTS.has(cps[0]!)) out.push(cps[0]!, cps.slice(1).join(''));
    else out.push(w);
  }
  return out;
}

function wordNgramCounter(words: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= words.length; i++) {
    const k = words.slice(i, i + n).join(' ');
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function chrfNgrams(s: string, o: Required<ChrfOptions>): Map<string, number>[] {
  const line = o.lowercase ? s.toLowerCase() : s;
  const all = charNgrams(line, o.charOrder, o.whitespace);
  if (o.wordOrder > 0) {
    const words = removePunctuation(line);
    for (let n = 1; n <= o.wordOrder; n++) all.push(wordNgramCounter(words, n));
  }
  return all;
}

function chrfOpts(opts: ChrfOptions): Required<ChrfOptions> {
  return { charOrder: opts.charOrder ?? 6, wordOrder: opts.wordOrder ?? 0, beta: opts.beta ?? 2, lowercase: opts.lowercase ?? false, whitespace: opts.whitespace ?? false, epsSmoothing: opts.epsSmoothing ?? false };
}

/** chrF from flattened [hyp, ref, match] statistics per order (sacreBLEU's CHRF._compute_f_score). */
export function chrfFromStats(stats: readonly number[], opts: ChrfOptions = {}): number {
  const o = chrfOpts(opts);
  const order = o.charOrder + o.wordOrder;
  const eps = 1e-16;
  const factor = o.beta ** 2;
  let score = 0;
  let effective = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i]!;
    const nRef = stats[3 * i + 1]!;
    const nMatch = stats[3 * i + 2]!;
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effective++;
    }
  }
  if (o.epsSmoothing) return (100 * score) / order;
  if (effective === 0) avgPrec = avgRec = 0;
  else {
    avgPrec /= effective;
    avgRec /= effective;
  }
  if (avgPrec + avgRec) return (100 * ((1 + factor) * avgPrec * avgRec)) / (factor * avgPrec + avgRec);
  return 0;
}

/** Per-segment chrF statistics against the best-scoring reference. */
export function chrfSegmentStats(hypothesis: string, references: readonly string[], opts: ChrfOptions = {}): number[] {
  const o = chrfOpts(opts);
  const hyp = chrfNgrams(hypothesis, o);
  let best: number[] = [];
  let bestF = -1;
  for (const ref of references) {
    const r = chrfNgrams(ref, o);
    const stats: number[] = [];
    hyp.forEach((h, i) => {
      const rr = r[i]!;
      let match = 0;
      let hypCount = 0;
      for (const [k, c] of h) {
        hypCount += c;
        const rc = rr.get(k);
        if (rc !== undefined) match += Math.min(c, rc);
      }
      let refCount = 0;
      for (const c of rr.values()) refCount += c;
      stats.push(rr.size ? hypCount : 0, refCount, match);
    });
    const f = chrfFromStats(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

/** Corpus chrF (sacrebleu.corpus_chrf); `references[i]` are the references of hypothesis i. */
export function corpusChrf(hypotheses: readonly string[], references: readonly (readonly string[])[], opts: ChrfOptions = {}): number {
  if (hypotheses.length !== references.length) throw new KolmError(`chrF: ${hypotheses.length} hypotheses but ${references.length} reference lists`);
  const o = chrfOpts(opts);
  const sum = new Array<number>(3 * (o.charOrder + o.wordOrder)).fill(0);
  hypotheses.forEach((h, i) => chrfSegmentStats(h, references[i]!, o).forEach((v, j) => (sum[j]! += v)));
  return chrfFromStats(sum, o);
}

export function sentenceChrf(hypothesis: string, references: readonly string[], opts: ChrfOptions = {}): number {
  return corpusChrf([hypothesis], [references], opts);
}
