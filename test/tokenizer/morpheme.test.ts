import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MorphemeSegmenter, trainTokenizer, type Tokenizer } from '../../src/tokenizer/index.js';
import { readGold, scoreSegmenter } from '../../src/tokenizer/morpheme/evaluate.js';
import { KolmError } from '../../src/util/errors.js';
import { excerptSegmenter, fixtureTokenizer, FIXTURES, randomText, rng } from './tokenizer-helpers.js';

const FULL_LEXICON = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'data', 'raw', 'lexicons');

test('stems are cut from particles and endings', async () => {
  const seg = await excerptSegmenter();
  const cases: [string, string][] = [
    ['학교에서', '학교|에서'],
    ['먹었습니다', '먹|었습니다'],
    ['공부했다', '공부|했다'],
    ['공부하다', '공부|하다'],
    ['가셨습니다', '가|셨습니다'],
    ['갔다', '갔다'],
    ['합니다', '합니다'],
    ['받았습니다', '받|았습니다'],
    ['도서관에서도', '도서관|에서도'],
    ['리눅스에서', '리눅스|에서'],
    [' 학교에서', ' 학교|에서'],
    ['(학생입니다', '(학생|입니다'],
    ['GNU의', 'GNU|의'],
    ['학교', '학교'],
    ['그러나', '그러나'],
    ['hello', 'hello'],
    ['  ', '  '],
  ];
  for (const [word, want] of cases) assert.equal(seg.split(word).join('|'), want, word);
});

test('pieces always concatenate back to the pre-token', async () => {
  const seg = await excerptSegmenter();
  const next = rng(9);
  for (let i = 0; i < 2000; i++) {
    const s = randomText(next, 6);
    assert.equal(seg.split(s).join(''), s);
  }
});

test('segmenter quality on hand-labelled held-out words', async () => {
  const gold = await readGold(join(FIXTURES, 'morpheme-gold-heldout.tsv'));
  const score = scoreSegmenter(await excerptSegmenter(), gold);
  assert.ok(score.exact >= 0.9 && score.precision >= 0.9 && score.recall >= 0.9, JSON.stringify(score));
});

test('with the full hunspell-ko (when ../shared is present) the score is the same', { skip: !existsSync(FULL_LEXICON) }, async () => {
  const full = await MorphemeSegmenter.load(FULL_LEXICON);
  for (const file of ['morpheme-gold.tsv', 'morpheme-gold-sampled.tsv', 'morpheme-gold-heldout.tsv']) {
    const gold = await readGold(join(FIXTURES, file));
    assert.deepEqual(scoreSegmenter(full, gold), scoreSegmenter(await excerptSegmenter(), gold), file);
  }
});

/** Byte offsets where tokens of `text` end. */
function tokenEnds(tok: Tokenizer, text: string): Set<number> {
  const ends = new Set<number>();
  let at = 0;
  for (const id of tok.encode(text)) ends.add((at += tok.decodeBytes([id]).length));
  return ends;
}

/** Labelled words (and the same with a leading space) where some token of `tok` spans the segmenter's cut. */
async function crossings(tok: Tokenizer, files: string[]): Promise<string[]> {
  const seg = await excerptSegmenter();
  const words: string[] = [];
  for (const file of files) words.push(...(await readGold(join(FIXTURES, file))).map(([w]) => w));
  const crossed: string[] = [];
  for (const word of words.flatMap((w) => [w, ' ' + w])) {
    const ends = tokenEnds(tok, word);
    let at = 0;
    for (const piece of seg.split(word).slice(0, -1)) {
      at += Buffer.byteLength(piece);
      if (!ends.has(at)) crossed.push(word);
    }
  }
  return crossed;
}

const CLEAR_CASES = ['morpheme-gold.tsv'];
const ALL_LISTS = ['morpheme-gold.tsv', 'morpheme-gold-sampled.tsv', 'morpheme-gold-heldout.tsv'];

test('morpheme-aware training: no token of the labelled example words spans the stem|ending cut', async () => {
  assert.deepEqual(await crossings(await fixtureTokenizer(true), CLEAR_CASES), []);
});

test('without morpheme awareness tokens do span those cuts, and far more often over all labelled words', async () => {
  // Merges learned inside words the segmenter leaves whole (수있습니다) or from rare syllables' bytes can still
  // span a cut elsewhere, so over all words the guarantee is statistical, not absolute.
  assert.ok((await crossings(await fixtureTokenizer(false), CLEAR_CASES)).length > 0);
  const plain = (await crossings(await fixtureTokenizer(false), ALL_LISTS)).length;
  const aware = (await crossings(await fixtureTokenizer(true), ALL_LISTS)).length;
  assert.ok(aware * 4 < plain, `morpheme-aware ${aware} vs plain ${plain} crossings`);
});

test('a missing lexicon fails before any text is read, pointing at --lexicon and --no-morpheme', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-lex-'));
  try {
    await assert.rejects(
      trainTokenizer({ texts: ['x'], vocabSize: 300, lexicon: dir, progress: false }),
      (err: unknown) => err instanceof KolmError && /no hunspell-ko lexicon/.test(err.message) && /--no-morpheme/.test(err.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
