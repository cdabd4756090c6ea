/**
 * `kolm bench data [--json]`: MB/s of input through the whole pipeline (read → … → tokenize → pack) on
 * ../shared/data/raw, with every stage's share of the time. The tokenizer is --tokenizer DIR, or one trained here on a
 * sample of the same data (training time is reported separately, not counted in MB/s).
 */
import { parseArgs } from 'node:util';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCorpus, loadTokenizer, readRecords, resolveConfig, type TextTokenizer } from '../src/data/index.js';
import { Tokenizer, trainTokenizer } from '../src/tokenizer/index.js';
import { KolmError } from '../src/util/errors.js';
import { intOption } from '../src/cli/args.js';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * A 32k kolm tokenizer trained on the first 8 MB of text of each of ko/en/code (morpheme-aware when the hunspell-ko
 * lexicon is beside the data), cached under .kolm-cache so repeated runs measure only the pipeline.
 */
async function benchTokenizer(raw: string, cache: string): Promise<{ tokenizer: TextTokenizer; dir: string; trained: boolean }> {
  const dir = join(cache, 'bench-data-tokenizer-32k');
  if (existsSync(join(dir, 'tokenizer.json'))) return { tokenizer: await Tokenizer.load(dir), dir, trained: false };
  const texts: string[] = [];
  for (const file of ['ko.jsonl.gz', 'en.jsonl.gz', 'code.jsonl.gz']) {
    let bytes = 0;
    for await (const r of readRecords(join(raw, file), { fields: ['text'] })) {
      texts.push(r.values[0]);
      if ((bytes += r.values[0].length) > 8e6) break;
    }
  }
  const lexicon = join(raw, 'lexicons');
  const tokenizer = await trainTokenizer({ texts, vocabSize: 32000, morpheme: existsSync(join(lexicon, 'hunspell-ko.dic')), lexicon, progress: false });
  await tokenizer.save(dir);
  return { tokenizer, dir, trained: true };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean' }, raw: { type: 'string' }, tokenizer: { type: 'string' }, limit: { type: 'string' }, workers: { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log('usage: kolm bench data [--raw DIR (../shared/data/raw)] [--tokenizer DIR] [--limit N] [--workers N] [--json]');
    return;
  }
  const raw = resolve(values.raw ?? join(repoRoot, '..', 'shared', 'data', 'raw'));
  if (!existsSync(join(raw, 'ko.jsonl.gz'))) throw new KolmError(`raw corpus not found at ${raw} (use --raw DIR)`);
  const limit = intOption('limit', values.limit, { min: 1 });
  const trainStart = performance.now();
  const { tokenizer, dir: tokenizerDir, trained } = values.tokenizer
    ? { tokenizer: await loadTokenizer(resolve(values.tokenizer)), dir: resolve(values.tokenizer), trained: false }
    : await benchTokenizer(raw, join(repoRoot, '.kolm-cache'));
  const workers = intOption('workers', values.workers, { min: 0 }) ?? availableParallelism();
  const tokenizerSeconds = (performance.now() - trainStart) / 1000;

  const config = resolveConfig({
    tokenizer: '.',
    sources: [
      { name: 'ko', path: 'ko.jsonl.gz', limit },
      { name: 'en', path: 'en.jsonl.gz', limit },
      { name: 'code', path: 'code.jsonl.gz', lang: 'code', limit },
      { name: 'parallel', path: 'parallel.en-ko.jsonl.gz', fields: ['en', 'ko'], group: { by: 'source', keyPattern: '^[^#]*', maxChars: 8000 }, limit },
    ],
  }, raw);
  const out = mkdtempSync(join(tmpdir(), 'kolm-bench-data-'));
  try {
    const { stats } = await buildCorpus({ config, outDir: join(out, 'corpus'), tokenizer, tokenizerDir, workers, progress: !values.json });
    const tokens = stats.output.train.tokens + stats.output.validation.tokens;
    const result = {
      bench: 'data',
      input_mb: +(stats.input.bytes / 1e6).toFixed(1),
      disk_mb: +(stats.input.diskBytes / 1e6).toFixed(1),
      seconds: stats.seconds,
      mb_per_s: stats.mbPerSecond,
      records: stats.input.records,
      documents_kept: stats.stages.tokenize.kept,
      tokens_written: tokens,
      stage_seconds: Object.fromEntries(Object.entries(stats.stages).map(([k, v]) => [k, v.seconds])),
      tokenizer: { hash: tokenizer.hash.slice(0, 16), vocab: tokenizer.vocabSize, trained_here: trained, seconds: +tokenizerSeconds.toFixed(1) },
      workers,
      node: process.version,
      cpus: availableParallelism(),
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`data pipeline: ${result.input_mb} MB in ${result.seconds} s = ${result.mb_per_s} MB/s; ${result.documents_kept} documents, ${tokens} tokens`);
      console.log(`stage seconds: ${Object.entries(result.stage_seconds).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
