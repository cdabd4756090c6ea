/**
 * `kolm bench tokenizer [--json]`: on real text from the shared raw corpora (held-out documents kept apart),
 * - training time of kolm's BPE trainer vs HF tokenizers' Rust trainer (@anush008/tokenizers) on the same corpus,
 * - encode MB/s of kolm vs the Rust peer and the JS peer (@huggingface/tokenizers) on the same tokenizer.json and text,
 *   with a check that all three produce identical ids,
 * - Korean chars/token on held-out Korean for kolm at the given vocab with and without morpheme awareness, next to
 *   GPT-4o's o200k and GPT-4's cl100k (gpt-tokenizer),
 * - the morpheme segmenter's score on the hand-labelled held-out word list.
 */
import { createRequire } from 'node:module';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createGunzip } from 'node:zlib';
import { KolmError } from '../src/util/errors.js';
import { intOption, numberOption } from '../src/cli/args.js';
import { Tokenizer, trainTokenizerWithStats, MorphemeSegmenter, DEFAULT_LEXICON_DIR } from '../src/tokenizer/index.js';
import { readGold, scoreSegmenter } from '../src/tokenizer/morpheme/evaluate.js';
import { scriptLanguage } from '../src/text/language.js';
import { loadPeers } from './peers.js';
import { rustEncode } from './tokenizer-published.js';

interface Doc {
  text: string;
  source: string;
}

/** Every tenth document is held out: never trained on, used for chars/token and encode speed. */
const HELD_OUT_EVERY = 10;

/** Reads documents until `trainBytes` of training text and `heldOutBytes` of held-out text are collected. */
async function readDocs(path: string, trainBytes: number, heldOutBytes: number): Promise<{ train: Doc[]; heldOut: Doc[] }> {
  const train: Doc[] = [];
  const heldOut: Doc[] = [];
  let trainSeen = 0;
  let heldOutSeen = 0;
  let i = 0;
  const input = createReadStream(path).pipe(createGunzip());
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (!line) continue;
    if (trainSeen >= trainBytes && heldOutSeen >= heldOutBytes) break;
    const { text, source } = JSON.parse(line) as Doc;
    const bytes = Buffer.byteLength(text);
    if (i++ % HELD_OUT_EVERY === HELD_OUT_EVERY - 1) {
      heldOut.push({ text, source });
      heldOutSeen += bytes;
    } else if (trainSeen < trainBytes) {
      train.push({ text, source });
      trainSeen += bytes;
    }
  }
  return { train, heldOut };
}

const mb = (texts: readonly string[]): number => texts.reduce((s, t) => s + Buffer.byteLength(t), 0) / 1e6;
const chars = (texts: readonly string[]): number => texts.reduce((s, t) => s + [...t].length, 0);
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      data: { type: 'string', default: '../shared/data/raw' },
      lexicon: { type: 'string', default: DEFAULT_LEXICON_DIR },
      'vocab-size': { type: 'string', default: '32000' },
      'ko-mb': { type: 'string', default: '100' },
      'en-mb': { type: 'string', default: '6' },
      'code-mb': { type: 'string', default: '6' },
      'encode-mb': { type: 'string', default: '6' },
      'no-rust-train': { type: 'boolean', default: false },
      published: { type: 'boolean', default: false },
      'published-mb': { type: 'string', default: '1' },
      keep: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log('usage: kolm bench tokenizer [--data DIR (../shared/data/raw)] [--lexicon DIR] [--vocab-size 32000] [--ko-mb 100] [--en-mb 6] [--code-mb 6] [--encode-mb 6] [--no-rust-train] [--keep DIR] [--json]\n       kolm bench tokenizer --published [--data DIR] [--published-mb 1 (of each of ko, en, code)] [--json]');
    return;
  }
  if (values.published) {
    const { benchPublished } = await import('./tokenizer-published.js');
    const mbEach = numberOption('published-mb', values['published-mb'], { min: 0 })!;
    const out = await benchPublished(values.data!, mbEach, (s) => values.json || console.error(s));
    if (values.json) console.log(JSON.stringify({ bench: 'tokenizer-published', ...out }));
    else for (const r of out.results) console.log(`${r.tokenizer}: kolm ${r.kolm_mbs} MB/s, Rust ${r.rust_1thread_mbs} (1 thread) / ${r.rust_parallel_mbs} MB/s (parallel), identical ids: ${r.identical_ids}`);
    return;
  }
  // Every size has a default, so the parsers never return undefined here.
  const num = (name: 'ko-mb' | 'en-mb' | 'code-mb' | 'encode-mb'): number => numberOption(name, values[name], { min: 0 })!;
  const vocabSize = intOption('vocab-size', values['vocab-size'], { min: 1 })!;
  // The peers, before anything is measured (they are development dependencies: an installed kolm may lack them).
  const require = createRequire(import.meta.url);
  // Single-threaded like kolm; the parallel figure is reported separately.
  process.env.TOKENIZERS_PARALLELISM = 'false';
  const { rust, hfJs, o200k, cl100k } = await loadPeers<{
    rust: typeof import('@anush008/tokenizers');
    hfJs: typeof import('@huggingface/tokenizers');
    o200k: typeof import('gpt-tokenizer/encoding/o200k_base');
    cl100k: typeof import('gpt-tokenizer/encoding/cl100k_base');
  }>('tokenizer', {
    rust: { pkg: '@anush008/tokenizers', load: () => require('@anush008/tokenizers') as typeof import('@anush008/tokenizers') },
    hfJs: { pkg: '@huggingface/tokenizers', load: () => import('@huggingface/tokenizers') },
    o200k: { pkg: 'gpt-tokenizer', load: () => import('gpt-tokenizer/encoding/o200k_base') },
    cl100k: { pkg: 'gpt-tokenizer', load: () => import('gpt-tokenizer/encoding/cl100k_base') },
  });
  const JsTokenizer = hfJs.Tokenizer;
  const dataDir = resolve(values.data!);
  const log = (msg: string): void => {
    if (!values.json) console.error(msg);
  };

  const perLang = (num('encode-mb') * 1e6) / 3;
  const [ko, en, code] = await Promise.all([
    readDocs(join(dataDir, 'ko.jsonl.gz'), num('ko-mb') * 1e6, Infinity),
    readDocs(join(dataDir, 'en.jsonl.gz'), num('en-mb') * 1e6, perLang),
    readDocs(join(dataDir, 'code.jsonl.gz'), num('code-mb') * 1e6, perLang),
  ]).catch((err: Error) => {
    throw new KolmError(`cannot read the raw corpora in ${dataDir} (${err.message}); pass --data DIR`);
  });
  const trainTexts = [...ko.train, ...en.train, ...code.train].map((d) => d.text);
  // Exact duplicates of training documents would flatter the held-out numbers.
  const seen = new Set(trainTexts);
  const heldKo = ko.heldOut.filter((d) => !seen.has(d.text));
  // Korean proper: the lines of held-out documents that are mostly Hangul (the documents also carry untranslated
  // English, markup and code, which every tokenizer compresses well and which would blur the comparison).
  const koLines = (docs: Doc[]): string[] => docs.flatMap((d) => d.text.split('\n')).filter((l) => scriptLanguage(l) === 'ko');
  const heldKoLines = koLines(heldKo);
  const heldKoHelpLines = koLines(heldKo.filter((d) => d.source.startsWith('libreoffice-help-ko:')));
  const capped = (docs: Doc[]): string[] => {
    const out: string[] = [];
    let bytes = 0;
    for (const d of docs) {
      if (bytes >= perLang) break;
      out.push(d.text);
      bytes += Buffer.byteLength(d.text);
    }
    return out;
  };
  const encodeTexts = [...capped(ko.heldOut), ...capped(en.heldOut), ...capped(code.heldOut)];
  log(`train ${mb(trainTexts).toFixed(1)} MB (ko ${mb(ko.train.map((d) => d.text)).toFixed(1)}), held-out Korean lines ${mb(heldKoLines).toFixed(1)} MB`);

  const segmenter = await MorphemeSegmenter.load(resolve(values.lexicon!));
  const progress = !values.json;
  log('training kolm with morpheme awareness…');
  const morph = await trainTokenizerWithStats({ texts: trainTexts, vocabSize, segmenter, progress });
  log('training kolm without…');
  const plain = await trainTokenizerWithStats({ texts: trainTexts, vocabSize, morpheme: false, progress });

  const dir = await mkdtemp(join(tmpdir(), 'kolm-bench-tok-'));
  try {
    let trainCompare: Record<string, unknown> = { skipped: true };
    if (!values['no-rust-train']) {
      // The binding exposes only the model's default BpeTrainer: vocab 30000, min_frequency 0, no morphemes.
      // kolm trains to the same size (30000 + its special tokens, which the Rust side keeps as added tokens).
      const corpusPath = join(dir, 'corpus.txt');
      await writeFile(corpusPath, trainTexts.join('\n') + '\n');
      const peer = rust.Tokenizer.fromString(morph.tokenizer.toJsonText());
      let t = performance.now();
      peer.train([corpusPath]);
      const rustSeconds = (performance.now() - t) / 1000;
      log('training kolm at the Rust trainer\'s settings…');
      t = performance.now();
      const same = await trainTokenizerWithStats({
        input: [corpusPath],
        vocabSize: 30000 + Object.keys(morph.tokenizer.specialTokens).length,
        minFrequency: 1,
        morpheme: false,
        progress,
      });
      const kolmSeconds = (performance.now() - t) / 1000;
      trainCompare = {
        corpus_mb: round(mb(trainTexts), 1),
        vocab: 30000,
        kolm_s: round(kolmSeconds, 2),
        rust_s: round(rustSeconds, 2),
        kolm_speed_vs_rust: round(rustSeconds / kolmSeconds, 2),
        kolm_merges: same.stats.merges,
        rust_vocab: peer.getVocabSize(false),
      };
    }

    log('encoding…');
    await morph.tokenizer.save(dir);
    const json = morph.tokenizer.toJsonText();
    const textMb = mb(encodeTexts);
    const fresh = await Tokenizer.load(dir); // cold cache, as a new process would start
    let t = performance.now();
    const kolmIds = encodeTexts.map((s) => fresh.encode(s));
    const kolmMbs = textMb / ((performance.now() - t) / 1000);

    const rust1 = await rustEncode(() => rust.Tokenizer.fromString(json), encodeTexts, textMb, false);
    const rustN = await rustEncode(() => rust.Tokenizer.fromString(json), encodeTexts, textMb, true);
    const jsPeer = new JsTokenizer(JSON.parse(json), {});
    t = performance.now();
    const jsIds = encodeTexts.map((s) => jsPeer.encode(s, { add_special_tokens: false }).ids);
    const jsMbs = textMb / ((performance.now() - t) / 1000);
    const same = (a: number[][]): boolean => a.every((ids, i) => ids.length === kolmIds[i]!.length && ids.every((x, j) => x === kolmIds[i]![j]));

    log('counting tokens on held-out Korean…');
    const ratios = (texts: string[]): Record<string, number> => {
      const c = chars(texts);
      const count = (encode: (s: string) => ArrayLike<number>): number => texts.reduce((s, x) => s + encode(x).length, 0);
      return {
        chars: c,
        kolm_morpheme: round(c / count((s) => morph.tokenizer.encode(s))),
        kolm_plain: round(c / count((s) => plain.tokenizer.encode(s))),
        o200k: round(c / count((s) => o200k.encode(s, { disallowedSpecial: new Set() }))),
        cl100k: round(c / count((s) => cl100k.encode(s, { disallowedSpecial: new Set() }))),
      };
    };
    const koAll = ratios(heldKoLines);
    const koHelp = ratios(heldKoHelpLines);
    const koDocs = ratios(heldKo.map((d) => d.text));

    const goldPath = resolve('test/fixtures/tokenizer/morpheme-gold-heldout.tsv');
    const gold = await readGold(goldPath).catch(() => undefined);
    const score = gold && scoreSegmenter(segmenter, gold);

    const result = {
      bench: 'tokenizer',
      vocab_size: vocabSize,
      corpus: {
        train_mb: round(mb(trainTexts), 1),
        train_ko_mb: round(mb(ko.train.map((d) => d.text)), 1),
        train_en_mb: round(mb(en.train.map((d) => d.text)), 1),
        train_code_mb: round(mb(code.train.map((d) => d.text)), 1),
        heldout_ko_docs: heldKo.length,
        heldout_ko_lines: heldKoLines.length,
        heldout_ko_lines_mb: round(mb(heldKoLines), 2),
      },
      train: {
        kolm_morpheme_s: round(morph.stats.seconds.count + morph.stats.seconds.segment + morph.stats.seconds.merge, 2),
        kolm_plain_s: round(plain.stats.seconds.count + plain.stats.seconds.merge, 2),
        segmented_words: morph.stats.segmentedWords,
        unique_pretokens: morph.stats.uniquePreTokens,
        vs_rust: trainCompare,
      },
      encode: {
        text_mb: round(textMb, 2),
        kolm_mb_s: round(kolmMbs, 2),
        rust_mb_s: round(rust1.mbs, 2),
        rust_parallel_mb_s: round(rustN.mbs, 2),
        hf_js_mb_s: round(jsMbs, 2),
        kolm_over_rust: round(kolmMbs / rust1.mbs, 2),
        kolm_over_rust_parallel: round(kolmMbs / rustN.mbs, 2),
        kolm_over_js: round(kolmMbs / jsMbs, 2),
        identical_ids_rust: same(rust1.ids),
        identical_ids_js: same(jsIds),
      },
      ko_chars_per_token: koAll,
      ko_chars_per_token_libreoffice_help: koHelp,
      ko_chars_per_token_whole_documents: koDocs,
      morpheme_segmenter: score && { gold: 'test/fixtures/tokenizer/morpheme-gold-heldout.tsv', words: score.words, exact: round(score.exact), precision: round(score.precision), recall: round(score.recall) },
      targets: {
        encode_ge_half_rust: kolmMbs >= 0.5 * rust1.mbs,
        encode_ge_2x_js: kolmMbs >= 2 * jsMbs,
        ko_chars_per_token_ge_2_65_morpheme: koAll.kolm_morpheme! >= 2.65,
        ko_chars_per_token_ge_2_65_plain: koAll.kolm_plain! >= 2.65,
      },
    };
    if (values.keep) {
      await morph.tokenizer.save(join(resolve(values.keep), 'morpheme'));
      await plain.tokenizer.save(join(resolve(values.keep), 'plain'));
    }
    console.log(values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
