import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readRecords, type ReadOptions } from '../../src/data/sources.js';
import { BadInputError } from '../../src/data/errors.js';

const F = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'data');

async function collect(file: string, opts: Partial<ReadOptions> = {}) {
  const out = [];
  for await (const r of readRecords(join(F, file), { fields: ['text'], ...opts })) out.push(r);
  return out;
}

async function failure(file: string, opts: Partial<ReadOptions> = {}): Promise<BadInputError> {
  try {
    await collect(file, opts);
  } catch (e) {
    assert.ok(e instanceof BadInputError, String(e));
    return e;
  }
  assert.fail(`${file} was read without an error`);
}

test('JSONL (gzip) records keep their file and line; metadata fields ride along', async () => {
  const en = await collect('en.jsonl.gz', { metaFields: ['source'] });
  assert.equal(en.length, 9);
  assert.match(en[0].values[0], /^1 In the beginning God created/);
  assert.equal(en[0].meta?.source, 'bible-kjv-text:Genesis');
  assert.equal(en[8].line, 9);
  const pairs = await collect('parallel.jsonl', { fields: ['en', 'ko'] });
  assert.deepEqual(pairs[0].values, ['Open the file.', '파일을 엽니다.']);
});

test('plain text splits into files, lines or paragraphs', async () => {
  assert.equal((await collect('notes.txt')).length, 1);
  const paragraphs = await collect('notes.txt', { split: 'paragraph' });
  assert.deepEqual(paragraphs.map((p) => p.line), [1, 5, 9]);
  assert.equal((await collect('notes.txt', { split: 'line' })).length, 7);
});

test('Parquet rows stream one row group at a time', async () => {
  const rows = await collect('sample.parquet', { metaFields: ['id'] });
  assert.deepEqual(rows.map((r) => [r.line, r.meta?.id]), [[1, 1], [2, 2], [3, 3]]);
  assert.match(rows[1].values[0], /^파케이 파일의 행도/);
});

test('bad input errors name the file, line and field', async () => {
  const malformed = await failure('bad/malformed.jsonl');
  assert.equal(malformed.line, 3);
  assert.match(malformed.message, /bad\/malformed\.jsonl:3: malformed JSON/);

  const missing = await failure('bad/missing-field.jsonl');
  assert.equal(missing.field, 'text');
  assert.match(missing.message, /bad\/missing-field\.jsonl:2: field "text": missing/);

  const wrongType = await failure('ko.jsonl', { fields: ['id'] });
  assert.match(wrongType.message, /ko\.jsonl:1: field "id": expected a string, got number/);

  const truncated = await failure('bad/truncated.jsonl.gz');
  assert.match(truncated.message, /truncated\.jsonl\.gz:\d+: truncated or corrupt gzip/);

  const parquet = await failure('bad/broken.parquet');
  assert.match(parquet.message, /broken\.parquet: not a readable Parquet file/);
  const column = await failure('sample.parquet', { fields: ['body'] });
  assert.match(column.message, /sample\.parquet: field "body": no such column/);
});

test('with onBad (--skip-bad) bad records are counted and skipped, good ones kept', async () => {
  const seen: string[] = [];
  const onBad = (e: BadInputError) => seen.push(e.kind);
  assert.equal((await collect('bad/malformed.jsonl', { onBad })).length, 3);
  assert.equal((await collect('bad/missing-field.jsonl', { onBad })).length, 2);
  const partial = await collect('bad/truncated.jsonl.gz', { onBad });
  assert.ok(partial.length > 0 && partial.length < 40, `${partial.length} complete lines before the damage`);
  assert.equal((await collect('bad/broken.parquet', { onBad })).length, 0);
  assert.deepEqual(seen, ['malformed-json', 'missing-field', 'truncated-gzip', 'broken-parquet']);
});
