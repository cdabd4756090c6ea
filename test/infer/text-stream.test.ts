import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextStream } from '../../src/infer/text-stream.js';

/** Split a string's UTF-8 bytes into pieces of the given sizes, as byte-level tokens split characters. */
function pieces(text: string, sizes: number[]): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

test('streaming deltas never split a character and concatenate to the text: Korean, emoji, mixed', () => {
  for (const text of ['안녕하세요, 반갑습니다!', '👩‍👩‍👧 family 🇰🇷 flag', '학교에서 공부했다. The end. 끝']) {
    for (const sizes of [[1], [2], [1, 2, 3], [5, 1]]) {
      const s = new TextStream();
      const deltas = pieces(text, sizes).map((p) => s.push(p));
      deltas.push(s.finish());
      assert.equal(deltas.join(''), text);
      for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `no replacement character in '${d}'`);
      for (const d of deltas) if (d) assert.ok(!/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(d), 'no lone surrogates');
    }
  }
});

test('stop strings end the text before them, even when split across tokens, and text that might start one is held back', () => {
  const s = new TextStream(['<END>', '끝.']);
  const out: string[] = [];
  for (const p of ['Hello <', 'E', 'N', 'D> ignored']) out.push(s.push(new TextEncoder().encode(p)));
  assert.deepEqual(out, ['Hello ', '', '', '']);
  assert.equal(s.stopped, true);
  assert.equal(s.value, 'Hello ');
  const k = new TextStream(['끝.']);
  const deltas = pieces('오늘은 끝.이다', [1]).map((p) => k.push(p));
  assert.equal(deltas.join(''), '오늘은 ');
  const fine = new TextStream(['<END>']);
  assert.equal(fine.push(new TextEncoder().encode('a <EN')), 'a ');
  assert.equal(fine.push(new TextEncoder().encode('X')), '<ENX', 'released once it cannot be a stop string');
  assert.equal(fine.finish(), '');
});
