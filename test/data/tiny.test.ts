/**
 * The in-repo tiny corpus (recipes/data/tiny): intact, redistributable, and readable by `kolm data build` and
 * `kolm data sft-mix` exactly like the shared data folder. Needs nothing outside the repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { loadConfig, resolveConfig } from '../../src/data/config.js';
import { buildCorpus } from '../../src/data/pipeline.js';
import { readRecords } from '../../src/data/sources.js';
import { buildSftMix, SOURCES } from '../../src/data/sft-mix.js';
import { trainTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';

const REPO = join(import.meta.dirname, '..', '..', '..');
const TINY = join(REPO, 'recipes', 'data', 'tiny');
const root = mkdtempSync(join(tmpdir(), 'kolm-data-tiny-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const jsonl = (rel: string) => gunzipSync(readFileSync(join(TINY, rel))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);

test('every file of the tiny corpus matches the sha256 its README lists, and nothing is missing', () => {
  const readme = readFileSync(join(TINY, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| `([^`]+)` \| [^|]+ \| [\d,]+ \| ([\d,]+) \| `([0-9a-f]{64})` \|$/gm)];
  assert.ok(rows.length >= 10, 'file table');
  for (const [, rel, size, sha] of rows) {
    const bytes = readFileSync(join(TINY, rel!));
    assert.equal(bytes.length, Number(size!.replace(/,/g, '')), rel);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sha, rel);
  }
  const listed = new Set(rows.map((r) => r[1]));
  for (const s of Object.values(SOURCES)) for (const f of s.files) assert.ok(listed.has(f), `${f} (read by sft-mix) is in the tiny corpus`);
  for (const f of ['raw/ko.jsonl.gz', 'raw/en.jsonl.gz', 'raw/code.jsonl.gz']) assert.ok(listed.has(f), f);
});

test('tiny raw records keep their provenance and are permissively licensed', () => {
  for (const f of ['raw/ko.jsonl.gz', 'raw/en.jsonl.gz', 'raw/code.jsonl.gz', 'raw/parallel.en-ko.jsonl.gz']) {
    const records = jsonl(f);
    assert.ok(records.length > 100, f);
    for (const r of records) {
      assert.ok(r.source && r.license, `${f}: source and license`);
      // Copyleft alternatives only next to a permissive one ("BSD-3-Clause OR GPL-2.0-or-later").
      assert.ok(!/GPL|GFDL|CC-BY-SA|LPPL/.test(r.license!) || / OR /.test(r.license!), `${f}: ${r.license}`);
    }
  }
  for (const r of jsonl('raw/parallel.en-ko.jsonl.gz')) assert.ok(/[가-힣]/.test(r.ko!) && r.ko !== r.en);
  for (const r of jsonl('raw/en.jsonl.gz')) assert.ok(!/[가-힣]/.test(r.text!));
});

test('kolm data sft-mix reads the tiny corpus like the shared folder', async () => {
  const m = await buildSftMix({ data: TINY, out: join(root, 'mix'), counts: { arithmetic: 50, code: 10, safety: 20, benign: 10, negatives: 20, ppo: 8 } });
  const sft = m.files['sft.train.jsonl']!.bySource;
  for (const s of ['chatbot', 'hg-tods', 'gsm8k', 'translation-ko-en', 'translation-en-ko']) assert.ok(sft[s]! > 0, `SFT has ${s}`);
  const pref = { ...m.files['pref.train.jsonl']!.bySource, ...m.files['pref.valid.jsonl']!.bySource };
  assert.ok(pref['square']! > 0, 'SQuARe pairs');
  for (const f of ['sft.valid.jsonl', 'eval/benign.jsonl']) assert.ok(m.files[f]!.records > 0, f);
});

let tok: Promise<Tokenizer> | undefined;
function tinyTokenizer(): Promise<Tokenizer> {
  tok ??= (async () => {
    const texts: string[] = [];
    for (const f of ['ko', 'en', 'code']) for await (const r of readRecords(join(TINY, 'raw', `${f}.jsonl.gz`), { fields: ['text'] })) texts.push(r.values[0]!);
    return trainTokenizer({ texts, vocabSize: 512, morpheme: false, progress: false });
  })();
  return tok;
}

test('recipes/data/tiny.data.json builds a ko/en/code corpus with FIM and a validation split', async () => {
  const config = loadConfig(join(REPO, 'recipes', 'data', 'tiny.data.json'));
  for (const s of config.sources) for (const p of [s.path].flat()) assert.ok(existsSync(p), p);
  const { index } = await buildCorpus({ config, outDir: join(root, 'corpus'), tokenizer: await tinyTokenizer(), workers: 1 });
  for (const lang of ['ko', 'en', 'code']) assert.ok(index.splits.train.tokensByLang[lang]! > 0, lang);
  assert.ok(index.splits.train.fimDocuments > 0, 'FIM on code');
  assert.ok(index.splits.validation.tokens > 0, 'validation split');
});

test('one field of a parallel file, mixed to English only, gives a corpus with no Korean (configs/data/english.json)', async () => {
  const english = loadConfig(join(REPO, 'configs', 'data', 'english.json'));
  assert.deepEqual(Object.keys(english.mix.targets), ['en']);
  const parallel = english.sources.find((s) => [s.path].flat().some((p) => p.endsWith('parallel.en-ko.jsonl.gz')));
  assert.equal(parallel?.field, 'en');
  assert.equal(parallel?.fields, undefined);
  // The same source settings over the tiny parallel pairs.
  const config = resolveConfig({ ...JSON.parse(readFileSync(join(REPO, 'configs', 'data', 'english.json'), 'utf8')), sources: [
    { ...parallel, path: join(TINY, 'raw', 'parallel.en-ko.jsonl.gz') },
    { name: 'en-docs', path: join(TINY, 'raw', 'en.jsonl.gz') },
  ] }, REPO);
  const { index, stats } = await buildCorpus({ config, outDir: join(root, 'english'), tokenizer: await tinyTokenizer(), workers: 1 });
  assert.equal(stats.stages.langid.changed['ko'] ?? 0, 0, 'no document is Korean');
  assert.deepEqual(Object.keys(index.splits.train.tokensByLang).filter((l) => index.splits.train.tokensByLang[l]! > 0), ['en']);
});
