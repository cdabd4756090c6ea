/**
 * Stage 5: drop documents dominated by profane or hateful language, measured as lexicon hits per word.
 * Korean entries match as substrings (Korean attaches particles and endings to the word: 개새끼야), Latin-script
 * entries as whole words or word sequences (so "class" does not match "ass").
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { badwordsKo } from './lexicons/badwords-ko.js';
import { naughtyWordsEn, naughtyWordsKo } from './lexicons/naughty-words.js';
import { cussEn } from './lexicons/cuss.js';
import { KolmError } from '../util/errors.js';
import { IntSet } from './hash.js';

export interface SafetyOptions {
  /** Drop when lexicon hits per word reach this. */
  maxHitRatio: number;
  /** ... and there are at least this many hits (one slur in a long text does not make it dominated). */
  minHits: number;
  /** Words of the `cuss` list with at least this sureness rating (0-2) count. */
  cussMinRating: number;
  /** Read the lexicon JSON files from this directory instead of the shipped copies. */
  lexiconDir?: string;
}

export const defaultSafety: SafetyOptions = { maxHitRatio: 0.05, minHits: 3, cussMinRating: 2 };

export interface Lexicons { ko: readonly string[]; en: readonly string[]; cuss: Readonly<Record<string, number>>; }

export function loadLexicons(dir?: string): Lexicons {
  if (!dir) return { ko: [...badwordsKo, ...naughtyWordsKo], en: naughtyWordsEn, cuss: cussEn };
  const read = (f: string) => {
    try {
      return JSON.parse(readFileSync(join(dir, f), 'utf8')).words;
    } catch (e) {
      throw new KolmError(`safety lexicon ${join(dir, f)}: ${(e as Error).message}`);
    }
  };
  return {
    ko: [...read('badwords-ko.json'), ...read('naughty-words.ko.json')],
    en: read('naughty-words.en.json'),
    cuss: read('cuss.en.json'),
  };
}

const isAsciiAlnum = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
const fold = (c: number) => (c >= 65 && c <= 90 ? c | 32 : c);
const FNV = 0x811c9dc5 | 0;

/** FNV-1a of an ASCII word with case folded (int32), as computed while scanning. */
function wordHash(w: string): number {
  let h = FNV;
  for (let i = 0; i < w.length; i++) h = Math.imul(h ^ fold(w.charCodeAt(i)), 0x01000193);
  return h;
}

/** Hash of a word sequence, fed newest word first (so it extends backwards one word at a time while scanning). */
function extendPhrase(h: number, wordHashValue: number): number {
  return (Math.imul(h ^ wordHashValue, 0x165667b1) ^ (h >>> 15)) | 0;
}
const PHRASE_SEED = 0x27d4eb2f;

export class SafetyFilter {
  /** Substring entries (lower-case) indexed by their first UTF-16 unit (both cases), longest first. */
  private readonly byFirst = new Map<number, string[]>();
  private readonly firstMask = new Uint8Array(65536);
  /** Whole-word entries (words joined by single spaces) and the hashes that find candidates cheaply. */
  private readonly phrases = new Set<string>();
  private readonly wordHashes = new IntSet();
  private readonly phraseHashes = new IntSet();
  private readonly singleFilter = new Uint8Array(65536);
  private readonly startFilter = new Uint8Array(65536);
  private readonly maxPhraseWords: number;

  constructor(readonly opts: SafetyOptions = defaultSafety, lexicons: Lexicons = loadLexicons(opts.lexiconDir)) {
    const whole = [...lexicons.en, ...Object.entries(lexicons.cuss).filter(([, r]) => r >= opts.cussMinRating).map(([w]) => w)];
    let maxWords = 1;
    for (const raw of [...lexicons.ko, ...whole]) {
      const w = raw.trim().toLowerCase();
      if (/^[\x00-\x7f]+$/.test(w)) {
        const words = w.split(/[^a-z0-9]+/).filter(Boolean);
        // One- and two-letter entries ("fu") hit ordinary text (Script-Fu) far more often than profanity.
        if (!words.length || (words.length === 1 && words[0].length <= 2)) continue;
        this.phrases.add(words.join(' '));
        const hashes = words.map(wordHash);
        if (words.length === 1) {
          this.wordHashes.add(hashes[0]);
          this.singleFilter[hashes[0] >>> 16] = 1;
        } else {
          this.phraseHashes.add(hashes.reduceRight(extendPhrase, PHRASE_SEED));
          this.startFilter[hashes[0] >>> 16] = 1;
        }
        maxWords = Math.max(maxWords, words.length);
      } else if (w) {
        const c = w.charCodeAt(0);
        const list = this.byFirst.get(c) ?? [];
        if (!list.includes(w)) list.push(w);
        this.byFirst.set(c, list);
        this.firstMask[c] = 1;
        if (c >= 97 && c <= 122) { this.byFirst.set(c - 32, list); this.firstMask[c - 32] = 1; }
      }
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.length - a.length);
    this.maxPhraseWords = maxWords;
  }

  /** Lexicon hits and whitespace-separated words in `text`. */
  score(text: string): { hits: number; words: number } {
    let hits = 0, words = 0;
    let inWord = false;
    // The last few ASCII words, newest first, for multi-word entries; a non-ASCII character breaks a phrase.
    const K = this.maxPhraseWords;
    const starts = new Int32Array(K), hashes = new Int32Array(K);
    let run = 0;
    let wordStart = -1, h = FNV;
    const mask = this.firstMask;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 32;
      if (c === 32 || c === 10 || c === 9) inWord = false;
      else if (!inWord) { words++; inWord = true; }
      if (mask[c] === 1) {
        const w = this.substringAt(text, i);
        if (w) {
          hits++;
          for (let k = w.indexOf(' '); k !== -1; k = w.indexOf(' ', k + 1)) words++;
          i += w.length - 1;
          wordStart = -1;
          run = 0;
          continue;
        }
      }
      if (isAsciiAlnum(c)) {
        if (wordStart < 0) { wordStart = i; h = FNV; }
        h = Math.imul(h ^ fold(c), 0x01000193);
        continue;
      }
      if (wordStart >= 0) {
        for (let k = K - 1; k > 0; k--) { starts[k] = starts[k - 1]; hashes[k] = hashes[k - 1]; }
        starts[0] = wordStart;
        hashes[0] = h;
        if (run < K) run++;
        if (this.matchEndingAt(text, starts, hashes, run, i)) hits++;
        wordStart = -1;
      }
      if (c >= 128) run = 0;
    }
    return { hits, words };
  }

  /** Whether the last 1..n ASCII words (newest first in starts/hashes, ending at `end`) form an entry. */
  private matchEndingAt(text: string, starts: Int32Array, hashes: Int32Array, n: number, end: number): boolean {
    // A 64K-bit filter on each word's hash rejects almost every word with a single array load.
    if (this.singleFilter[hashes[0] >>> 16] && this.wordHashes.has(hashes[0]) &&
      this.phrases.has(text.slice(starts[0], end).toLowerCase())) return true;
    for (let len = 2; len <= n; len++) {
      if (!this.startFilter[hashes[len - 1] >>> 16]) continue;
      let h = PHRASE_SEED;
      for (let k = 0; k < len; k++) h = extendPhrase(h, hashes[k]);
      if (!this.phraseHashes.has(h)) continue;
      const phrase = text.slice(starts[len - 1], end).toLowerCase().split(/[^a-z0-9]+/).join(' ');
      if (this.phrases.has(phrase)) return true;
    }
    return false;
  }

  /** The longest substring entry at position i (ASCII case folded), if any. */
  private substringAt(text: string, i: number): string | undefined {
    next: for (const w of this.byFirst.get(text.charCodeAt(i))!) {
      if (i + w.length > text.length) continue;
      for (let j = 1; j < w.length; j++) if (fold(text.charCodeAt(i + j)) !== w.charCodeAt(j)) continue next;
      return w;
    }
    return undefined;
  }

  /** The drop reason, or undefined when the document passes. */
  check(text: string): string | undefined {
    const { hits, words } = this.score(text);
    return hits >= this.opts.minHits && hits >= words * this.opts.maxHitRatio ? 'profanity' : undefined;
  }
}
