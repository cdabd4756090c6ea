import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_TO_CHAR } from '../../src/tokenizer/byte-level.js';
import { allFixtureLines, fixtureTokenizer, randomText, rng, wellFormed } from './tokenizer-helpers.js';

test('every fixture line round-trips exactly', async () => {
  const tok = await fixtureTokenizer();
  for (const line of allFixtureLines()) assert.equal(tok.decode(tok.encode(line)), line);
});

test('random Unicode round-trips; lone surrogates come back as U+FFFD', async () => {
  const tok = await fixtureTokenizer();
  const next = rng(7);
  for (let i = 0; i < 3000; i++) {
    const s = randomText(next);
    assert.equal(tok.decode(tok.encode(s)), wellFormed(s), JSON.stringify(s));
  }
  assert.deepEqual(tok.encode('a\ud800b'), tok.encode('a\ufffdb'));
  assert.deepEqual(tok.encode('\udc00'), tok.encode('\ufffd'));
});

test('very long inputs (one pre-token of 120k bytes, long space runs) round-trip', async () => {
  const tok = await fixtureTokenizer();
  const next = rng(3);
  const blob = Array.from({ length: 120_000 }, () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[Math.floor(next() * 52)]).join('');
  for (const s of ['a'.repeat(100_000), ' '.repeat(50_000) + 'x', '\n'.repeat(10_000), blob, '😀'.repeat(20_000), '가'.repeat(40_000)]) {
    assert.equal(tok.decode(tok.encode(s)), s);
  }
});

test('encodeBatch equals encode; the empty string has no tokens', async () => {
  const tok = await fixtureTokenizer();
  const lines = allFixtureLines().slice(0, 200);
  assert.deepEqual(tok.encodeBatch(lines), lines.map((l) => tok.encode(l)));
  assert.deepEqual(tok.encode(''), []);
  assert.equal(tok.decode([]), '');
});

test('decodeBytes concatenates per-token bytes, so a stream can decode token by token', async () => {
  const tok = await fixtureTokenizer();
  const text = '스트리밍 출력: 한국어와 emoji 👨‍👩‍👧 together';
  const ids = tok.encode(text);
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let streamed = '';
  for (const id of ids) streamed += decoder.decode(tok.decodeBytes([id]), { stream: true });
  streamed += decoder.decode();
  assert.equal(streamed, text);
  assert.deepEqual(tok.decodeBytes(ids), new TextEncoder().encode(text));
});

test('a byte sequence cut inside a character decodes to U+FFFD rather than throwing', async () => {
  const tok = await fixtureTokenizer();
  const ids = tok.encode('가'); // 3 UTF-8 bytes
  const bytes = tok.decodeBytes(ids);
  const byteIds = [...bytes].slice(0, 2).map((b) => tok.tokenId(BYTE_TO_CHAR[b]!)!);
  assert.equal(tok.decode(byteIds), '\ufffd');
  assert.throws(() => tok.decode([tok.vocabSize]), /not in the vocabulary/);
});
