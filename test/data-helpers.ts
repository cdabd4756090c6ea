/** Shared by the data tests: fixture paths and a tokenizer for stage 8. */
import { join } from 'node:path';
import type { TextTokenizer } from '../src/data/types.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'data');

const SPECIAL = ['<|endoftext|>', '<|pad|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>'];

/** Placeholder until the kolm tokenizer lands: UTF-8 bytes plus the special tokens. */
export async function fixtureTokenizer(): Promise<TextTokenizer> {
  const enc = new TextEncoder(), dec = new TextDecoder();
  return {
    vocabSize: 256 + SPECIAL.length,
    hash: 'bytes',
    encode: (t: string) => Array.from(enc.encode(t)),
    decode: (ids: ArrayLike<number>) => dec.decode(Uint8Array.from(Array.from(ids).filter((i) => i < 256))),
    tokenId: (t: string) => (SPECIAL.includes(t) ? 256 + SPECIAL.indexOf(t) : undefined),
  };
}

/** A config over every fixture source (paths relative to FIXTURES). */
export function fixtureConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    seed: 3,
    tokenizer: '.',
    sources: [
      { name: 'ko', path: 'ko.jsonl' },
      { name: 'reviews', path: 'reviews.jsonl', field: 'review', group: { by: 'movie_id', maxChars: 1500 } },
      { name: 'en', path: 'en.jsonl.gz' },
      { name: 'notes', path: 'notes.txt', split: 'paragraph' },
      { name: 'parquet', path: 'sample.parquet' },
      { name: 'parallel', path: 'parallel.jsonl', fields: ['en', 'ko'], group: { every: 8 } },
      { name: 'code', path: 'code.jsonl', lang: 'code', weight: 1 },
    ],
    quality: { minChars: 80, minWords: 10 },
    mix: { validation: 0.1 },
    fim: { rate: 0.5 },
    shards: { maxTokens: 20000 },
    ...extra,
  };
}
