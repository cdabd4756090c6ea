/**
 * Stage 2: Korean / English (Latin script) / code / other, from script statistics and code heuristics.
 * A mixed document gets the label of its dominant script.
 */
import type { Lang } from './types.js';

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

export interface ScriptCounts { hangul: number; latin: number; otherLetters: number; }

export function countScripts(text: string, limit = text.length): ScriptCounts {
  let hangul = 0, latin = 0, otherLetters = 0;
  const n = Math.min(limit, text.length);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) latin++;
    } else if ((c >= 0xac00 && c <= 0xd7a3) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3130 && c <= 0x318f)) {
      hangul++;
    } else if ((c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || (c >= 0x1e00 && c <= 0x1eff)) {
      latin++;
    } else if (
      (c >= 0x370 && c <= 0x1fff) || (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x9fff) || (c >= 0xf900 && c <= 0xfaff)
    ) {
      otherLetters++;
    }
  }
  return { hangul, latin, otherLetters };
}

// A line "looks like code" when it ends like a statement/block or starts like a declaration or comment.
const CODE_LINE = /(?:[;{}]|\)\s*:?|=>|:=)\s*$|^\s*(?:#include|#define|#!|\/\/|\/\*|\*\/|import |from \S+ import|package |def |class |func |fn |pub |let |const |var |return\b|if \(|for \(|while \(|@\w+)/;

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

export function identifyLanguage(text: string, opts: LangIdOptions = defaultLangId, meta?: Record<string, unknown>): Lang {
  if (meta && (isCodePath(meta.path) || isCodePath(meta.filename))) return 'code';
  const { lines, fraction } = codeLineFraction(text, opts.sampleChars);
  if (lines >= opts.minCodeLines && fraction >= opts.codeLineRatio) return 'code';
  const s = countScripts(text, opts.sampleChars);
  const ko = s.hangul * opts.hangulWeight;
  if (s.hangul + s.latin + s.otherLetters < opts.minLetters) return 'other';
  if (ko >= s.latin && ko >= s.otherLetters) return 'ko';
  return s.latin >= s.otherLetters ? 'en' : 'other';
}
