/**
 * Language identification from script statistics: which of Korean, English (Latin script), code or something else a
 * text is written in. One letter counter serves every caller; what differs is the question asked:
 *
 *   identifyLanguage  a corpus document: ko / en / code / other (data pipeline, stage 2)
 *   answerLanguage    the language a chat answer is written in: ko / en / none (alignment evaluation)
 *   scriptLanguage    a coarse label by Unicode script properties, every script counted (tokenizer statistics)
 *
 * Their thresholds differ on purpose and are part of published numbers (corpus language shares, language-match rates,
 * chars per token), so each keeps its own rule.
 */
import { isCompatibilityJamo, isConjoiningJamo, isHangulSyllable } from './hangul.js';

/** Labels of corpus documents. `en` stands for Latin-script text (English and other). */
export type DocumentLanguage = 'ko' | 'en' | 'code' | 'other';

export interface LangIdOptions {
  /** A Hangul syllable carries about as much text as 2-3 Latin letters; this weight makes the scripts comparable. */
  hangulWeight: number;
  /** Documents with fewer letters than this (in the sampled prefix) are `other`. */
  minLetters: number;
  /** Fraction of non-blank lines that must look like code for an undeclared document to be `code`. */
  codeLineRatio: number;
  /** Minimum number of non-blank lines for the code heuristic to apply. */
  minCodeLines: number;
  /** Only the first this-many characters are examined; long documents do not need more to be identified. */
  sampleChars: number;
}

export const defaultLangId: LangIdOptions = {
  hangulWeight: 2.5, minLetters: 5, codeLineRatio: 0.5, minCodeLines: 5, sampleChars: 20000,
};

export interface ScriptCounts {
  /** Hangul letters: syllables, conjoining jamo and compatibility jamo. */
  hangul: number;
  /** Latin letters: ASCII plus Latin-1 and the Latin Extended blocks. */
  latin: number;
  /** Letters of other scripts (Greek to Ethiopic, kana, CJK ideographs). */
  otherLetters: number;
  /** Of `hangul`, the precomposed syllables (가…힣). */
  hangulSyllables: number;
  /** Of `latin`, the ASCII letters. */
  asciiLetters: number;
}

/** Letters per script in the first `limit` characters of `text`. */
export function countScripts(text: string, limit = text.length): ScriptCounts {
  let hangul = 0, latin = 0, otherLetters = 0, hangulSyllables = 0, asciiLetters = 0;
  const n = Math.min(limit, text.length);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) {
        latin++;
        asciiLetters++;
      }
    } else if (isHangulSyllable(c)) {
      hangul++;
      hangulSyllables++;
    } else if (isConjoiningJamo(c) || isCompatibilityJamo(c)) {
      hangul++;
    } else if ((c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || (c >= 0x1e00 && c <= 0x1eff)) {
      latin++;
    } else if (
      (c >= 0x370 && c <= 0x1fff) || (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff)
    ) {
      otherLetters++;
    }
  }
  return { hangul, latin, otherLetters, hangulSyllables, asciiLetters };
}

const CODE_EXTENSIONS = new Set([
  'c', 'h', 'cc', 'cpp', 'hpp', 'cs', 'go', 'rs', 'py', 'pyi', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'java', 'kt',
  'scala', 'rb', 'php', 'swift', 'm', 'sh', 'bash', 'pl', 'pm', 'lua', 'r', 'sql', 'hs', 'ml', 'ex', 'erl', 'zig',
]);

/** Code by file metadata: a `path`/`filename` field with a source-code extension. */
export function isCodePath(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  const dot = path.lastIndexOf('.');
  return dot > 0 && CODE_EXTENSIONS.has(path.slice(dot + 1).toLowerCase());
}

// A line "looks like code" when it ends like a statement/block or starts like a declaration or comment.
const CODE_LINE = /(?:[;{}]|\)\s*:?|=>|:=)\s*$|^\s*(?:#include|#define|#!|\/\/|\/\*|\*\/|import |from \S+ import|package |def |class |func |fn |pub |let |const |var |return\b|if \(|for \(|while \(|@\w+)/;

/** Non-blank lines in the first `limit` characters, and the share of them that look like code. */
export function codeLineFraction(text: string, limit: number): { lines: number; fraction: number } {
  let lines = 0, code = 0;
  let start = 0;
  const end = Math.min(limit, text.length);
  while (start < end) {
    let nl = text.indexOf('\n', start);
    if (nl === -1 || nl > end) nl = end;
    const line = text.slice(start, nl);
    if (line.trim()) {
      lines++;
      if (CODE_LINE.test(line)) code++;
    }
    start = nl + 1;
  }
  return { lines, fraction: lines ? code / lines : 0 };
}

/** A corpus document's label; a mixed document gets the label of its dominant script. */
export function identifyLanguage(text: string, opts: LangIdOptions = defaultLangId, meta?: Record<string, unknown>): DocumentLanguage {
  if (meta && (isCodePath(meta.path) || isCodePath(meta.filename))) return 'code';
  const { lines, fraction } = codeLineFraction(text, opts.sampleChars);
  if (lines >= opts.minCodeLines && fraction >= opts.codeLineRatio) return 'code';
  const s = countScripts(text, opts.sampleChars);
  const ko = s.hangul * opts.hangulWeight;
  if (s.hangul + s.latin + s.otherLetters < opts.minLetters) return 'other';
  if (ko >= s.latin && ko >= s.otherLetters) return 'ko';
  return s.latin >= s.otherLetters ? 'en' : 'other';
}

/** About three ASCII letters carry what one Hangul syllable does. */
const ASCII_LETTERS_PER_SYLLABLE = 3;

/**
 * The language an answer is written in: 'ko' / 'en' by the share of Hangul syllables vs ASCII letters, with fenced
 * code blocks ignored (a Korean answer may hold English code); 'none' without such letters.
 */
export function answerLanguage(text: string): 'ko' | 'en' | 'none' {
  const prose = text.replace(/```[\s\S]*?(```|$)/g, ' ');
  const s = countScripts(prose);
  const ko = s.hangulSyllables;
  const en = s.asciiLetters / ASCII_LETTERS_PER_SYLLABLE;
  if (ko + en === 0) return 'none';
  return ko >= en ? 'ko' : 'en';
}

const HANGUL_SCRIPT = /\p{Script=Hangul}/gu;
const LETTER = /\p{L}/gu;
const LATIN_SCRIPT = /\p{Script=Latin}/gu;

/**
 * A coarse label from the script mix, every Unicode letter counted: ko when ≥ 30% of letters are Hangul, en when
 * ≥ 50% are Latin, else other.
 */
export function scriptLanguage(text: string): 'ko' | 'en' | 'other' {
  const letters = text.match(LETTER)?.length ?? 0;
  if (letters === 0) return 'other';
  if ((text.match(HANGUL_SCRIPT)?.length ?? 0) >= 0.3 * letters) return 'ko';
  return (text.match(LATIN_SCRIPT)?.length ?? 0) >= 0.5 * letters ? 'en' : 'other';
}
