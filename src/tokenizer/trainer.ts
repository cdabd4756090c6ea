/** `trainTokenizer`: corpus → pre-token counts → (morpheme split) → BPE merges → Tokenizer. */
import { resolve } from 'node:path';
import { KolmError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { BpeModel } from './bpe.js';
import { learnMerges } from './bpe-trainer.js';
import { readCorpus } from './corpus.js';
import { MorphemeSegmenter } from './morpheme/segmenter.js';
import { DEFAULT_SPECIAL_TOKENS } from './special-tokens.js';
import { Tokenizer } from './tokenizer.js';
import { countPreTokens, splitMorphemes } from './word-counts.js';

/** hunspell-ko's files, relative to the working directory (the repository root): the shared raw-data folder. */
export const DEFAULT_LEXICON_DIR = '../shared/data/raw/lexicons';

export interface TrainOptions {
  /** Corpus files (JSONL/.gz with a `text` field, or plain text); or give `texts`. */
  input?: readonly string[];
  texts?: AsyncIterable<string> | Iterable<string>;
  /** Total vocabulary: 256 byte tokens + merges + special tokens. */
  vocabSize: number;
  /** Pairs seen fewer times are never merged (default 2). */
  minFrequency?: number;
  specialTokens?: readonly string[];
  /** Split Korean words into morphemes before counting pairs (default true). */
  morpheme?: boolean;
  /** Folder with hunspell-ko .aff/.dic (default DEFAULT_LEXICON_DIR); or pass a loaded `segmenter`. */
  lexicon?: string;
  segmenter?: MorphemeSegmenter;
  /** Read at most this many bytes of text. */
  maxBytes?: number;
  /** Progress bars and a summary on stderr (default true). */
  progress?: boolean;
}

export interface TrainStats {
  textBytes: number;
  uniquePreTokens: number;
  /** Unique pre-tokens the segmenter cut (0 without morpheme awareness). */
  segmentedWords: number;
  uniqueWords: number;
  merges: number;
  seconds: { count: number; segment: number; merge: number };
}

export async function trainTokenizer(opts: TrainOptions): Promise<Tokenizer> {
  return (await trainTokenizerWithStats(opts)).tokenizer;
}

export async function trainTokenizerWithStats(opts: TrainOptions): Promise<{ tokenizer: Tokenizer; stats: TrainStats }> {
  const specials = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const merges = opts.vocabSize - 256 - specials.length;
  if (!Number.isInteger(opts.vocabSize) || merges < 0) {
    throw new KolmError(`vocab size ${opts.vocabSize} is below 256 byte tokens + ${specials.length} special tokens`);
  }
  if (!opts.input?.length && !opts.texts) throw new KolmError('no training input: give input files or texts');
  const progress = opts.progress ?? true;
  const morpheme = opts.morpheme ?? true;
  // Load the lexicon first so a missing one fails before the long counting pass.
  const segmenter = morpheme ? (opts.segmenter ?? (await MorphemeSegmenter.load(resolve(opts.lexicon ?? DEFAULT_LEXICON_DIR)))) : undefined;

  let t = performance.now();
  let textBytes = 0;
  const bar = new Progress('count', opts.maxBytes, 'B', progress);
  const texts =
    opts.texts ??
    readCorpus(opts.input!, {
      maxBytes: opts.maxBytes,
      onBytes: (n) => {
        textBytes += n;
        bar.tick(n);
      },
    });
  let counts = await countPreTokens(texts);
  bar.finish(`${counts.size} unique pre-tokens`);
  const countSeconds = (performance.now() - t) / 1000;
  const uniquePreTokens = counts.size;

  t = performance.now();
  let segmentedWords = 0;
  if (segmenter) {
    const result = splitMorphemes(counts, segmenter);
    counts = result.counts;
    segmentedWords = result.split;
  }
  const segmentSeconds = (performance.now() - t) / 1000;

  t = performance.now();
  const learned = learnMerges(counts, { merges, minFrequency: opts.minFrequency ?? 2, progress });
  const mergeSeconds = (performance.now() - t) / 1000;
  const vocab = new Map(learned.tokens.map((token, id) => [token, id]));
  if (vocab.size !== learned.tokens.length) throw new Error('BPE training produced a duplicate token');
  const tokenizer = Tokenizer.fromModel(new BpeModel(vocab, learned.merges), specials);
  return {
    tokenizer,
    stats: {
      textBytes,
      uniquePreTokens,
      segmentedWords,
      uniqueWords: counts.size,
      merges: learned.merges.length,
      seconds: { count: countSeconds, segment: segmentSeconds, merge: mergeSeconds },
    },
  };
}
