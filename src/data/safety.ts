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

export class SafetyFilter {
  /** Substring entries indexed by their first UTF-16 unit, longest first. */
  private readonly byFirst = new Map<number, string[]>();
  private readonly firstMask = new Uint8Array(65536);
  /** Whole-word entries, lower-case, words joined by single spaces. */
  private readonly phrases = new Set<string>();
  private readonly phraseStarts = new Set<string>();
  private readonly maxPhraseWords: number;

  constructor(readonly opts: SafetyOptions = defaultSafety, lexicons: Lexicons = loadLexicons(opts.lexiconDir)) {
    const whole = [...lexicons.en, ...Object.entries(lexicons.cuss).filter(([, r]) => r >= opts.cussMinRating).map(([w]) => w)];
    let maxWords = 1;
    for (const raw of [...lexicons.ko, ...whole]) {
      const w = raw.trim().toLowerCase();
      if (!w) continue;
      if (/^[\x00-\x7f]+$/.test(w)) {
        const words = w.split(/[^a-z0-9]+/).filter(Boolean);
        if (!words.length) continue;
        this.phrases.add(words.join(' '));
        if (words.length > 1) this.phraseStarts.add(words[0]);
        maxWords = Math.max(maxWords, words.length);
      } else {
        const c = w.charCodeAt(0);
        const list = this.byFirst.get(c) ?? [];
        if (!list.includes(w)) list.push(w);
        this.byFirst.set(c, list);
        this.firstMask[c] = 1;
      }
    }
    for (const list of this.byFirst.values()) list.sort((a, b) => b.length - a.length);
    this.maxPhraseWords = maxWords;
  }

  /** Lexicon hits and whitespace-separated words in `text`. */
  score(text: string): { hits: number; words: number } {
    let hits = 0, words = 0;
    const lower = text.toLowerCase();
    const recent: string[] = [];
    let inWord = false, asciiStart = -1;
    for (let i = 0; i <= lower.length; i++) {
      const c = i < lower.length ? lower.charCodeAt(i) : 32;
      if (c === 32 || c === 10 || c === 9) inWord = false;
      else if (!inWord) { words++; inWord = true; }
      const w = this.firstMask[c] ? this.substringAt(lower, i) : undefined;
      if (w) {
        if (asciiStart >= 0) hits += this.matchWord(lower.slice(asciiStart, i), recent);
        asciiStart = -1;
        hits++;
        for (let k = w.indexOf(' '); k !== -1; k = w.indexOf(' ', k + 1)) words++;
        i += w.length - 1;
        continue;
      }
      if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
        if (asciiStart < 0) asciiStart = i;
        continue;
      }
      if (asciiStart >= 0) {
        hits += this.matchWord(lower.slice(asciiStart, i), recent);
        asciiStart = -1;
      }
      // ASCII punctuation and spaces do not break a phrase ("ball-gag"); other scripts do.
      if (c >= 128) recent.length = 0;
    }
    return { hits, words };
  }

  private substringAt(text: string, i: number): string | undefined {
    for (const w of this.byFirst.get(text.charCodeAt(i))!) if (text.startsWith(w, i)) return w;
    return undefined;
  }

  private matchWord(word: string, recent: string[]): number {
    recent.push(word);
    if (recent.length > this.maxPhraseWords) recent.shift();
    if (this.phrases.has(word)) return 1;
    // Multi-word entries ending at this word; only built when an earlier word can start one.
    for (let k = recent.length - 2; k >= 0; k--) {
      if (this.phraseStarts.has(recent[k]) && this.phrases.has(recent.slice(k).join(' '))) return 1;
    }
    return 0;
  }

  /** The drop reason, or undefined when the document passes. */
  check(text: string): string | undefined {
    const { hits, words } = this.score(text);
    return hits >= this.opts.minHits && hits >= words * this.opts.maxHitRatio ? 'profanity' : undefined;
  }
}
