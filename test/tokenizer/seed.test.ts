/**
 * HyperCLOVA X SEED's pre-tokenizer (three Split regexes applied in sequence, then ByteLevel without its regex) on a
 * SEED-shaped tokenizer.json: kolm's ids equal HF tokenizers' Rust build's on Korean, English and code lines, mixed
 * digits / CJK / kana / punctuation and random Unicode, with and without special tokens; decodes equal the Rust
 * decode and give the text back; the file maps to llama.cpp's "hyperclovax" pre-tokenizer name.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { ggufPreTokenizerName, readPublishedVocab } from '../../src/interchange/gguf-vocab.js';
import { allFixtureLines, randomText, rng, SEED_SPECIALS, seedTokenizerDir, wellFormed } from './tokenizer-helpers.js';

const rust = createRequire(import.meta.url)('@anush008/tokenizers') as typeof import('@anush008/tokenizers');

const dir = await seedTokenizerDir();
after(() => rmSync(dir, { recursive: true, force: true }));
const jsonPath = join(dir, 'tokenizer.json');

/** Where the three splits decide: digit runs, CJK / kana runs next to Hangul and Latin, punctuation before letters. */
const MIXED = [
  '2025년 12월 4일, 가격은 1,234,567원 (약 3.14%) 할인',
  '１２３ ٣٤٥ ⅫⅣ ²³ 10억 원, 0.5B 모델',
  '漢字とひらがなとカタカナ混じり: 東京タワーは333メートル。',
  '한국어漢字日本語テキストmixed전환ｶﾀｶﾅ ㈜ 한자(漢字)',
  '中文字符龥龦 U+9FA6 is outside the range; 〆々〇 are not kanji here',
  "HTTPServer's parseJSON_v2() -> .then(x => x?.y ?? 'z'); #include <stdio.h>",
  '...!!!??? "quoted" \'single\' `tick` ~tilde~ @user #tag $var %mod ^xor &and *ptr',
  '.NET ,Hello ;World :Key -Flag /usr/bin \\n\\t [Array] {Object} |pipe| _under',
  '  leading\n\n\r\n  trailing \t\u3000\u00a0 spaces   \n',
  'é e\u0301 한\u1100\u1161 ﬁ 😀👍🏽 👨‍👩‍👧 🇰🇷',
  SEED_SPECIALS.join('안녕 ') + ' 2024',
  `${SEED_SPECIALS[1]}user\n질문 1+1=?${SEED_SPECIALS[2]}\n${SEED_SPECIALS[1]}assistant\n2입니다.${SEED_SPECIALS[3]}`,
];

function texts(): string[] {
  const koEn = readFileSync(join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'text', 'ko-en.txt'), 'utf8').split('\n').filter(Boolean);
  const next = rng(29);
  return [...allFixtureLines(), ...koEn, ...MIXED, ...Array.from({ length: 2000 }, () => randomText(next, 20))];
}

test('SEED-shaped tokenizer: ids equal the Rust peer\'s, with and without special tokens', async () => {
  const tok = await Tokenizer.load(dir);
  const peer = rust.Tokenizer.fromFile(jsonPath);
  for (const s of SEED_SPECIALS) assert.equal(tok.tokenId(s), peer.tokenToId(s), s);
  const all = texts();
  for (const addSpecialTokens of [false, true]) {
    const theirs: number[][] = [];
    for (let i = 0; i < all.length; i += 500) for (const e of await peer.encodeBatch(all.slice(i, i + 500), { addSpecialTokens })) theirs.push(e.getIds());
    all.forEach((s, i) => {
      assert.deepEqual(tok.encode(s, { allowSpecial: true, addSpecialTokens }), theirs[i], `add_special_tokens ${addSpecialTokens}: ${JSON.stringify(s)}`);
    });
  }
});

test('SEED-shaped tokenizer: every digit is its own pre-token and CJK / kana runs are split from Hangul', async () => {
  const tok = await Tokenizer.load(dir);
  const pieces = (s: string) => tok.encode(s).map((id) => tok.decode([id]));
  assert.deepEqual(pieces('2025'), ['2', '0', '2', '5']);
  for (const run of ['漢字', 'ひらがな', 'カタカナ']) {
    // No token spans Hangul and the run: a token boundary falls at the run's first and last byte (in UTF-8).
    const ids = tok.encode(`한국어${run}한국어`);
    let at = 0;
    const boundaries = new Set([0, ...ids.map((id) => (at += tok.decodeBytes([id]).length))]);
    const start = Buffer.byteLength('한국어');
    assert.ok(boundaries.has(start) && boundaries.has(start + Buffer.byteLength(run)), `${run}: ${[...boundaries].join(' ')}`);
  }
});

test('SEED-shaped tokenizer: decodes equal the Rust decode and give the text back', async () => {
  const tok = await Tokenizer.load(dir);
  const peer = rust.Tokenizer.fromFile(jsonPath);
  const all = texts();
  for (let i = 0; i < all.length; i += 2) {
    const s = all[i]!;
    const ids = tok.encode(s, { allowSpecial: true });
    assert.equal(tok.decode(ids), wellFormed(s), `round trip ${JSON.stringify(s)}`);
    assert.equal(tok.decode(ids), await peer.decode(ids, false), `decode ${JSON.stringify(s)}`);
    assert.equal(tok.decode(ids, { skipSpecial: true }), await peer.decode(ids, true), `decode skipping specials ${JSON.stringify(s)}`);
  }
});

test('SEED-shaped tokenizer maps to llama.cpp\'s "hyperclovax" pre-tokenizer, with ignore_merges false only', () => {
  const text = readFileSync(jsonPath, 'utf8');
  const j = JSON.parse(text) as { pre_tokenizer: { pretokenizers: { pattern?: { Regex: string } }[] }; model: { ignore_merges: boolean } };
  assert.equal(ggufPreTokenizerName(j.pre_tokenizer, jsonPath), 'hyperclovax');
  assert.equal(readPublishedVocab(text, jsonPath).pre, 'hyperclovax');
  // DeepSeek-V3's first split (digits in threes) is a different pre-tokenizer.
  const deepseek = structuredClone(j);
  deepseek.pre_tokenizer.pretokenizers[0]!.pattern!.Regex = '\\p{N}{1,3}';
  assert.equal(ggufPreTokenizerName(deepseek.pre_tokenizer, jsonPath), 'deepseek-v3');
  const reordered = structuredClone(j);
  reordered.pre_tokenizer.pretokenizers.splice(0, 2, reordered.pre_tokenizer.pretokenizers[1]!, reordered.pre_tokenizer.pretokenizers[0]!);
  assert.throws(() => ggufPreTokenizerName(reordered.pre_tokenizer, jsonPath), /field pre_tokenizer\.pretokenizers has 3 Split regexes that match no llama\.cpp pre-tokenizer.*"hyperclovax"/);
  j.model.ignore_merges = true;
  assert.throws(() => readPublishedVocab(JSON.stringify(j), jsonPath), /field model\.ignore_merges is true, but llama\.cpp's "hyperclovax" pre-tokenizer runs with ignore_merges false/);
});
