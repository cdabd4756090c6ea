/**
 * GPT-2's reversible byte ↔ printable-char mapping (HF `ByteLevel`): vocabulary entries are strings over these 256
 * chars, so every byte sequence has a spelling and tokens survive JSON and text editors.
 */

function buildByteToChar(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array(256);
  for (const b of printable) map[b] = String.fromCharCode(b);
  let next = 256;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(next++);
  return map;
}

export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Indexed by char code (all below 0x144); -1 where the char is not a byte's spelling. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const table = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (table[c.charCodeAt(0)] = b));
  return table;
})();

export function bytesToToken(bytes: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/** The bytes a vocabulary entry spells, or undefined if it contains a char outside the mapping. */
export function tokenToBytes(token: string): number[] | undefined {
  const out: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const b = code < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[code]! : -1;
    if (b < 0) return undefined;
    out.push(b);
  }
  return out;
}

/**
 * UTF-8 of `text` into `out` (grown as needed); returns the byte count. A lone surrogate becomes U+FFFD, as
 * TextEncoder and the Rust peer's string conversion do, so every runtime sees the same bytes.
 */
export function utf8Encode(text: string, out: { buf: Uint8Array }): number {
  if (out.buf.length < text.length * 3) out.buf = new Uint8Array(text.length * 3 + 16);
  const buf = out.buf;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      buf[n++] = c;
    } else if (c < 0x800) {
      buf[n++] = 0xc0 | (c >> 6);
      buf[n++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[n++] = 0xf0 | (c >> 18);
          buf[n++] = 0x80 | ((c >> 12) & 63);
          buf[n++] = 0x80 | ((c >> 6) & 63);
          buf[n++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      buf[n++] = 0xe0 | (c >> 12);
      buf[n++] = 0x80 | ((c >> 6) & 63);
      buf[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}
