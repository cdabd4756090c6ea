/**
 * HF pre-tokenizers: Split (any regex or string; Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous;
 * invert), ByteLevel (with or without its regex, add_prefix_space), Digits, Metaspace, Punctuation, Whitespace,
 * WhitespaceSplit, Sequence. Each turns a list of pieces into a finer list; empty pieces are dropped, as HF does.
 */
import { QWEN2_SPLIT_PATTERN, QWEN2_SPLIT_REGEX } from '../pretokenize.js';
import { literalRegExp, NEWER_CLASS, NEWER_CODE_POINT, onigurumaRegExps, translateOniguruma, WS_CLASS_BODY } from './regex.js';
import type { Json, JsonReader } from './json.js';

/** Splits `piece` (the `first` piece of the text when `first`) and appends the results to `out`. */
export type PreTokenizer = (piece: string, first: boolean, out: string[]) => void;

export interface PreTokenizerInfo {
  run: PreTokenizer;
  /** A ByteLevel pre-tokenizer is present: the model sees UTF-8 bytes. */
  byteLevel: boolean;
  /** The whole pre-tokenizer is one Isolated split by this global regex whose matches tile every text. */
  tilingRegex?: RegexPair;
}

export const PRE_TOKENIZERS = [
  'Split',
  'ByteLevel',
  'Digits',
  'Metaspace',
  'Punctuation',
  'Whitespace',
  'WhitespaceSplit',
  'Sequence',
] as const;
const BEHAVIORS = ['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'] as const;
type Behavior = (typeof BEHAVIORS)[number];

/** GPT-2's split, run by ByteLevel with use_regex. */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** A translated pattern: `exact` for any text, `fast` for text without a NEWER_CODE_POINT (see regex.ts). */
export interface RegexPair {
  exact: RegExp;
  fast: RegExp;
}

/** The regex of the pair to run on `s`. */
export function pick(pair: RegexPair, s: string): RegExp {
  return pair.exact === pair.fast || !NEWER_CODE_POINT.test(s) ? pair.fast : pair.exact;
}

/** A matcher's own copy of a pair (global regexes carry lastIndex), one object when both sides are the same regex. */
function ownCopy(re: RegexPair): RegexPair {
  const exact = new RegExp(re.exact);
  return { exact, fast: re.fast === re.exact ? exact : new RegExp(re.fast) };
}

/** Segments [start, end, isMatch] of `s`: what HF's find_matches returns for a pattern. */
type Matcher = (s: string) => [number, number, boolean][];

function regexMatcher(re: RegexPair): Matcher {
  const pair = ownCopy(re);
  return (s) => {
    const out: [number, number, boolean][] = [];
    if (!s) return [[0, 0, false]];
    const r = pick(pair, s);
    r.lastIndex = 0;
    let prev = 0;
    for (let m = r.exec(s); m !== null; m = r.exec(s)) {
      const start = m.index;
      const end = start + m[0].length;
      if (prev !== start) out.push([prev, start, false]);
      out.push([start, end, true]);
      prev = end;
      if (end === start) r.lastIndex = end + (s.codePointAt(end)! > 0xffff ? 2 : 1);
    }
    if (prev !== s.length) out.push([prev, s.length, false]);
    return out;
  };
}

/** Every char for which `test` holds is a match of its own. */
function charMatcher(test: (c: string) => boolean): Matcher {
  return (s) => {
    const out: [number, number, boolean][] = [];
    let i = 0;
    let runStart = 0;
    for (const c of s) {
      if (test(c)) {
        if (runStart < i) out.push([runStart, i, false]);
        out.push([i, i + c.length, true]);
        runStart = i + c.length;
      }
      i += c.length;
    }
    if (runStart < s.length) out.push([runStart, s.length, false]);
    return out;
  };
}

/** An Isolated split by a regex without the segment list: matches and the text between them, empty ones dropped. */
function isolatedRegexSplit(re: RegexPair): (s: string, out: string[]) => void {
  const pair = ownCopy(re);
  return (s, out) => {
    const r = pick(pair, s);
    r.lastIndex = 0;
    let prev = 0;
    for (let m = r.exec(s); m !== null; m = r.exec(s)) {
      const start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        if (prev !== start) out.push(s.slice(prev, start));
        prev = start;
        r.lastIndex = end + (s.codePointAt(end)! > 0xffff ? 2 : 1);
        continue;
      }
      if (prev !== start) out.push(s.slice(prev, start));
      out.push(m[0]);
      prev = end;
    }
    if (prev !== s.length) out.push(s.slice(prev));
  };
}

/** HF's NormalizedString::split: applies the behaviour to the segments and keeps the non-empty pieces. */
function splitWith(match: Matcher, behavior: Behavior, invert: boolean): (s: string, out: string[]) => void {
  return (s, out) => {
    let segs = match(s);
    if (invert) segs = segs.map(([a, b, m]) => [a, b, !m]);
    const pieces: [number, number][] = [];
    switch (behavior) {
      case 'Isolated':
        for (const [a, b] of segs) pieces.push([a, b]);
        break;
      case 'Removed':
        for (const [a, b, m] of segs) if (!m) pieces.push([a, b]);
        break;
      case 'MergedWithPrevious': {
        let prevMatch = false;
        for (const [a, b, m] of segs) {
          if (m && !prevMatch && pieces.length) pieces[pieces.length - 1]![1] = b;
          else pieces.push([a, b]);
          prevMatch = m;
        }
        break;
      }
      case 'MergedWithNext': {
        let prevMatch = false;
        for (let k = segs.length - 1; k >= 0; k--) {
          const [a, b, m] = segs[k]!;
          if (m && !prevMatch && pieces.length) pieces[pieces.length - 1]![0] = a;
          else pieces.push([a, b]);
          prevMatch = m;
        }
        pieces.reverse();
        break;
      }
      default: {
        let prevMatch: boolean | undefined;
        for (const [a, b, m] of segs) {
          if (m === prevMatch && pieces.length) pieces[pieces.length - 1]![1] = b;
          else pieces.push([a, b]);
          prevMatch = m;
        }
      }
    }
    for (const [a, b] of pieces) if (b > a) out.push(s.slice(a, b));
  };
}

const isWhitespace = new RegExp(`^[${WS_CLASS_BODY}]$`, 'u');
const isNumeric = /^\p{N}$/u;
const isPunctuation = /^[\p{P}!-/:-@[-`{-~]$/u;

function splitRegex(pattern: string, where: string): RegexPair {
  if (pattern === QWEN2_SPLIT_PATTERN) return { exact: new RegExp(QWEN2_SPLIT_REGEX), fast: new RegExp(translateOniguruma(pattern, where, false), 'gv') };
  return onigurumaRegExps(pattern, where);
}

function same(re: RegExp): RegexPair {
  return { exact: re, fast: re };
}

export function buildPreTokenizer(v: unknown, field: string, r: JsonReader): PreTokenizerInfo | undefined {
  if (v == null) return undefined;
  const o = r.obj(v, field);
  const type = r.type(o, field, PRE_TOKENIZERS);
  const behaviorOf = (dflt: Behavior): Behavior => {
    const b = o.behavior ?? dflt;
    if (typeof b !== 'string' || !(BEHAVIORS as readonly string[]).includes(b)) {
      r.fail(`${field}.behavior`, `is ${JSON.stringify(b)}; supported: ${BEHAVIORS.join(', ')}`);
    }
    return b as Behavior;
  };
  const simple = (split: (s: string, out: string[]) => void): PreTokenizerInfo => ({
    run: (piece, _first, out) => split(piece, out),
    byteLevel: false,
  });
  switch (type) {
    case 'Split': {
      const p = r.pattern(o.pattern, `${field}.pattern`);
      const behavior = behaviorOf('Isolated');
      const invert = o.invert === true;
      const re = 'string' in p ? same(literalRegExp(p.string)) : splitRegex(p.regex, `${r.file}: field ${field}.pattern.Regex`);
      const info = simple(behavior === 'Isolated' && !invert ? isolatedRegexSplit(re) : splitWith(regexMatcher(re), behavior, invert));
      if ((behavior === 'Isolated' && !invert) || (behavior === 'Removed' && invert)) info.tilingRegex = re;
      return info;
    }
    case 'ByteLevel': {
      const addPrefixSpace = o.add_prefix_space === true;
      const split = o.use_regex !== false ? isolatedRegexSplit(onigurumaRegExps(GPT2_PATTERN, 'ByteLevel')) : undefined;
      return {
        run: (piece, _first, out) => {
          if (addPrefixSpace && !piece.startsWith(' ')) piece = ' ' + piece;
          if (split) split(piece, out);
          else if (piece) out.push(piece);
        },
        byteLevel: true,
      };
    }
    case 'Digits':
      return simple(splitWith(charMatcher((c) => isNumeric.test(c)), o.individual_digits === true ? 'Isolated' : 'Contiguous', false));
    case 'Punctuation':
      return simple(splitWith(charMatcher((c) => isPunctuation.test(c)), behaviorOf('Isolated'), false));
    case 'Whitespace': {
      // The Rust peer's `\w+|[^\w\s]+` (regex crate), whose older Unicode tables lack the code points in NEWER_CLASS.
      const word = `[[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}]--${NEWER_CLASS}]`;
      const re = new RegExp(`${word}+|[^${word}[${WS_CLASS_BODY}]]+`, 'gv');
      return simple(splitWith(regexMatcher(same(re)), 'Removed', true));
    }
    case 'WhitespaceSplit':
      return simple(splitWith(charMatcher((c) => isWhitespace.test(c)), 'Removed', false));
    case 'Metaspace': {
      const replacement = typeof o.replacement === 'string' ? o.replacement : '▁';
      const scheme = o.prepend_scheme ?? (o.add_prefix_space === false ? 'never' : 'always');
      if (scheme !== 'always' && scheme !== 'first' && scheme !== 'never') {
        r.fail(`${field}.prepend_scheme`, `is ${JSON.stringify(scheme)}; supported: always, first, never`);
      }
      const split = o.split !== false ? splitWith(charMatcher((c) => c === replacement), 'MergedWithNext', false) : undefined;
      return {
        run: (piece, first, out) => {
          piece = piece.replaceAll(' ', replacement);
          if ((scheme === 'always' || (scheme === 'first' && first)) && !piece.startsWith(replacement)) piece = replacement + piece;
          if (split) split(piece, out);
          else if (piece) out.push(piece);
        },
        byteLevel: false,
      };
    }
    default: {
      const list = r
        .arr(o.pretokenizers, `${field}.pretokenizers`)
        .map((p, i) => buildPreTokenizer(p, `${field}.pretokenizers[${i}]`, r))
        .filter((p): p is PreTokenizerInfo => p !== undefined);
      if (list.length === 0) return undefined;
      const byteLevel = list.some((p) => p.byteLevel);
      const info: PreTokenizerInfo = {
        run: (piece, first, out) => {
          let pieces = [piece];
          // Only the first piece of the first split is still at the start of the text.
          for (let k = 0; k < list.length; k++) {
            const p = list[k]!;
            const next: string[] = k === list.length - 1 ? out : [];
            for (let i = 0; i < pieces.length; i++) p.run(pieces[i]!, first && i === 0, next);
            pieces = next;
          }
        },
        byteLevel,
      };
      // Split(Isolated) then a ByteLevel that neither splits nor prefixes: one regex does it all.
      const [split, bl] = list;
      const blJson = (r.arr(o.pretokenizers, field) as Json[]).filter((p) => p != null);
      if (list.length === 2 && split!.tilingRegex && bl!.byteLevel && blJson[1]?.use_regex === false && blJson[1]?.add_prefix_space !== true) {
        info.tilingRegex = split!.tilingRegex;
      }
      if (list.length === 1) return list[0];
      return info;
    }
  }
}
