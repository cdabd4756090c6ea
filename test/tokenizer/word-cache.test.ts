/** The word cache finds a word by a range of a longer string, tells apart words that share a hash slot, and clears when full. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WordCache } from '../../src/tokenizer/pipeline/models/word-cache.js';

test('word cache: ranges, many words, clearing at the limit', () => {
  const cache = new WordCache(5000);
  const text = '▁hello▁world▁hello▁한국어▁😀▁';
  assert.equal(cache.find(text, 0, 6), -1);
  cache.add('▁hello', [1, 2]);
  assert.deepEqual(cache.entry(cache.find(text, 12, 18)), [1, 2], 'the second ▁hello is the same word');
  assert.equal(cache.find(text, 6, 12), -1);
  cache.add('▁world', 3);
  assert.equal(cache.entry(cache.find(text, 6, 12)), 3);
  assert.equal(cache.find(text, 6, 11), -1, 'a prefix of a cached word is another word');
  // Thousands of words in a table of 16,384 slots: every one found with its own ids, none confused.
  const words = Array.from({ length: 4000 }, (_, i) => `▁w${i.toString(36)}`);
  for (const [i, w] of words.entries()) {
    assert.equal(cache.find(w, 0, w.length), -1);
    cache.add(w, i);
  }
  for (const [i, w] of words.entries()) assert.equal(cache.entry(cache.find(`x${w}y`, 1, w.length + 1)), i);
  // Past the limit the cache starts over.
  for (let i = 0; i < 2000; i++) {
    const w = `▁v${i}`;
    if (cache.find(w, 0, w.length) < 0) cache.add(w, -i);
  }
  assert.equal(cache.find(words[0]!, 0, words[0]!.length), -1, 'cleared when full');
  assert.equal(cache.entry(cache.find('▁v1999', 0, 6)), -1999);
});
