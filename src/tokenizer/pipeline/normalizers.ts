/** HF normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence. */
import { literalRegExp, onigurumaRegExp } from './regex.js';
import type { Json, JsonReader } from './json.js';

export type Normalizer = (text: string) => string;

/**
 * Combining marks whose canonical combining class the Rust peer's normalization tables (an older Unicode) do not
 * know, so it never reorders or composes them; found by comparing NFC of every mark between probes against
 * `@anush008/tokenizers`. kolm normalizes the text between them separately, which does the same.
 */
const OLDER_TABLES_UNKNOWN = new RegExp('([\u{7fd}\u{897}-\u{89f}\u{8ca}-\u{8d3}\u{9fe}\u{c3c}\u{d3b}-\u{d3c}\u{eba}\u{1715}\u{1abf}-\u{1add}\u{1ae0}-\u{1aeb}\u{1df6}-\u{1dfa}\u{a82c}\u{10d24}-\u{10d27}\u{10d69}-\u{10d6d}\u{10eab}-\u{10eac}\u{10efa}-\u{10efb}\u{10efd}-\u{10eff}\u{10f46}-\u{10f50}\u{10f82}-\u{10f85}\u{11070}\u{1133b}\u{113ce}-\u{113d0}\u{1145e}\u{11839}-\u{1183a}\u{1193d}-\u{1193e}\u{11943}\u{119e0}\u{11a34}\u{11a47}\u{11a99}\u{11d42}\u{11d44}-\u{11d45}\u{11d97}\u{11f41}-\u{11f42}\u{1612f}\u{16ff0}-\u{16ff1}\u{1e08f}\u{1e130}-\u{1e136}\u{1e2ae}\u{1e2ec}-\u{1e2ef}\u{1e4ec}-\u{1e4ef}\u{1e5ee}-\u{1e5ef}\u{1e6e3}\u{1e6e6}\u{1e6ee}-\u{1e6ef}\u{1e6f5}])', 'u');

function normalizeLikeRust(s: string, form: 'NFC' | 'NFD' | 'NFKC' | 'NFKD'): string {
  if (!OLDER_TABLES_UNKNOWN.test(s)) return s.normalize(form);
  return s
    .split(OLDER_TABLES_UNKNOWN)
    .map((part, i) => (i % 2 === 1 ? part : part.normalize(form)))
    .join('');
}

export const NORMALIZERS = ['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'Replace', 'Prepend', 'Strip', 'Sequence'] as const;

/** Rust's char::is_whitespace (Unicode White_Space). */
const LEADING_WS = /^[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
const TRAILING_WS = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;

/** Builds the normalizer described by `v` (null → none). */
export function buildNormalizer(v: unknown, field: string, r: JsonReader): Normalizer | undefined {
  if (v == null) return undefined;
  const o = r.obj(v, field);
  const type = r.type(o, field, NORMALIZERS);
  switch (type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
      return (s) => normalizeLikeRust(s, type);
    case 'Lowercase':
      // Rust lowercases char by char (no final-sigma rule), unlike String.prototype.toLowerCase on a whole string.
      return (s) => {
        let out = '';
        for (const c of s) out += c.toLowerCase();
        return out;
      };
    case 'Replace': {
      const p = r.pattern(o.pattern, `${field}.pattern`);
      const content = r.str(o.content, `${field}.content`);
      // A non-empty string is replaced by string search (faster than a regex); `$` in content stays literal.
      if ('string' in p && p.string) {
        const search = p.string;
        return content.includes('$') ? (s) => s.replaceAll(search, () => content) : (s) => s.replaceAll(search, content);
      }
      const re = 'string' in p ? literalRegExp(p.string) : onigurumaRegExp(p.regex, `${r.file}: field ${field}.pattern.Regex`);
      return (s) => s.replace(re, () => content);
    }
    case 'Prepend': {
      const prepend = r.str(o.prepend, `${field}.prepend`);
      return (s) => (s ? prepend + s : s);
    }
    case 'Strip': {
      const left = o.strip_left !== false;
      const right = o.strip_right !== false;
      return (s) => {
        if (left) s = s.replace(LEADING_WS, '');
        if (right) s = s.replace(TRAILING_WS, '');
        return s;
      };
    }
    default: {
      const list = r.arr(o.normalizers, `${field}.normalizers`).map((n, i) => buildNormalizer(n, `${field}.normalizers[${i}]`, r));
      const parts = list.filter((n): n is Normalizer => n !== undefined);
      if (parts.length === 0) return undefined;
      if (parts.length === 1) return parts[0];
      return (s) => {
        for (const n of parts) s = n(s);
        return s;
      };
    }
  }
}

export type { Json };
