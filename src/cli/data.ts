/** `kolm data build | inspect`: build a tokenized corpus from a config, or look inside a built one. */
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { KolmError } from '../util/errors.js';
import { intOption } from './args.js';
import { buildCorpus, loadConfig, loadTokenizer, readIndex, bytesPer, BadInputError, TokenLoader } from '../data/index.js';

const USAGE = `usage:
  kolm data build --config data.json --out DIR [--seed N] [--skip-bad] [--force] [--tokenizer DIR] [--workers N] [--quiet]
      run every stage (read, normalize, langid, quality, pii, safety, dedup, mix, tokenize+pack) and write
      DIR/{train,validation}-NNNNN.bin, DIR/index.json, DIR/stats.json, DIR/summary.md;
      --workers: threads for the per-document stages (default: one per CPU; 0 runs them in the main thread)
  kolm data inspect DIR [--verify] [--show N --tokenizer DIR]
      print the shard index; --verify re-hashes every shard; --show decodes N random training windows`;

export async function run(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'build') return build(rest);
  if (sub === 'inspect') return inspect(rest);
  if (sub === 'sft-mix') return (await import('./data-sft-mix.js')).run(rest);
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(USAGE);
    return;
  }
  throw new KolmError(`unknown data command '${sub}'\n\n${USAGE}`);
}

async function build(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, 'skip-bad': { type: 'boolean' },
      force: { type: 'boolean' }, tokenizer: { type: 'string' }, quiet: { type: 'boolean' }, workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(USAGE);
  if (!values.config || !values.out) throw new KolmError(`data build needs --config and --out\n\n${USAGE}`);
  const seed = intOption('seed', values.seed);
  const workers = intOption('workers', values.workers, { min: 0 }) ?? availableParallelism();
  const config = loadConfig(values.config);
  if (existsSync(values.out) && !values.force) throw new KolmError(`${values.out} already exists (use --force to replace it)`);
  const tokenizerDir = values.tokenizer ?? config.tokenizer;
  if (!tokenizerDir) throw new KolmError(`${values.config}: no "tokenizer" in the config; pass --tokenizer DIR`);
  const tokenizer = await loadTokenizer(tokenizerDir);
  try {
    const { stats, outDir } = await buildCorpus({
      config, outDir: values.out, tokenizer, tokenizerDir, workers, seed, skipBad: values['skip-bad'], force: values.force, progress: !values.quiet,
    });
    const t = stats.output.train;
    console.log(`${outDir}: ${t.documents} training documents, ${t.tokens} tokens (${Object.entries(t.tokensByLang).map(([l, n]) => `${l} ${n}`).join(', ')}); ` +
      `validation ${stats.output.validation.tokens} tokens; ${stats.mbPerSecond} MB/s. See summary.md and stats.json.`);
  } catch (err) {
    if (err instanceof BadInputError) throw new KolmError(`${err.message}\n(rerun with --skip-bad to count and skip bad input)`);
    throw err;
  }
}

async function inspect(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { verify: { type: 'boolean' }, show: { type: 'string' }, tokenizer: { type: 'string' }, seed: { type: 'string' } },
  });
  const dir = positionals[0];
  if (!dir) throw new KolmError(`data inspect needs a directory\n\n${USAGE}`);
  const index = readIndex(dir);
  console.log(`${dir}: ${index.dtype} tokens, vocab ${index.vocabSize}, eos ${index.eosId}, tokenizer ${index.tokenizerHash}, seed ${index.seed}`);
  for (const [split, s] of Object.entries(index.splits)) {
    console.log(`  ${split}: ${s.documents} documents (${s.fimDocuments} FIM), ${s.tokens} tokens; by language ${JSON.stringify(s.tokensByLang)}; by source ${JSON.stringify(s.tokensBySource)}`);
  }
  let bad = 0;
  for (const shard of index.shards) {
    const size = statSync(join(dir, shard.file)).size;
    let note = size === shard.tokens * bytesPer(index.dtype) ? '' : ` SIZE MISMATCH (${size} bytes)`;
    if (values.verify) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(join(dir, shard.file))) hash.update(chunk as Buffer);
      if (hash.digest('hex') !== shard.sha256) note += ' SHA256 MISMATCH';
    }
    if (note) bad++;
    console.log(`  ${shard.file}: ${shard.split}, ${shard.tokens} tokens, ${shard.documents.offsets.length} documents${note || (values.verify ? ' ok' : '')}`);
  }
  if (values.show) {
    if (!values.tokenizer) throw new KolmError('--show needs --tokenizer DIR to decode');
    const tok = await loadTokenizer(values.tokenizer);
    if (tok.hash !== index.tokenizerHash) console.warn(`warning: tokenizer hash ${tok.hash} differs from the index's`);
    const loader = new TokenLoader(dir, { seqLen: 256, seed: intOption('seed', values.seed) ?? 0 });
    const windows = intOption('show', values.show, { min: 0 })!;
    for (let i = 0; i < windows; i++) console.log(`--- window ${i}\n${tok.decode(loader.nextWindow())}`);
    loader.close();
  }
  if (bad) throw new KolmError(`${bad} shard(s) failed verification`);
}
