/**
 * `kolm tokenizer train | encode | decode | stats`: the CLI over src/tokenizer. Output files are written atomically;
 * progress goes to stderr, results to stdout.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { formatBytes, formatDuration } from '../util/format.js';
import { countOption } from './args.js';
import { KolmError } from '../util/errors.js';
import { Tokenizer, trainTokenizerWithStats, DEFAULT_LEXICON_DIR } from '../tokenizer/index.js';
import { StatsCollector } from '../tokenizer/stats.js';

const USAGE = `usage:
  kolm tokenizer train --input FILE... --vocab-size N --out DIR [--no-morpheme] [--min-frequency N]
                       [--lexicon DIR] [--max-bytes N]
  kolm tokenizer encode --tokenizer DIR (--text T | --file F) [--json] [--allow-special]
  kolm tokenizer decode --tokenizer DIR --ids 1,2,3 [--skip-special]
  kolm tokenizer stats --tokenizer DIR --file F [--json]

train reads JSONL (.gz) records with a "text" field, or plain text. --vocab-size counts the 256 byte tokens, the
merges and the special tokens. Korean words are split into morphemes (hunspell-ko from --lexicon, default
${DEFAULT_LEXICON_DIR}) before pair counting unless --no-morpheme. --max-bytes takes k/M/G suffixes.
encode --file encodes each line separately (no special tokens) and prints one result per line.
stats reads plain text (one document per line) or JSONL (language from a "lang" field, else from the script).`;

export async function run(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'train':
      return train(rest);
    case 'encode':
      return encode(rest);
    case 'decode':
      return decode(rest);
    case 'stats':
      return stats(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      console.log(USAGE);
      return;
    default:
      throw new KolmError(`unknown tokenizer command '${sub}'\n\n${USAGE}`);
  }
}

function need(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new KolmError(`missing ${flag}\n\n${USAGE}`);
  return value;
}

async function train(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      input: { type: 'string', multiple: true },
      'vocab-size': { type: 'string' },
      out: { type: 'string' },
      'no-morpheme': { type: 'boolean', default: false },
      'min-frequency': { type: 'string', default: '2' },
      lexicon: { type: 'string' },
      'max-bytes': { type: 'string' },
    },
  });
  // `--input a b c` leaves b and c as positionals.
  const input = [...(values.input ?? []), ...positionals];
  if (!input.length) throw new KolmError(`missing --input\n\n${USAGE}`);
  const out = need(values.out, '--out');
  const started = performance.now();
  const { tokenizer, stats } = await trainTokenizerWithStats({
    input,
    vocabSize: countOption('vocab-size', need(values['vocab-size'], '--vocab-size'), { min: 0 })!,
    minFrequency: countOption('min-frequency', values['min-frequency'], { min: 0 })!,
    morpheme: !values['no-morpheme'],
    lexicon: values.lexicon,
    maxBytes: countOption('max-bytes', values['max-bytes'], { min: 0 }),
  });
  await tokenizer.save(out);
  const seconds = (performance.now() - started) / 1000;
  console.error(
    `trained on ${formatBytes(stats.textBytes)} in ${formatDuration(seconds)}: ${stats.uniquePreTokens} unique pre-tokens` +
      (values['no-morpheme'] ? '' : ` (${stats.segmentedWords} cut into morphemes)`) +
      `, ${stats.merges} merges, vocab ${tokenizer.vocabSize}`,
  );
  console.log(out);
}

async function encode(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      tokenizer: { type: 'string' },
      text: { type: 'string' },
      file: { type: 'string' },
      json: { type: 'boolean', default: false },
      'allow-special': { type: 'boolean', default: false },
    },
  });
  if ((values.text === undefined) === (values.file === undefined)) throw new KolmError(`give exactly one of --text and --file\n\n${USAGE}`);
  const tok = await Tokenizer.load(need(values.tokenizer, '--tokenizer'));
  const show = (ids: number[]): string => (values.json ? JSON.stringify({ ids }) : ids.join(' '));
  if (values.text !== undefined) {
    console.log(show(tok.encode(values.text, { allowSpecial: values['allow-special'] })));
    return;
  }
  let buffered = '';
  for await (const line of readLines(values.file!)) {
    buffered += show(tok.encode(line)) + '\n';
    if (buffered.length > 1 << 16) {
      await write(buffered);
      buffered = '';
    }
  }
  await write(buffered);
}

async function decode(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { tokenizer: { type: 'string' }, ids: { type: 'string' }, 'skip-special': { type: 'boolean', default: false } },
  });
  const ids = need(values.ids, '--ids')
    .trim()
    .split(/[\s,]+/)
    .map((s) => {
      if (!/^\d+$/.test(s)) throw new KolmError(`--ids must be non-negative integers separated by commas, got '${s}'`);
      return Number(s);
    });
  const tok = await Tokenizer.load(need(values.tokenizer, '--tokenizer'));
  await write(tok.decode(ids, { skipSpecial: values['skip-special'] }) + '\n');
}

async function stats(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { tokenizer: { type: 'string' }, file: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const tok = await Tokenizer.load(need(values.tokenizer, '--tokenizer'));
  const file = need(values.file, '--file');
  const jsonl = /\.jsonl?(\.gz)?$/i.test(file);
  const collector = new StatsCollector(tok);
  let lineNo = 0;
  for await (const line of readLines(file)) {
    lineNo++;
    if (!jsonl) {
      if (line) collector.add(line);
      continue;
    }
    if (!line.trim()) continue;
    let record: { text?: unknown; lang?: unknown };
    try {
      record = JSON.parse(line);
    } catch {
      throw new KolmError(`${file}:${lineNo}: not valid JSON`);
    }
    if (typeof record.text !== 'string') throw new KolmError(`${file}:${lineNo}: record has no string field "text"`);
    collector.add(record.text, typeof record.lang === 'string' ? record.lang : undefined);
  }
  const result = collector.result();
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`${'lang'.padEnd(12)} ${'docs'.padStart(8)} ${'chars'.padStart(12)} ${'tokens'.padStart(12)} ${'chars/tok'.padStart(9)} ${'bytes/tok'.padStart(9)}`);
  for (const [lang, s] of Object.entries(result)) {
    console.log(
      `${lang.padEnd(12)} ${String(s.docs).padStart(8)} ${String(s.chars).padStart(12)} ${String(s.tokens).padStart(12)} ` +
        `${s.charsPerToken.toFixed(3).padStart(9)} ${s.bytesPerToken.toFixed(3).padStart(9)}`,
    );
  }
}

async function* readLines(path: string): AsyncGenerator<string> {
  await access(path).catch((err: NodeJS.ErrnoException) => {
    throw new KolmError(`cannot read ${path}: ${err.code ?? err.message}`);
  });
  const file = createReadStream(path);
  yield* createInterface({ input: path.endsWith('.gz') ? file.pipe(createGunzip()) : file, crlfDelay: Infinity });
}

function write(text: string): Promise<void> {
  return new Promise((done, fail) => process.stdout.write(text, (err) => (err ? fail(err) : done())));
}
