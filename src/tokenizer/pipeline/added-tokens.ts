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

/** A trie node over UTF-16 code units: the token ending here (if any) and the next units. */
interface TrieNode {
  token?: AddedToken;
  next: Map<number, TrieNode>;
}

export class AddedTokenMatcher {
  private readonly root: TrieNode = { next: new Map() };
  /** 1 where a pattern starts with this code unit, so other positions are skipped without a lookup. */
  private readonly starts = new Uint8Array(0x10000);
  private readonly count: number;
  /** The distinct first code units of the patterns. */
  private readonly startUnits: string[] = [];

  /** `tokens` with their contents as they are matched (normalized contents for normalized tokens). */
  constructor(tokens: readonly { token: AddedToken; pattern: string }[]) {
    let count = 0;
    for (const { token, pattern } of tokens) {
      if (!pattern) continue;
      let node = this.root;
      for (let i = 0; i < pattern.length; i++) {
        const unit = pattern.charCodeAt(i);
        let child = node.next.get(unit);
        if (!child) node.next.set(unit, (child = { next: new Map() }));
        node = child;
      }
      if (node.token) continue; // the first token with a content wins
      node.token = token;
      if (this.starts[pattern.charCodeAt(0)] === 0) this.startUnits.push(pattern[0]!);
      this.starts[pattern.charCodeAt(0)] = 1;
      count++;
    }
    this.count = count;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** The longest pattern at `at`: its token and end, or undefined. */
  private longestAt(text: string, at: number): { token: AddedToken; end: number } | undefined {
    let node = this.root;
    let found: { token: AddedToken; end: number } | undefined;
    for (let i = at; i < text.length; i++) {
      const child = node.next.get(text.charCodeAt(i));
      if (!child) break;
      node = child;
      if (node.token) found = { token: node.token, end: i + 1 };
    }
    return found;
  }

  /**
   * The position of the next code unit at or after `from` that starts a pattern, or -1. With few distinct first
   * units (Llama 2's `<`; Gemma 3's `<`, `[`, newline, tab, `▁`) native `indexOf` per unit, remembering each one's
   * next position; otherwise a table lookup per unit.
   */
  private startFinder(text: string): (from: number) => number {
    const units = this.startUnits;
    if (units.length > 8) {
      const starts = this.starts;
      return (from) => {
        for (let i = from; i < text.length; i++) if (starts[text.charCodeAt(i)] === 1) return i;
        return -1;
      };
    }
    const nextAt = units.map(() => -2);
    return (from) => {
      let best = -1;
      for (let k = 0; k < units.length; k++) {
        if (nextAt[k]! < from && nextAt[k] !== -1) nextAt[k] = text.indexOf(units[k]!, from);
        const at = nextAt[k]!;
        if (at >= 0 && (best < 0 || at < best)) best = at;
      }
      return best;
    };
  }

  /**
   * Splits `text` into plain pieces and added tokens; special tokens are found only when `allowSpecial`. Matches are
   * leftmost-longest and do not overlap (a special token's text skipped when not allowed is not searched again).
   */
  split(text: string, allowSpecial: boolean, out: Segment[]): void {
    if (this.count === 0) {
      out.push({ text });
      return;
    }
    const next = this.startFinder(text);
    let offset = 0;
    for (let i = next(0); i >= 0; i = next(i)) {
      const m = this.longestAt(text, i);
      if (!m) {
        i++;
        continue;
      }
      const { token } = m;
      let start = i;
      let stop = m.end;
      i = stop;
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
        i = stop;
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
