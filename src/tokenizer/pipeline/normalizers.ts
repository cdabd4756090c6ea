/** HF normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence. */
import { literalRegExp, onigurumaRegExp } from './regex.js';
import type { Json, JsonReader } from './json.js';

export type Normalizer = (text: string) => string;

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
      return (s) => s.normalize(type);
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
