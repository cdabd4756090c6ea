/** HF decoders: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence (each maps token strings). */
import { CHAR_TO_BYTE } from '../byte-level.js';
import { literalRegExp, onigurumaRegExp } from './regex.js';
import type { JsonReader } from './json.js';

export type Decoder = (tokens: string[]) => string[];

export const DECODERS = ['ByteLevel', 'Metaspace', 'ByteFallback', 'Fuse', 'Strip', 'Replace', 'Sequence'] as const;

const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** A token's bytes as HF's ByteLevel decoder reads it: GPT-2 chars mapped back, else the token's own UTF-8. */
export function byteLevelBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const b = code < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[code]! : -1;
    if (b < 0) return encoder.encode(token);
    out[i] = b;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const BYTE_TOKEN = /^<0x([0-9A-F]{2})>$/;

export function buildDecoder(v: unknown, field: string, r: JsonReader): Decoder | undefined {
  if (v == null) return undefined;
  const o = r.obj(v, field);
  const type = r.type(o, field, DECODERS);
  switch (type) {
    case 'ByteLevel':
      return (tokens) => [utf8.decode(concat(tokens.map(byteLevelBytes)))];
    case 'Metaspace': {
      const replacement = typeof o.replacement === 'string' ? o.replacement : '▁';
      const scheme = o.prepend_scheme ?? (o.add_prefix_space === false ? 'never' : 'always');
      return (tokens) =>
        tokens.map((t, i) => {
          let s = '';
          for (const c of t) s += c === replacement ? (i === 0 && scheme !== 'never' ? '' : ' ') : c;
          return s;
        });
    }
    case 'ByteFallback':
      return (tokens) => {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = (): void => {
          if (!bytes.length) return;
          try {
            out.push(utf8Strict.decode(Uint8Array.from(bytes)));
          } catch {
            for (let i = 0; i < bytes.length; i++) out.push('\ufffd');
          }
          bytes = [];
        };
        for (const t of tokens) {
          const m = BYTE_TOKEN.exec(t);
          if (m) bytes.push(parseInt(m[1]!, 16));
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = r.str(o.content, `${field}.content`);
      const start = Number(o.start ?? 0);
      const stop = Number(o.stop ?? 0);
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let a = 0;
          while (a < start && a < chars.length && chars[a] === content) a++;
          let b = 0;
          while (b < stop && b < chars.length && chars[chars.length - 1 - b] === content) b++;
          return chars.slice(a, Math.max(a, chars.length - b)).join('');
        });
    }
    case 'Replace': {
      const p = r.pattern(o.pattern, `${field}.pattern`);
      const content = r.str(o.content, `${field}.content`);
      const re = 'string' in p ? literalRegExp(p.string) : onigurumaRegExp(p.regex, `${r.file}: field ${field}.pattern.Regex`);
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    default: {
      const list = r
        .arr(o.decoders, `${field}.decoders`)
        .map((d, i) => buildDecoder(d, `${field}.decoders[${i}]`, r))
        .filter((d): d is Decoder => d !== undefined);
      return (tokens) => list.reduce((acc, d) => d(acc), tokens);
    }
  }
}
