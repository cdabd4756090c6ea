import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorpus, type BuildResult } from '../../src/data/pipeline.js';
import { resolveConfig } from '../../src/data/config.js';
import { readTokens } from '../../src/data/shards.js';
import { fimRestore, fimTokens, fimTransform } from '../../src/data/fim.js';
import { Rng } from '../../src/util/random.js';
import { BadInputError } from '../../src/data/errors.js';
import { normalizeText } from '../../src/data/normalize.js';
import { PiiScrubber } from '../../src/data/pii.js';
import { run as cli } from '../../src/cli/data.js';
import { readRecords } from '../../src/data/sources.js';
import { trainTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'data');

let trained: Promise<Tokenizer> | undefined;

/** A small kolm tokenizer trained on the fixture texts themselves (once per test process). */
function fixtureTokenizer(): Promise<Tokenizer> {
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
function fixtureConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
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

const root = mkdtempSync(join(tmpdir(), 'kolm-data-build-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

async function build(out: string, extra: Record<string, unknown> = {}, opts: { seed?: number; skipBad?: boolean; workers?: number } = {}): Promise<BuildResult> {
  const config = resolveConfig(fixtureConfig(extra), FIXTURES);
  return buildCorpus({ config, outDir: join(root, out), tokenizer: await fixtureTokenizer(), ...opts });
}

const files = (dir: string) => readdirSync(dir).sort();

test('a build runs every stage and reports what each kept and dropped', async () => {
  const { stats, index } = await build('a');
  const st = stats.stages;
  assert.equal(st.read.dropped['identical-fields'], 1, 'the untranslated pair');
  assert.equal(st.safety.dropped.profanity, 1, 'the profanity line of ko.jsonl');
  assert.equal(st.dedup.dropped.exact, 1, 'the planted exact duplicate');
  assert.ok(st.dedup.dropped.near >= 2, 'the planted near-duplicates (ko and en)');
  assert.ok(st.quality.dropped['too-short'] >= 2);
  assert.deepEqual(st.pii.changed, { phone: 3, email: 1, rrn: 1, card: 1, ip: 1 });
  assert.equal(st.langid.changed.code, 6);
  assert.ok(st.pack.changed['fim-psm'] > 0 || st.pack.changed['fim-spm'] > 0);
  for (const lang of ['ko', 'en', 'code']) assert.ok(index.splits.train.tokensByLang[lang] > 0, lang);
  assert.deepEqual(Object.keys(stats.bySource), ['ko', 'reviews', 'en', 'notes', 'parquet', 'parallel', 'code']);
  assert.ok(files(join(root, 'a')).includes('summary.md'));
  assert.match(readFileSync(join(root, 'a', 'summary.md'), 'utf8'), /\| safety \| .* profanity 1 /);
});

test('the same seed gives byte-identical shards and index; another seed does not', async () => {
  await build('b');
  const names = files(join(root, 'a'));
  assert.deepEqual(files(join(root, 'b')), names);
  for (const f of names.filter((n) => n.endsWith('.bin') || n === 'index.json')) {
    assert.ok(readFileSync(join(root, 'a', f)).equals(readFileSync(join(root, 'b', f))), `${f} differs`);
  }
  await build('c', {}, { seed: 4 });
  assert.ok(!readFileSync(join(root, 'a', 'train-00000.bin')).equals(readFileSync(join(root, 'c', 'train-00000.bin'))));
});

test('shards hold documents with EOS, no PII, and FIM documents that restore to code', async () => {
  const tok = await fixtureTokenizer();
  const ids = fimTokens(tok);
  const index = JSON.parse(readFileSync(join(root, 'a', 'index.json'), 'utf8'));
  // Code as the pipeline leaves it: normalized and PII-scrubbed (license headers carry e-mail addresses).
  const pii = new PiiScrubber();
  const code = readFileSync(join(FIXTURES, 'code.jsonl'), 'utf8').trim().split('\n')
    .map((l) => pii.scrub(normalizeText(JSON.parse(l).text, true), {}));
  let fimDocs = 0;
  for (const shard of index.shards) {
    const fd = openSync(join(root, 'a', shard.file), 'r');
    const all = Array.from(readTokens(fd, index.dtype, 0, shard.tokens));
    closeSync(fd);
    const offsets = [...shard.documents.offsets, shard.tokens];
    for (let k = 0; k + 1 < offsets.length; k++) {
      const doc = all.slice(offsets[k], offsets[k + 1]);
      assert.equal(doc.pop(), index.eosId);
      assert.ok(!doc.includes(index.eosId));
      const text = tok.decode(doc);
      assert.doesNotMatch(text, /010-1234-5678|hong\.gildong@|900101-1234567|4111 1111/);
      if (shard.documents.fim[k]) {
        fimDocs++;
        assert.ok(code.includes(fimRestore(doc, tok, ids)), 'a FIM document rearranges back to its code file');
      }
    }
  }
  assert.equal(fimDocs, index.splits.train.fimDocuments + index.splits.validation.fimDocuments);
  assert.ok(fimDocs > 0);
});

test('FIM: PSM and SPM layouts use the FIM tokens and decode back to the original', async () => {
  const tok = await fixtureTokenizer();
  const ids = fimTokens(tok);
  const text = 'def add(a, b):\n    """한국어 주석: 두 수를 더한다."""\n    return a + b\n';
  const rng = new Rng(5);
  for (let i = 0; i < 50; i++) {
    const spm = i % 2 === 1;
    const seq = fimTransform(text, tok, ids, spm, rng);
    assert.equal(seq[0], ids.prefix);
    assert.equal(seq[1] === ids.suffix, spm || seq.indexOf(ids.suffix) === 1);
    assert.equal(seq.filter((t) => t === ids.middle).length, 1);
    assert.equal(fimRestore(seq, tok, ids), text);
  }
});

test('bad input fails naming file and line and leaves no output; --skip-bad counts and skips', async () => {
  const bad = { sources: [{ name: 'ok', path: 'notes.txt', split: 'paragraph' }, { name: 'bad', path: ['bad/malformed.jsonl', 'bad/truncated.jsonl.gz', 'bad/broken.parquet', 'bad/missing-field.jsonl'] }] };
  await assert.rejects(build('bad', bad), (e: unknown) => e instanceof BadInputError && /malformed\.jsonl:3: malformed JSON/.test(e.message));
  assert.ok(!existsSync(join(root, 'bad')));
  assert.deepEqual(readdirSync(root).filter((f) => f.includes('tmp')), [], 'no temporary directory left behind');

  const { stats } = await build('bad', bad, { skipBad: true });
  assert.deepEqual(stats.stages.read.dropped, { 'broken-parquet': 1, 'malformed-json': 1, 'missing-field': 1, 'truncated-gzip': 1 });
  assert.equal(stats.badInput.length, 4);
  assert.ok(stats.output.train.documents > 0);
});

test('kolm data build and inspect from the command line', async () => {
  const cfg = join(root, 'data.json');
  writeFileSync(cfg, JSON.stringify({ ...fixtureConfig(), sources: (fixtureConfig().sources as { path: string }[]).map((s) => ({ ...s, path: join(FIXTURES, s.path) })) }));
  await assert.rejects(cli(['build', '--config', cfg]), /needs --config and --out/);
  await assert.rejects(cli(['build', '--config', join(root, 'nope.json'), '--out', join(root, 'x')]), /nope\.json: not found/);
  await assert.rejects(cli(['build', '--config', join(FIXTURES, 'data.yaml'), '--out', join(root, 'x')]), /YAML configs are not supported/);
  writeFileSync(join(root, 'typo.json'), JSON.stringify({ ...fixtureConfig(), qualty: {} }));
  await assert.rejects(cli(['build', '--config', join(root, 'typo.json'), '--out', join(root, 'x')]), /unknown key "qualty"/);
  await assert.rejects(cli(['inspect', join(root, 'nothing')]), /cannot read shard index/);
  await assert.rejects(cli(['build', '--config', cfg, '--out', join(root, 'a')]), /already exists/);

  const tokDir = join(root, 'tokenizer');
  await (await fixtureTokenizer()).save(tokDir);
  const printed = await captured(async () => {
    await cli(['build', '--config', cfg, '--out', join(root, 'cli'), '--tokenizer', tokDir, '--quiet']);
    await cli(['inspect', join(root, 'cli'), '--verify', '--show', '1', '--tokenizer', tokDir]);
  });
  assert.match(printed, /\d+ training documents, \d+ tokens \((ko|en|code) \d+, /);
  assert.match(printed, /train-00000\.bin: train, \d+ tokens, \d+ documents ok/);
  assert.match(printed, /--- window 0\n/);
  // The CLI build equals the library build with the same seed.
  assert.ok(readFileSync(join(root, 'cli', 'train-00000.bin')).equals(readFileSync(join(root, 'a', 'train-00000.bin'))));
});

async function captured(fn: () => Promise<void>): Promise<string> {
  const log = console.log;
  const lines: string[] = [];
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    await fn();
  } finally {
    console.log = log;
  }
  return lines.join('\n');
}

test('worker threads give the same corpus and counts as the main thread', async () => {
  const { stats } = await build('workers', {}, { workers: 2 });
  const serial = JSON.parse(readFileSync(join(root, 'a', 'stats.json'), 'utf8'));
  for (const f of files(join(root, 'a')).filter((n) => n.endsWith('.bin') || n === 'index.json')) {
    assert.ok(readFileSync(join(root, 'a', f)).equals(readFileSync(join(root, 'workers', f))), `${f} differs`);
  }
  for (const [name, s] of Object.entries(stats.stages)) {
    const { seconds: _a, ...counts } = s;
    const { seconds: _b, ...expected } = serial.stages[name];
    assert.deepEqual(JSON.parse(JSON.stringify(counts)), expected, name);
  }
  assert.deepEqual(readdirSync(join(root, 'workers')).filter((f) => f.includes('tmp')), []);
});
