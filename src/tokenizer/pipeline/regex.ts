/**
 * Oniguruma patterns (what HF tokenizers' Rust build runs for `Split` and `Replace` regexes) translated to V8 RegExps
 * with the `v` flag. What differs and is translated:
 * - `(?i:…)` groups (Node 20 has no modifier groups): each letter inside becomes the class of every code point that
 *   simple case folding equates with it (`s` → `[sSſ]`, `k` → `[kKK]`);
 * - possessive quantifiers `?+ *+ ++ {n,m}+`: an atomic group emulated with a lookahead and a backreference;
 * - `\s` / `\S`: Oniguruma's whitespace is Unicode White_Space (U+0085 in, U+FEFF out);
 * - `\p{…}`: letters and digits that Node's newer Unicode tables know but the Rust peer's do not are taken out, so
 *   both split the same; script names (`\p{Han}`) become `\p{Script=Han}`;
 * - `.` does not match `\n` only (V8's also refuses `\r`, U+2028, U+2029);
 * - class syntax: characters that `v` reserves inside classes are escaped.
 */
import { KolmError } from '../../util/errors.js';

/** Unicode White_Space, Oniguruma's `\s`, as class contents. */
export const WS_CLASS_BODY = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * Letters and digits that Node's ICU (Unicode 16/17) knows but the Rust peer's Oniguruma tables do not; the peer
 * treats them as unassigned. Found by comparing every code point against `@anush008/tokenizers`.
 */
export const NEWER_LETTERS =
  '\\u088f\\u0c5c\\u0cdc\\ua7ce\\ua7cf\\ua7d2\\ua7d4\\ua7f1\\u{10940}-\\u{10959}\\u{10ec5}-\\u{10ec7}\\u{11db0}-\\u{11ddb}' +
  '\\u{16ea0}-\\u{16eb8}\\u{16ebb}-\\u{16ed3}\\u{16ff2}\\u{16ff3}\\u{187f8}-\\u{187ff}\\u{18d09}-\\u{18d1e}\\u{18d80}-\\u{18df2}' +
  '\\u{1e6c0}-\\u{1e6de}\\u{1e6e0}-\\u{1e6e2}\\u{1e6e4}\\u{1e6e5}\\u{1e6e7}-\\u{1e6ed}\\u{1e6f0}-\\u{1e6f4}\\u{1e6fe}\\u{1e6ff}' +
  '\\u{2b73a}-\\u{2b73f}\\u{2cea2}-\\u{2cead}\\u{323b0}-\\u{33479}';
export const NEWER_DIGITS = '\\u{11de0}-\\u{11de9}\\u{16ff4}-\\u{16ff6}';
/** Marks, symbols and punctuation the Rust peer's tables also lack (found the same way, with GPT-4o's and DeepSeek-V3's splits). */
export const NEWER_OTHERS =
  '\\u{1acf}-\\u{1add}\\u{1ae0}-\\u{1aeb}\\u{20c1}\\u{2b96}\\u{fbc3}-\\u{fbd2}\\u{fd90}-\\u{fd91}\\u{fdc8}-\\u{fdce}\\u{10ed0}-\\u{10ed8}\\u{10efa}-\\u{10efb}\\u{11b60}-\\u{11b67}\\u{1ccfa}-\\u{1ccfc}\\u{1ceba}-\\u{1ced0}\\u{1cee0}-\\u{1cef0}\\u{1e6e3}\\u{1e6e6}\\u{1e6ee}-\\u{1e6ef}\\u{1e6f5}\\u{1f6d8}\\u{1f777}-\\u{1f77a}\\u{1f8d0}-\\u{1f8d8}\\u{1fa54}-\\u{1fa57}\\u{1fa8a}\\u{1fa8e}\\u{1fac8}\\u{1facd}\\u{1faea}\\u{1faef}\\u{1fbfa}';
/** Every code point the Rust peer's tables lack, as a `v`-mode class. */
export const NEWER_CLASS = `[${NEWER_LETTERS}${NEWER_DIGITS}${NEWER_OTHERS}]`;
const NEWER = NEWER_CLASS;

/** Characters written with a backslash inside a `v`-mode class. */
const CLASS_RESERVED = new Set('&-!#%,:;<=>@`~^$\\.*+?()[]{}|/');
/** Characters written with a backslash outside classes. */
const SYNTAX = new Set('^$\\.*+?()[]{}|/');

const foldCache = new Map<string, string[]>();

/** Every code point that case-insensitively equals `c` under simple case folding (what Oniguruma's (?i) uses). */
function caseVariants(c: string): string[] {
  let hit = foldCache.get(c);
  if (hit) return hit;
  const re = new RegExp(`^${SYNTAX.has(c) ? '\\' + c : c}$`, 'iu');
  const out = new Set<string>([c]);
  const candidates = [c.toLowerCase(), c.toUpperCase(), '\u017f', '\u212a', '\u212b', '\u1e9e', '\u0345', '\u03c2', '\u1fbe'];
  for (const x of candidates) if ([...x].length === 1 && re.test(x)) out.add(x);
  for (let cp = 0; cp < 0x600; cp++) {
    const x = String.fromCodePoint(cp);
    if (re.test(x)) out.add(x);
  }
  hit = [...out];
  foldCache.set(c, hit);
  return hit;
}

function classChar(c: string): string {
  return CLASS_RESERVED.has(c) ? '\\' + c : c;
}

function property(name: string, negated: boolean, where: string, subtract = true): string {
  let body = `\\p{${name}}`;
  try {
    new RegExp(body, 'v');
  } catch {
    body = `\\p{Script=${name}}`;
    try {
      new RegExp(body, 'v');
    } catch {
      throw new KolmError(`${where}: unknown Unicode property \\p{${name}}`);
    }
  }
  if (!subtract) return negated ? `[^${body}]` : `[${body}]`;
  return `[${negated ? '^' : ''}${body}--${NEWER}]`;
}

/** Matches any code point that `\\p{…}` classes leave out for the Rust peer's sake. */
export const NEWER_CODE_POINT = new RegExp(NEWER, 'v');

/** Translates an Oniguruma pattern to a V8 `v`-flag pattern source. `where` names the file and field for errors. */
export function translateOniguruma(src: string, where: string, subtract = true): string {
  const cps = [...src];
  let i = 0;
  let groupCounter = 0;
  const fail = (what: string): never => {
    throw new KolmError(`${where}: regex ${JSON.stringify(src)}: ${what} is not supported`);
  };

  /** Parses a `\x` escape at cps[i] (the backslash); returns [kind, text] where text is a V8 spelling. */
  const escape = (inClass: boolean): { single?: string; set?: string } => {
    const c = cps[i + 1];
    if (c === undefined) fail('a trailing backslash');
    i += 2;
    switch (c) {
      case 's':
        return { set: inClass ? WS_CLASS_BODY : `[${WS_CLASS_BODY}]` };
      case 'S':
        return { set: `[^${WS_CLASS_BODY}]` };
      case 'd':
        return { set: property('Nd', false, where, subtract) };
      case 'D':
        return { set: `[^${property('Nd', false, where, subtract)}]` };
      case 'w':
        return { set: `[${property('L', false, where, subtract)}${property('M', false, where, subtract)}${property('Nd', false, where, subtract)}\\p{Pc}]` };
      case 'p':
      case 'P': {
        if (cps[i] !== '{') fail(`\\${c} without {…}`);
        const end = cps.indexOf('}', i);
        if (end < 0) fail(`an unterminated \\${c}{`);
        let name = cps.slice(i + 1, end).join('');
        let negated = c === 'P';
        if (name.startsWith('^')) {
          negated = !negated;
          name = name.slice(1);
        }
        i = end + 1;
        return { set: property(name, negated, where, subtract) };
      }
      case 'n':
      case 'r':
      case 't':
      case 'f':
      case 'v':
        return { single: '\\' + c };
      case 'x':
      case 'u': {
        if (cps[i] === '{') {
          const end = cps.indexOf('}', i);
          const hex = cps.slice(i + 1, end).join('');
          i = end + 1;
          return { single: `\\u{${hex}}` };
        }
        const len = c === 'x' ? 2 : 4;
        const hex = cps.slice(i, i + len).join('');
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail(`\\${c}${hex}`);
        i += len;
        return { single: `\\u{${hex}}` };
      }
      default:
        if (/[A-Za-z0-9]/.test(c!)) fail(`the escape \\${c}`);
        return { single: inClass ? classChar(c!) : SYNTAX.has(c!) || c === '-' ? '\\' + c : c! };
    }
  };

  const cls = (caseless: boolean): string => {
    // cps[i] === '['
    i++;
    let out = '[';
    if (cps[i] === '^') {
      out += '^';
      i++;
    }
    let first = true;
    while (i < cps.length && (cps[i] !== ']' || first)) {
      first = false;
      const c = cps[i]!;
      if (c === '[') {
        out += cls(caseless);
        continue;
      }
      if (c === '&' && cps[i + 1] === '&') fail('class intersection (&&)');
      let single: string | undefined;
      if (c === '\\') {
        const e = escape(true);
        if (e.set !== undefined) {
          out += e.set;
          continue;
        }
        single = e.single!;
      } else {
        single = classChar(c);
        i++;
      }
      if (cps[i] === '-' && cps[i + 1] !== undefined && cps[i + 1] !== ']') {
        i++;
        let hi: string;
        if (cps[i] === '\\') {
          const e = escape(true);
          if (e.set !== undefined) fail('a range ending in a class escape');
          hi = e.single!;
        } else {
          hi = classChar(cps[i]!);
          i++;
        }
        out += `${single}-${hi}`;
      } else if (caseless && /\p{L}/u.test(c)) {
        out += caseVariants(c).map(classChar).join('');
      } else {
        out += single;
      }
    }
    if (cps[i] !== ']') fail('an unterminated [');
    i++;
    return out + ']';
  };

  const parse = (caseless: boolean, inGroup: boolean): string => {
    let out = '';
    let atomStart = -1;
    while (i < cps.length) {
      const c = cps[i]!;
      if (c === ')') {
        if (!inGroup) fail('an unmatched )');
        return out;
      }
      if (c === '|') {
        out += '|';
        i++;
        atomStart = -1;
        continue;
      }
      if (c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d*,?\d*\}/.test(cps.slice(i, i + 12).join('')))) {
        if (atomStart < 0) fail('a quantifier with nothing to repeat');
        let q: string;
        if (c === '{') {
          const end = cps.indexOf('}', i);
          q = cps.slice(i, end + 1).join('');
          i = end + 1;
        } else {
          q = c;
          i++;
        }
        if (cps[i] === '+') {
          // Possessive: (?=(?<pN>atom q))\k<pN> matches what the greedy loop takes and never gives any back.
          i++;
          const name = `kolmPossessive${groupCounter++}`;
          out = out.slice(0, atomStart) + `(?=(?<${name}>${out.slice(atomStart)}${q}))\\k<${name}>`;
        } else {
          if (cps[i] === '?') {
            q += '?';
            i++;
          }
          out += q;
        }
        atomStart = -1;
        continue;
      }
      atomStart = out.length;
      if (c === '(') {
        i++;
        let open = '(';
        let ci = caseless;
        if (cps[i] === '?') {
          const rest = cps.slice(i, i + 4).join('');
          if (rest.startsWith('?i:')) {
            open = '(?:';
            ci = true;
            i += 3;
          } else if (rest.startsWith('?-i:')) {
            open = '(?:';
            ci = false;
            i += 4;
          } else if (rest.startsWith('?:') || rest.startsWith('?=') || rest.startsWith('?!')) {
            open = '(' + rest.slice(0, 2);
            i += 2;
          } else if (rest.startsWith('?<=') || rest.startsWith('?<!')) {
            open = '(' + rest.slice(0, 3);
            i += 3;
          } else {
            fail(`the group (${rest}…`);
          }
        } else {
          open = '(?:';
        }
        const body = parse(ci, true);
        if (cps[i] !== ')') fail('an unterminated (');
        i++;
        out += open + body + ')';
        continue;
      }
      if (c === '[') {
        out += cls(caseless);
        continue;
      }
      if (c === '\\') {
        const e = escape(false);
        out += e.set ?? e.single!;
        continue;
      }
      if (c === '.') {
        out += '[^\\n]';
        i++;
        continue;
      }
      i++;
      if (caseless && /\p{L}/u.test(c)) {
        const v = caseVariants(c);
        out += v.length > 1 ? `[${v.map(classChar).join('')}]` : c;
      } else {
        out += SYNTAX.has(c) && c !== '^' && c !== '$' ? '\\' + c : c;
      }
    }
    if (inGroup) fail('an unterminated (');
    return out;
  };

  const source = parse(false, false);
  try {
    new RegExp(source, 'gv');
  } catch (err) {
    throw new KolmError(`${where}: regex ${JSON.stringify(src)} could not be translated (${(err as Error).message})`);
  }
  return source;
}

/**
 * The pattern twice: `exact` for any text, and `fast` (no class subtractions, about twice as fast in V8) for text
 * without a NEWER_CODE_POINT, on which the two match alike.
 */
export function onigurumaRegExps(src: string, where: string): { exact: RegExp; fast: RegExp } {
  return { exact: onigurumaRegExp(src, where), fast: new RegExp(translateOniguruma(src, where, false), 'gv') };
}

/** The translated pattern as a global `v` RegExp. */
export function onigurumaRegExp(src: string, where: string): RegExp {
  return new RegExp(translateOniguruma(src, where), 'gv');
}

/** A literal string as a global RegExp (HF's `{"String": …}` patterns). */
export function literalRegExp(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'), 'gu');
}
