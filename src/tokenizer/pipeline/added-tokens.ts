/**
 * HF added tokens: found in the text before the model runs (leftmost, longest first), tokens with `normalized: false`
 * in the raw text and those with `normalized: true` in the normalized text; `single_word` (only as a whole word),
 * `lstrip` / `rstrip` (swallow the whitespace around), `special` (skipped by `skipSpecial`; found in text only when
 * special tokens are allowed).
 */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  singleWord?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
}

/** A piece of text: `id` set where it is an added token. */
export interface Segment {
  text: string;
  id?: number;
}

const WS = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const WORD = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]/u;

export class AddedTokenMatcher {
  private readonly re: RegExp | undefined;
  private readonly byContent = new Map<string, AddedToken>();

  /** `tokens` with their contents as they are matched (normalized contents for normalized tokens). */
  constructor(tokens: readonly { token: AddedToken; pattern: string }[]) {
    const patterns: string[] = [];
    for (const { token, pattern } of tokens) {
      if (!pattern || this.byContent.has(pattern)) continue;
      this.byContent.set(pattern, token);
      patterns.push(pattern);
    }
    patterns.sort((a, b) => b.length - a.length);
    this.re = patterns.length ? new RegExp(patterns.map((p) => p.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|'), 'gu') : undefined;
  }

  get empty(): boolean {
    return this.re === undefined;
  }

  /** Splits `text` into plain pieces and added tokens; special tokens are found only when `allowSpecial`. */
  split(text: string, allowSpecial: boolean, out: Segment[]): void {
    if (!this.re) {
      out.push({ text });
      return;
    }
    const re = new RegExp(this.re);
    let offset = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const token = this.byContent.get(m[0])!;
      let start = m.index;
      let stop = start + m[0].length;
      if (token.special && !allowSpecial) continue;
      if (token.singleWord) {
        const before = start === 0 || !WORD.test(lastChar(text.slice(0, start)));
        const after = stop === text.length || !WORD.test(String.fromCodePoint(text.codePointAt(stop)!));
        if (!before || !after) continue;
      }
      if (token.lstrip) {
        let s = start;
        while (s > offset && WS.test(text[s - 1]!)) s--;
        start = s;
      }
      if (token.rstrip) {
        while (stop < text.length && WS.test(text[stop]!)) stop++;
        re.lastIndex = stop;
      }
      if (offset < start) out.push({ text: text.slice(offset, start) });
      out.push({ text: text.slice(start, stop), id: token.id });
      offset = stop;
    }
    if (offset < text.length) out.push({ text: text.slice(offset) });
  }
}

function lastChar(s: string): string {
  const c = s.codePointAt(s.length - 1)!;
  return c >= 0xdc00 && c <= 0xdfff && s.length > 1 ? String.fromCodePoint(s.codePointAt(s.length - 2)!) : String.fromCodePoint(c);
}
