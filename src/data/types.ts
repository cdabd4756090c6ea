import type { DocumentLanguage } from '../text/language.js';

/**
 * Labels assigned by language identification (text/language.ts). `en` stands for Latin-script text (English and
 * other). The index's `langs` list and stats reports keep this order.
 */
export const LANGS = ['ko', 'en', 'code', 'other'] as const satisfies readonly DocumentLanguage[];
export type Lang = DocumentLanguage;

/** One document flowing through the pipeline. Stages replace `text` and set `lang`; nothing else is copied. */
export interface Doc {
  text: string;
  /** Name of the configured source it came from. */
  source: string;
  /** `file:line` (or `file:row` for Parquet) of its first record, for error messages and debugging. */
  origin: string;
  /** Language fixed by the source config, or undefined to detect it. */
  declaredLang?: Lang;
  lang?: Lang;
  /** Fields of the record besides the text (e.g. a code file's `path`), when the reader keeps them. */
  meta?: Record<string, unknown>;
}

/**
 * What stage 8 needs from a tokenizer; the kolm Tokenizer satisfies it. Kept as an interface so the pipeline does
 * not depend on how the tokenizer is built.
 */
export interface TextTokenizer {
  encode(text: string, opts?: { allowSpecial?: boolean }): number[];
  decode(ids: ArrayLike<number>, opts?: Record<string, unknown>): string;
  readonly vocabSize: number;
  tokenId(token: string): number | undefined;
  readonly hash: string;
}

export const EOS_TOKEN = '<|endoftext|>';
export const FIM_PREFIX = '<|fim_prefix|>';
export const FIM_MIDDLE = '<|fim_middle|>';
export const FIM_SUFFIX = '<|fim_suffix|>';
