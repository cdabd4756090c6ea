/** arange, dimSize, concatDynamic and sliceDynamic: shape rules, reference interpreter vs ORT at several run-time sizes, gradients. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../src/graph/autodiff.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, randn, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import { Graph, GraphError, type Tensor } from '../../src/graph/tensor.js';
import { arange, concatDynamic, dimSize, sliceDynamic } from '../../src/graph/ops/dynamic.js';
import { Session, toNumbers } from '../../src/runtime/session.js';

/** One session (symbolic dims), fed several shapes; every output equals the interpreter's exactly or to float32. */
async function agree(outputs: Record<string, Tensor>, feedSets: Record<string, NDArray>[], label: string): Promise<void> {
  const session = await Session.create(outputs, { threads: 1 });
  for (const feeds of feedSets) {
    const names = Object.keys(outputs);
    const reference = evaluate(names.map((n) => outputs[n]!), feeds);
    const got = await session.run(feeds);
    names.forEach((n, i) => {
      const shape = Object.values(feeds).map((f) => f.shape.join('x')).join(' ');
      assert.deepEqual([...got[n]!.dims], [...reference[i]!.shape], `${label} ${n} (${shape}): shape`);
      const a = toNumbers(got[n]!);
      const e = reference[i]!.data;
      for (let k = 0; k < e.length; k++) assert.ok(Math.abs(a[k]! - e[k]!) <= 1e-6 + 1e-6 * Math.abs(e[k]!), `${label} ${n}[${k}] (${shape}): ORT ${a[k]} vs reference ${e[k]}`);
    });
  }
}

const r = rng(11);
const floats = (...shape: number[]) => randn(shape, r);

test('arange and dimSize follow run-time lengths of symbolic axes (ORT = interpreter, one session, several sizes)', async () => {
  const g = new Graph();
  const x = g.input('x', ['b', 'n', 3]);
  const y = g.input('y', ['m']);
  const idx = arange(x, 1); // [n]
  assert.deepEqual(idx.shape, ['n']);
  assert.equal(idx.dtype, 'int64');
  const n = dimSize(x, -2);
  assert.deepEqual(n.shape, []);
  const shifted = arange(y, 0).add(n); // m + n ... offsets, as query slots after a cache
  const later = idx.unsqueeze(0).gt(shifted.unsqueeze(1)); // [m, n]
  const mask = g.where(later, -1, 0.5);
  const staticRange = arange(x, 2); // a static axis: [3]
  assert.deepEqual(staticRange.shape, [3]);
  await agree({ idx, n, shifted, mask, staticRange }, [
    { x: floats(2, 5, 3), y: floats(4) },
    { x: floats(1, 1, 3), y: floats(1) },
    { x: floats(1, 0, 3), y: floats(2) }, // an empty axis: arange is empty, the length is 0
  ], 'arange/dimSize');
});

test('concatDynamic appends along a symbolic axis into the named dim (ORT = interpreter), including an empty past', async () => {
  const g = new Graph();
  const past = g.input('past', ['b', 2, 'p', 4]);
  const fresh = g.input('fresh', ['b', 2, 't', 4]);
  const mask = g.input('mask', ['b', 'total']);
  const cat = concatDynamic([past, fresh], 2, { like: mask, axis: 1 });
  assert.deepEqual(cat.shape, ['b', 2, 'total', 4]);
  // Bound to the mask's 'total', the result broadcasts against it: a masked sum over the concatenated axis.
  const masked = cat.mul(mask.cast('float32').unsqueeze(1).unsqueeze(-1)).sum(2);
  const feeds = (b: number, p: number, t: number) => ({
    past: floats(b, 2, p, 4),
    fresh: floats(b, 2, t, 4),
    mask: ndarray('int64', [b, p + t], Array.from({ length: b * (p + t) }, (_, i) => (i % 3 === 0 ? 0 : 1))),
  });
  await agree({ cat, masked }, [feeds(2, 3, 1), feeds(1, 0, 5), feeds(3, 6, 2)], 'concatDynamic');
});

test('concatDynamic: shape rules and errors name the op, the shapes and the dim', () => {
  const g = new Graph();
  const a = g.input('a', ['b', 'p', 4]);
  const b = g.input('c', ['b', 't', 4]);
  const s1 = g.input('s1', [2, 3]);
  const s2 = g.input('s2', [2, 5]);
  const total = g.input('mask', ['b', 'n']);
  const like = { like: total, axis: 1 };
  assert.throws(() => concatDynamic([s1, s2], 1, like), /concatDynamic\(.*\): every input has a static length along axis 1; use concat/);
  assert.throws(() => concatDynamic([a, g.input('d', ['b', 't', 5])], 1, like), /inputs must agree except along axis 1: \[b, p, 4\]:float32 vs \[b, t, 5\]:float32/);
  assert.throws(() => concatDynamic([a], 1, like), /needs at least two inputs/);
  assert.throws(() => concatDynamic([a, b], 1, { like: total, axis: 2 }), /axis 2 out of range for rank 2/);
  assert.throws(() => arange(a, 3), /axis 3 out of range for rank 3/);
  // The result takes the length of `like`; a static-length input next to a symbolic one is fine.
  assert.deepEqual(concatDynamic([a, b], 1, like).shape, ['b', 'n', 4]);
  assert.deepEqual(concatDynamic([a, g.input('e', ['b', 2, 4])], 1, like).shape, ['b', 'n', 4]);
});

test('the interpreter rejects a concatenation whose length disagrees with the bound dim', () => {
  const g = new Graph();
  const past = g.input('past', ['p', 2]);
  const fresh = g.input('fresh', ['t', 2]);
  const mask = g.input('mask', ['total']);
  const cat = concatDynamic([past, fresh], 0, { like: mask, axis: 0 });
  const out = cat.sum(1).mul(mask.cast('float32'));
  assert.throws(() => evaluate([out], { past: floats(2, 2), fresh: floats(1, 2), mask: ndarray('int64', [4], [1, 1, 1, 1]) }), /add up to 3 along axis 0, but the length they should match is 4/);
});

test('gradients: arange/dimSize carry none (their values do not depend on the input), concatDynamic is not differentiable', () => {
  const g = new Graph();
  const x = g.input('x', [3, 4]);
  const weights = arange(x, 1).cast('float32').add(dimSize(x, 1).cast('float32')); // 4 + j
  const loss = x.mul(weights).sum();
  const [dx] = grad(loss, [x]);
  const xv = floats(3, 4);
  const [gx] = evaluate([dx!], { x: xv });
  assert.deepEqual([...gx!.data], Array.from({ length: 12 }, (_, i) => 4 + (i % 4)));

  const past = g.input('past', ['p', 2]);
  const fresh = g.input('fresh', [1, 2]);
  const cat = concatDynamic([past, fresh], 0, { like: g.input('mask', ['total']), axis: 0 });
  assert.throws(() => grad(cat.sum(), [fresh]), (err: unknown) => err instanceof GraphError && /op 'concatDynamic' is not differentiable \(node concatDynamic#\d+\[total, 2\]:float32 built at .*dynamic-ops\.test/.test((err as Error).message));
});

test('sliceDynamic cuts a run-time-length axis into the named dim (ORT = interpreter): all but the last, all but the first, the middle', async () => {
  const g = new Graph();
  const scores = g.input('scores', ['b', 3, 'total']);
  const past = g.input('past', ['b', 'p', 2]);
  const head = sliceDynamic(scores, -1, 0, -1, { like: past, axis: 1 });
  const tail = sliceDynamic(scores, 2, 1, Infinity, { like: past, axis: 1 });
  const middle = sliceDynamic(scores, 2, 1, -1, { like: g.input('inner', ['m']), axis: 0 });
  assert.deepEqual(head.shape, ['b', 3, 'p']);
  assert.deepEqual(middle.shape, ['b', 3, 'm']);
  // Bound to the cache's 'p', the result multiplies against it: attention weights over the cache.
  const mixed = head.matmul(past).add(tail.matmul(past));
  const feeds = (b: number, p: number) => ({ scores: floats(b, 3, p + 1), past: floats(b, p, 2), inner: floats(Math.max(p - 1, 0)) });
  await agree({ head, tail, middle, mixed }, [feeds(2, 4), feeds(1, 1), feeds(3, 7)], 'sliceDynamic');
});

test('sliceDynamic: the interpreter rejects a slice whose length disagrees with the bound dim; no gradient', () => {
  const g = new Graph();
  const x = g.input('x', ['t', 2]);
  const like = g.input('like', ['p']);
  const head = sliceDynamic(x, 0, 0, -1, { like, axis: 0 });
  assert.deepEqual(head.shape, ['p', 2]);
  assert.throws(() => evaluate([head], { x: floats(4, 2), like: floats(2) }), /\[0, -1\) of length 4 along axis 0 has 3 elements, but the length it should match is 2/);
  assert.throws(() => sliceDynamic(x, 0, 0.5, -1, { like, axis: 0 }), /start must be an integer or Infinity/);
  assert.throws(() => sliceDynamic(x, 2, 0, -1, { like, axis: 0 }), /axis 2 out of range for rank 2/);
  assert.throws(() => grad(head.sum(), [x]), (err: unknown) => err instanceof GraphError && /op 'sliceDynamic' is not differentiable/.test((err as Error).message));
});
