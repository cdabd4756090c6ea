import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pick, randomInt, Rng, rng, shuffleInPlace } from '../../src/util/random.js';

// Published models, corpora and data mixes were drawn from these streams: the numbers must never change.
test('rng and Rng draw the same pinned mulberry32 stream', () => {
  const r = rng(42);
  assert.deepEqual([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  assert.equal(rng(0)(), 0.26642920868471265);
  const g = new Rng(42);
  assert.equal(g.nextU32(), 2581720956);
  assert.equal(g.int(10), 4);
  assert.equal(g.state, 3663131668);
  const f = rng(7), c = new Rng(7);
  for (let i = 0; i < 100; i++) assert.equal(f(), c.next());
});

test('shuffleInPlace is the pinned Fisher–Yates order; pick and randomInt stay in range', () => {
  const a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  assert.equal(shuffleInPlace(a, rng(5)), a);
  assert.deepEqual(a, [5, 3, 7, 8, 2, 0, 4, 1, 9, 6]);
  const typed = Uint32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...shuffleInPlace(typed, rng(5))], [5, 3, 7, 8, 2, 0, 4, 1, 9, 6]);
  const r = rng(1);
  for (let i = 0; i < 200; i++) {
    const n = randomInt(2, 5, r);
    assert.ok(Number.isInteger(n) && n >= 2 && n <= 5);
    assert.ok(['a', 'b', 'c'].includes(pick(['a', 'b', 'c'], r)));
  }
});
