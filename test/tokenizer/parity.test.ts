/**
 * The tokenizer.json kolm writes, loaded by HF tokenizers' Rust build (@anush008/tokenizers) and by the JS port
 * (@huggingface/tokenizers), must give kolm's ids exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { preTokenize, QWEN2_SPLIT_PATTERN } from '../../src/tokenizer/pretokenize.js';
import { allFixtureLines, fixtureTokenizer, randomText, rng } from './tokenizer-helpers.js';

const rust = createRequire(import.meta.url)('@anush008/tokenizers') as typeof import('@anush008/tokenizers');

async function peers(tok: Tokenizer) {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-parity-'));
  try {
    await tok.save(dir);
    const json = await readFile(join(dir, 'tokenizer.json'), 'utf8');
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    const reloaded = await Tokenizer.load(dir);
    return { reloaded, rust: rust.Tokenizer.fromFile(join(dir, 'tokenizer.json')), js: new JsTokenizer(JSON.parse(json), config) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rustIds(peer: InstanceType<typeof rust.Tokenizer>, texts: string[]): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += 500) {
    for (const e of await peer.encodeBatch(texts.slice(i, i + 500), { addSpecialTokens: false })) out.push(e.getIds());
  }
  return out;
}

for (const morpheme of [true, false]) {
  test(`fixture lines: kolm, Rust and JS peers agree (${morpheme ? 'morpheme-aware' : 'plain'} training)`, async () => {
    const tok = await fixtureTokenizer(morpheme);
    const p = await peers(tok);
    assert.equal(p.reloaded.hash, tok.hash);
    const lines = allFixtureLines();
    assert.ok(lines.length >= 3000);
    const ours = lines.map((l) => p.reloaded.encode(l));
    const theirs = await rustIds(p.rust, lines);
    lines.forEach((line, i) => {
      assert.deepEqual(ours[i], theirs[i], `Rust peer, line ${i}: ${JSON.stringify(line)}`);
      assert.deepEqual(p.js.encode(line, { add_special_tokens: false }).ids, ours[i], `JS peer, line ${i}: ${JSON.stringify(line)}`);
    });
    assert.equal(p.rust.getVocabSize(true), tok.vocabSize);
  });
}

test('random Unicode (controls, emoji, lone surrogates, any code point): kolm equals the Rust peer', async () => {
  const tok = await fixtureTokenizer();
  const { rust: peer } = await peers(tok);
  const next = rng(11);
  const texts = Array.from({ length: 3000 }, () => randomText(next, 20));
  const theirs = await rustIds(peer, texts);
  // The HF peers always split added tokens out of text; kolm does when allowed.
  texts.forEach((s, i) => assert.deepEqual(tok.encode(s, { allowSpecial: true }), theirs[i], JSON.stringify(s)));
  // Decoding arbitrary id sequences (invalid UTF-8 included) is lossy the same way.
  for (let i = 0; i < 300; i++) {
    const ids = Array.from({ length: 1 + Math.floor(next() * 8) }, () => Math.floor(next() * (tok.vocabSize - 9)));
    assert.equal(tok.decode(ids), await peer.decode(ids, false), JSON.stringify(ids));
  }
});

test('long pre-tokens (the heap path of the merge loop) give the Rust peer\'s ids', async () => {
  const tok = await fixtureTokenizer();
  const { rust: peer } = await peers(tok);
  const next = rng(3);
  const pick = (alphabet: string, n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
  const texts = [
    pick('abcdefghijklmnopqrstuvwxyz', 70),
    pick('etaoinshrdlu', 5000),
    pick('가나다라마바사아자차카타파하는을의에', 3000),
    ' '.repeat(3000) + 'x',
    '\t\n '.repeat(500),
    'a'.repeat(20_000),
  ];
  const theirs = await rustIds(peer, texts);
  texts.forEach((s, i) => {
    const ids = tok.encode(s);
    assert.deepEqual(ids, theirs[i], `text ${i}`);
    assert.equal(tok.decode(ids), s);
  });
  assert.ok(tok.encode(texts[1]!).length < 0.8 * texts[1]!.length, 'merges apply inside long pre-tokens');
});

test('special tokens: the peers see the same ids and vocabulary entries', async () => {
  const tok = await fixtureTokenizer();
  const { rust: peer, js } = await peers(tok);
  for (const [content, id] of Object.entries(tok.specialTokens)) {
    assert.equal(peer.tokenToId(content), id);
    assert.equal(js.token_to_id(content), id);
  }
  // HF peers always split added tokens out of text; kolm does so only when asked.
  const text = 'a<|im_start|>user\nhi<|im_end|>';
  const theirs = (await peer.encode(text, null, { addSpecialTokens: false })).getIds();
  assert.deepEqual(tok.encode(text, { allowSpecial: true }), theirs);
  assert.notDeepEqual(tok.encode(text), theirs);
});

test('the pre-tokenizer splits like the Rust Split(Regex) on every kind of character', () => {
  const peer = rust.Tokenizer.fromString(
    JSON.stringify({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Split', pattern: { Regex: QWEN2_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
      post_processor: null,
      decoder: null,
      model: { type: 'BPE', vocab: { a: 0 }, merges: [] },
    }),
  ).getPreTokenizer()!;
  const next = rng(5);
  const samples = [
    "it's DON'T we'Ve 'ſ 'K", '\ufeff a\u0085b  c\u3000\n\n d', 'x1234y ١٢٣', '  \n  \n', '\u088f\u0c5c\u{10940}', 'ǅemo',
    ...Array.from({ length: 2000 }, () => randomText(next, 16)),
  ];
  for (const s of samples) {
    const want = peer.preTokenizeString((s as unknown as { toWellFormed(): string }).toWellFormed()).map((x) => x[0]);
    assert.deepEqual(preTokenize((s as unknown as { toWellFormed(): string }).toWellFormed()), want, JSON.stringify(s));
  }
});
