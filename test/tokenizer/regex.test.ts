/** Oniguruma → V8 translation: the constructs V8 lacks or reads differently, and the errors for what is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onigurumaRegExp, onigurumaRegExps } from '../../src/tokenizer/pipeline/regex.js';

const all = (pattern: string, text: string): string[] => text.match(onigurumaRegExp(pattern, 'test')) ?? [];

test('possessive quantifiers never give back what they took', () => {
  assert.deepEqual(all('a*+a', 'aaa'), []);
  assert.deepEqual(all('a*a', 'aaa'), ['aaa']);
  assert.deepEqual(all('[a-z]++[0-9]', 'abc1 de'), ['abc1']);
  assert.deepEqual(all('x?+x', 'xx x'), ['xx']);
  assert.deepEqual(all('(?:ab){1,2}+b', 'ababb'), ['ababb']);
});

test('(?i:…) folds as Oniguruma does, including long s and the Kelvin sign', () => {
  assert.deepEqual(all("(?i:'s|k)", "'S 'ſ 'x K \u212a"), ["'S", "'ſ", 'K', '\u212a']);
  assert.deepEqual(all('(?i:ab)c', 'ABc ABC'), ['ABc']);
});

test('\\s, . and escapes read as in Oniguruma', () => {
  assert.deepEqual(all('\\s+', 'a\u0085b\ufeffc'), ['\u0085']);
  assert.deepEqual(all('.', '\r\n\u2028'), ['\r', '\u2028']);
  assert.deepEqual(all('[\\-\\[\\]{}()|/!#%]+', 'x-[]{}()|/!#%y'), ['-[]{}()|/!#%']);
  assert.deepEqual(all('\\p{Han}+', '漢字 kana'), ['漢字']);
});

test('the fast regex matches like the exact one away from the excluded code points', () => {
  const { exact, fast } = onigurumaRegExps('\\p{L}+|\\p{N}+|\\s+|.', 'test');
  for (const s of ['학교에서 공부했다 123', 'Hello, world!', 'ﬁ ①']) assert.deepEqual(s.match(fast), s.match(exact));
  // U+10940 is a letter to Node but unassigned to the Rust peer: only the exact regex keeps it apart.
  assert.deepEqual('a\u{10940}b'.match(exact), ['a', '\u{10940}', 'b']);
});

test('constructs without a translation are errors naming the pattern', () => {
  for (const [pattern, what] of [
    ['(?>a)', /the group \(\?>a/],
    ['[a&&b]', /class intersection/],
    ['\\G', /the escape \\G/],
    ['(a', /an unterminated \(/],
    ['*a', /a quantifier with nothing to repeat/],
    ['\\p{NoSuchThing}', /unknown Unicode property/],
  ] as const) {
    assert.throws(() => onigurumaRegExp(pattern, 'f.json: field pre_tokenizer.pattern.Regex'), (err: Error) => {
      assert.match(err.message, /^f\.json: field pre_tokenizer\.pattern\.Regex/);
      assert.match(err.message, what);
      return true;
    });
  }
});
