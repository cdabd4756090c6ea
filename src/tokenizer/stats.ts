/** Compression statistics of a tokenizer on a corpus, per language: chars/token and bytes/token. */
import type { Tokenizer } from './tokenizer.js';

export interface LanguageStats {
  docs: number;
  chars: number;
  bytes: number;
  tokens: number;
  charsPerToken: number;
  bytesPerToken: number;
}

const HANGUL = /\p{Script=Hangul}/gu;
const LETTER = /\p{L}/gu;
const LATIN = /\p{Script=Latin}/gu;

/** A coarse language label from the script mix: ko when ≥ 30% of letters are Hangul, en for Latin, else other. */
export function scriptLanguage(text: string): string {
  const letters = text.match(LETTER)?.length ?? 0;
  if (letters === 0) return 'other';
  if ((text.match(HANGUL)?.length ?? 0) >= 0.3 * letters) return 'ko';
  return (text.match(LATIN)?.length ?? 0) >= 0.5 * letters ? 'en' : 'other';
}

export class StatsCollector {
  private readonly byLang = new Map<string, { docs: number; chars: number; bytes: number; tokens: number }>();

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Counts one document under `lang` (detected from the script when not given). */
  add(text: string, lang = scriptLanguage(text)): void {
    const s = this.byLang.get(lang) ?? { docs: 0, chars: 0, bytes: 0, tokens: 0 };
    s.docs++;
    for (const _ of text) s.chars++;
    s.bytes += Buffer.byteLength(text);
    s.tokens += this.tokenizer.encode(text).length;
    this.byLang.set(lang, s);
  }

  /** Per language, sorted by size, plus `all`. */
  result(): Record<string, LanguageStats> {
    const entries = [...this.byLang].sort((a, b) => b[1].bytes - a[1].bytes);
    const all = { docs: 0, chars: 0, bytes: 0, tokens: 0 };
    for (const [, s] of entries) for (const k of Object.keys(all) as (keyof typeof all)[]) all[k] += s[k];
    const finish = (s: typeof all): LanguageStats => ({
      ...s,
      charsPerToken: s.tokens ? s.chars / s.tokens : 0,
      bytesPerToken: s.tokens ? s.bytes / s.tokens : 0,
    });
    return Object.fromEntries([...entries.map(([lang, s]) => [lang, finish(s)] as const), ['all', finish(all)]]);
  }
}
