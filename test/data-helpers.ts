/** Shared by the data tests: fixture paths and a tokenizer for stage 8. */
import { join } from 'node:path';
import { readRecords } from '../src/data/sources.js';
import { trainTokenizer, type Tokenizer } from '../src/tokenizer/index.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'data');

let trained: Promise<Tokenizer> | undefined;

/** A small kolm tokenizer trained on the fixture texts themselves (once per test process). */
export function fixtureTokenizer(): Promise<Tokenizer> {
  trained ??= (async () => {
    const texts: string[] = [];
    for (const [file, field] of [['ko.jsonl', 'text'], ['reviews.jsonl', 'review'], ['en.jsonl.gz', 'text'], ['code.jsonl', 'text']]) {
      for await (const r of readRecords(join(FIXTURES, file), { fields: [field] })) texts.push(r.values[0]);
    }
    return trainTokenizer({ texts, vocabSize: 1024, morpheme: false, progress: false });
  })();
  return trained;
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
