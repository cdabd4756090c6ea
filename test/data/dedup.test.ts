import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deduplicator, lshParams, exactKey } from '../../src/data/dedup.js';
import { Rng } from '../../src/util/random.js';

const VOCAB = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`);
const randomDoc = (rng: Rng, words: number) => Array.from({ length: words }, () => VOCAB[rng.int(VOCAB.length)]);
const jaccard = (a: string[], b: string[], k = 5) => {
  const sh = (w: string[]) => new Set(w.slice(0, w.length - k + 1).map((_, i) => w.slice(i, i + k).join(' ')));
  const A = sh(a), B = sh(b);
  let inter = 0;
  for (const x of A) if (B.has(x)) inter++;
  return inter / (A.size + B.size - inter);
};

test('exact dedup ignores case and whitespace differences only', () => {
  assert.deepEqual(exactKey('Hello   World\n\nagain '), exactKey('hello world again'));
  assert.notDeepEqual(exactKey('hello world again'), exactKey('hello world, again'));
  const d = new Deduplicator({ exact: true, near: false, shingleSize: 5, numPerm: 128, threshold: 0.8, seed: 1 });
  assert.equal(d.check('First document text.'), undefined);
  assert.equal(d.check('FIRST   document\ntext.'), 'exact');
  assert.equal(d.check('Second document text.'), undefined);
});

test('LSH parameters put the S-curve near the threshold', () => {
  for (const t of [0.5, 0.7, 0.8, 0.9]) {
    const { bands, rows } = lshParams(t, 128);
    assert.ok(bands * rows <= 128);
    // Recall-leaning: a pair at the threshold becomes a candidate more often than not, one far below rarely.
    const p = (s: number) => 1 - (1 - s ** rows) ** bands;
    assert.ok(p(t) > 0.6 && p(t + 0.05) > 0.9 && p(t - 0.3) < 0.1, `threshold ${t}: bands ${bands} rows ${rows}`);
  }
});

test('MinHash finds planted near-duplicates and keeps distinct texts', () => {
  const rng = new Rng(42);
  const originals = Array.from({ length: 300 }, () => randomDoc(rng, 300));
  const d = new Deduplicator({ exact: true, near: true, shingleSize: 5, numPerm: 128, threshold: 0.8, seed: 7 });
  for (const doc of originals) assert.equal(d.check(doc.join(' ')), undefined, 'distinct document flagged');

  // Near-duplicates: 4 words replaced (Jaccard ≈ 0.87) are found; half-overlapping texts (Jaccard ≈ 0.3) are not.
  let found = 0;
  for (let i = 0; i < 50; i++) {
    const copy = [...originals[i]];
    for (let k = 0; k < 4; k++) copy[rng.int(copy.length)] = VOCAB[rng.int(VOCAB.length)];
    assert.ok(jaccard(copy, originals[i]) >= 0.8);
    if (d.check(copy.join(' ')) === 'near') found++;
  }
  assert.ok(found >= 48, `found ${found}/50 near-duplicates`);
  for (let i = 50; i < 100; i++) {
    const half = [...originals[i].slice(0, 150), ...randomDoc(rng, 150)];
    assert.ok(jaccard(half, originals[i]) < 0.4);
    assert.equal(d.check(half.join(' ')), undefined, 'a half-overlapping text was flagged');
  }
});

test('MinHash signature agreement estimates Jaccard similarity', () => {
  const rng = new Rng(3);
  const d = new Deduplicator({ exact: false, near: true, shingleSize: 3, numPerm: 256, threshold: 0.8, seed: 1 });
  for (const overlap of [0.2, 0.5, 0.8]) {
    const a = randomDoc(rng, 400);
    const b = [...a.slice(0, Math.round(400 * overlap)), ...randomDoc(rng, 400 - Math.round(400 * overlap))];
    const sa = Int32Array.from(d.signature(a.join(' ')));
    const sb = d.signature(b.join(' '));
    let same = 0;
    for (let i = 0; i < sa.length; i++) if (sa[i] === sb[i]) same++;
    const truth = jaccard(a, b, 3);
    assert.ok(Math.abs(same / sa.length - truth) < 0.09, `estimate ${same / sa.length} vs ${truth}`);
  }
});
