/** Compression statistics of a tokenizer on a corpus, per language: chars/token and bytes/token. */
import { scriptLanguage } from '../text/language.js';
import type { Tokenizer } from './tokenizer.js';

export interface LanguageStats {
  docs: number;
  chars: number;
  bytes: number;
  tokens: number;
  charsPerToken: number;
  bytesPerToken: number;
}

export class StatsCollector {
  private readonly byLang = new Map<string, { docs: number; chars: number; bytes: number; tokens: number }>();

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Counts one document under `lang` (detected from the script when not given). */
  add(text: string, lang: string = scriptLanguage(text)): void {
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
