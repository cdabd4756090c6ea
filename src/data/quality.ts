/**
 * Stage 3: heuristic quality filters in the spirit of Gopher/C4/StarCoder: length bounds, repetition (duplicate
 * lines, repeated n-grams), symbol-to-word ratio, bullet-only lists, and removal of boilerplate/ad lines.
 * Each check returns the reason a document fails, so the stats say exactly why it was dropped.
 */
import type { Lang } from './types.js';
import { SYLLABLE_BASE } from '../text/hangul.js';

export interface QualityOptions {
  minChars: number;
  maxChars: number;
  /** Prose only (not code): */
  minWords: number;
  minMeanWordLength: number;
  maxMeanWordLength: number;
  /** ('#' + '…' + runs of 3+ dots) per word. */
  maxSymbolRatio: number;
  /** Fraction of words that contain a letter (Hangul or Latin or other script). */
  minAlphaWordRatio: number;
  maxBulletLineRatio: number;
  maxDupLineRatio: number;
  maxDupLineCharRatio: number;
  /** n → max share of characters taken by the single most frequent word n-gram. */
  maxTopNgramRatio: Record<string, number>;
  /** n → max share of characters covered by word n-grams that occur more than once. */
  maxDupNgramRatio: Record<string, number>;
  /** Regular expressions (case-insensitive) for boilerplate or advertising lines, removed from prose. */
  boilerplate: string[];
  /** A document with a larger share of boilerplate lines is dropped instead of cleaned. */
  maxBoilerplateLineRatio: number;
  /** Code only: */
  maxLineLength: number;
  maxMeanLineLength: number;
  minAlnumRatio: number;
}

export const defaultBoilerplate = [
  String.raw`\ball rights reserved\b`,
  String.raw`\bcookies?\b.{0,60}\b(polic(y|ies)|consent|settings|accept)|\b(accept|we use)\b.{0,30}\bcookies\b`,
  String.raw`\b(privacy policy|terms of (use|service)|subscribe to (our|the) newsletter|follow us on|share (this|on) (facebook|twitter))\b`,
  String.raw`\b(click here|lorem ipsum|javascript (is )?(disabled|required)|buy now|add to cart|free shipping|limited[- ]time offer)\b`,
  String.raw`무단\s*(전재|복제|배포)|재배포\s*금지|저작권자\s*[©ⓒ(]`,
  String.raw`(광고|제휴|협찬|구매)\s*문의|(카카오톡|카톡)\s*(상담|문의|친구\s*추가)|(로그인|회원\s*가입)\s*(하기|하세요|후\s*이용)`,
  String.raw`무료\s*배송|최저가\s*(보장|보기)|할인\s*쿠폰|지금\s*(구매|신청)하기|구독과?\s*좋아요|바로\s*가기\s*[>▶]`,
];

export const defaultQuality: QualityOptions = {
  minChars: 100, maxChars: 1_000_000,
  minWords: 20, minMeanWordLength: 1.5, maxMeanWordLength: 15, maxSymbolRatio: 0.1, minAlphaWordRatio: 0.6,
  maxBulletLineRatio: 0.9, maxDupLineRatio: 0.3, maxDupLineCharRatio: 0.2,
  maxTopNgramRatio: { 2: 0.2, 3: 0.18, 4: 0.16 },
  maxDupNgramRatio: { 5: 0.15, 10: 0.1 },
  boilerplate: defaultBoilerplate, maxBoilerplateLineRatio: 0.5,
  maxLineLength: 1000, maxMeanLineLength: 100, minAlnumRatio: 0.25,
};

export class QualityFilter {
  private readonly boilerplate: RegExp | undefined;
  /** Largest n of the n-gram checks. */
  private readonly maxN: number;
  private table = new CountTable(1 << 12);
  // Buffers reused across documents: word hashes, word lengths, n-gram hashes.
  private words = new Int32Array(1 << 12);
  private lens = new Uint16Array(1 << 12);
  private keys = new Int32Array(1 << 12);

  constructor(readonly opts: QualityOptions = defaultQuality) {
    this.boilerplate = opts.boilerplate.length ? new RegExp(opts.boilerplate.map((s) => `(?:${s})`).join('|'), 'i') : undefined;
    this.maxN = Math.max(1, ...Object.keys(opts.maxTopNgramRatio).map(Number), ...Object.keys(opts.maxDupNgramRatio).map(Number));
  }

  /** Remove boilerplate lines from prose; returns the cleaned text, the number of lines removed, or a drop reason. */
  stripBoilerplate(text: string): { text: string; removed: number } | string {
    // One scan of the whole text first: most documents have no boilerplate line at all.
    if (!this.boilerplate || !this.boilerplate.test(text)) return { text, removed: 0 };
    const lines = text.split('\n');
    let nonBlank = 0;
    const kept: string[] = [];
    let removed = 0;
    for (const line of lines) {
      if (line.trim()) nonBlank++;
      if (line.length <= 300 && this.boilerplate.test(line)) removed++;
      else kept.push(line);
    }
    if (!removed) return { text, removed };
    if (removed > nonBlank * this.opts.maxBoilerplateLineRatio) return 'boilerplate';
    return { text: kept.join('\n').trim(), removed };
  }

  /** The reason the document fails, or undefined when it passes. */
  check(text: string, lang: Lang): string | undefined {
    const o = this.opts;
    if (text.length < o.minChars) return 'too-short';
    if (text.length > o.maxChars) return 'too-long';
    return lang === 'code' ? this.checkCode(text) : this.checkProse(text);
  }

  private checkCode(text: string): string | undefined {
    const o = this.opts;
    let lines = 0, maxLen = 0, alnum = 0;
    let start = 0;
    while (start <= text.length) {
      let nl = text.indexOf('\n', start);
      if (nl === -1) nl = text.length;
      lines++;
      if (nl - start > maxLen) maxLen = nl - start;
      start = nl + 1;
    }
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // Digits, ASCII letters, and Hangul syllables with every code unit above them (Korean comments count as text).
      if ((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122) || c >= SYLLABLE_BASE) alnum++;
    }
    if (maxLen > o.maxLineLength) return 'long-line';
    if (text.length / lines > o.maxMeanLineLength) return 'long-mean-line';
    if (alnum / text.length < o.minAlnumRatio) return 'low-alnum';
    return undefined;
  }

  private checkProse(text: string): string | undefined {
    const o = this.opts;
    const lineReason = this.checkLines(text);
    if (lineReason) return lineReason;

    // One pass over the words: a hash and a length per word, plus letter/symbol counts.
    if (this.words.length < text.length / 2 + 2) {
      this.words = new Int32Array(text.length + 2);
      this.lens = new Uint16Array(text.length + 2);
      this.keys = new Int32Array(text.length + 2);
    }
    const { words, lens } = this;
    let n = 0, wordChars = 0, alphaWords = 0, symbols = 0;
    let h = 0x811c9dc5, len = 0, hasLetter = false;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 32;
      if (c === 32 || c === 10 || c === 9) {
        if (len) {
          words[n] = h | 0 || 1;
          lens[n++] = len > 65535 ? 65535 : len;
          wordChars += len;
          if (hasLetter) alphaWords++;
          h = 0x811c9dc5; len = 0; hasLetter = false;
        }
        continue;
      }
      h = Math.imul(h ^ c, 0x01000193);
      len++;
      if (!hasLetter && (((c | 32) >= 97 && (c | 32) <= 122) || c >= 0xc0)) hasLetter = true;
      if (c === 35 || c === 0x2026) symbols++;
      // A run of three or more dots is one ellipsis (colloquial Korean trails off with runs of any length).
      else if (c === 46 && text.charCodeAt(i + 1) === 46 && text.charCodeAt(i + 2) === 46 && text.charCodeAt(i - 1) !== 46) symbols++;
    }
    if (n < o.minWords) return 'few-words';
    const mean = wordChars / n;
    if (mean < o.minMeanWordLength) return 'short-words';
    if (mean > o.maxMeanWordLength) return 'long-words';
    if (symbols / n > o.maxSymbolRatio) return 'symbol-ratio';
    if (alphaWords / n < o.minAlphaWordRatio) return 'few-alpha-words';
    // n-gram hashes for n = 1, 2, ... built in place, each from the previous size's hashes plus one word.
    const keys = this.keys;
    keys.set(words.subarray(0, n));
    for (let size = 2; size <= this.maxN && size <= n; size++) {
      const count = n - size + 1;
      for (let i = 0; i < count; i++) keys[i] = (Math.imul(keys[i] ^ words[i + size - 1], 0x9e3779b1) ^ (keys[i] >>> 15)) | 0 || 1;
      const top = this.opts.maxTopNgramRatio[size];
      if (top !== undefined && this.topNgramShare(lens, count, size, wordChars) > top) return `top-${size}gram`;
      const dup = this.opts.maxDupNgramRatio[size];
      if (dup !== undefined && this.dupNgramShare(lens, count, size, wordChars) > dup) return `dup-${size}gram`;
    }
    return undefined;
  }

  private checkLines(text: string): string | undefined {
    const o = this.opts;
    const seen = new Map<string, number>();
    let lines = 0, bullets = 0, dupLines = 0, dupChars = 0, chars = 0;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line) continue;
      lines++;
      chars += line.length;
      const c = line.charCodeAt(0);
      if (c === 0x2022 || c === 0x25cf || c === 0x25aa || c === 0x2023 || ((c === 45 || c === 42) && line.charCodeAt(1) === 32)) bullets++;
      const prev = seen.get(line);
      if (prev !== undefined) {
        dupLines++;
        dupChars += line.length;
      }
      seen.set(line, (prev ?? 0) + 1);
    }
    if (lines === 0) return 'empty';
    if (bullets / lines > o.maxBulletLineRatio) return 'bullet-lines';
    if (dupLines / lines > o.maxDupLineRatio) return 'dup-lines';
    if (dupChars / chars > o.maxDupLineCharRatio) return 'dup-line-chars';
    return undefined;
  }

  /** Share of characters in the most frequent n-gram (this.keys holds the `count` n-gram hashes). */
  private topNgramShare(lens: Uint16Array, count: number, size: number, total: number): number {
    const keys = this.keys;
    const t = this.tableFor(count);
    let best = 0, bestAt = 0;
    for (let i = 0; i < count; i++) {
      const c = t.add(keys[i]);
      if (c > best) { best = c; bestAt = i; }
    }
    if (best < 2) return 0;
    let chars = 0;
    for (let j = 0; j < size; j++) chars += lens[bestAt + j];
    return (best * chars) / total;
  }

  /** Share of characters covered by repeats (second or later occurrences) of n-grams, each word counted once. */
  private dupNgramShare(lens: Uint16Array, count: number, size: number, total: number): number {
    const keys = this.keys;
    const t = this.tableFor(count);
    let covered = 0, coveredUntil = 0;
    for (let i = 0; i < count; i++) {
      if (t.add(keys[i]) < 2) continue;
      for (let j = Math.max(i, coveredUntil); j < i + size; j++) covered += lens[j];
      coveredUntil = i + size;
    }
    return covered / total;
  }

  private tableFor(entries: number): CountTable {
    if (this.table.capacity < entries * 2) this.table = new CountTable(entries * 2);
    else this.table.clear();
    return this.table;
  }
}

/** Open-addressing count table over nonzero int32 keys, reused across documents to avoid allocating Maps. */
class CountTable {
  readonly capacity: number;
  private readonly keys: Int32Array;
  private readonly counts: Int32Array;
  private readonly mask: number;
  /** Multiply-shift hashing: the top bits of key * golden ratio pick the slot. */
  private readonly shift: number;
  private used: number[] = [];

  constructor(min: number) {
    let cap = 16;
    while (cap < min) cap *= 2;
    this.capacity = cap;
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.keys = new Int32Array(cap);
    this.counts = new Int32Array(cap);
  }

  add(key: number): number {
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (this.keys[i] !== 0 && this.keys[i] !== key) i = (i + 1) & this.mask;
    if (this.keys[i] === 0) { this.keys[i] = key; this.used.push(i); }
    return ++this.counts[i];
  }

  get(key: number): number {
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (this.keys[i] !== 0) {
      if (this.keys[i] === key) return this.counts[i];
      i = (i + 1) & this.mask;
    }
    return 0;
  }

  clear(): void {
    for (const i of this.used) { this.keys[i] = 0; this.counts[i] = 0; }
    this.used = [];
  }
}
