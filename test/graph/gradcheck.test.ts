import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../src/graph/autodiff.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import { Graph } from '../../src/graph/tensor.js';
import { buildTinyDecoder, initTiny } from '../../src/demo/tiny-transformer.js';
import { reverseBatch } from '../../src/demo/reverse-task.js';
import { buildCase, cases, makeFeeds } from './cases.js';
import type { NDArray } from '../../src/graph/ndarray.js';
import type { Tensor } from '../../src/graph/tensor.js';

/** Compare autodiff gradients with central finite differences (float64 interpreter) on up to `samples` coordinates. */
function checkGradients(loss: Tensor, wrt: Record<string, Tensor>, feeds: Record<string, NDArray>, samples = 40): void {
  const names = Object.keys(wrt);
  const grads = evaluate(grad(loss, names.map((n) => wrt[n]!)), feeds);
  const lossAt = (f: Record<string, NDArray>) => evaluate([loss], f)[0]!.data[0]!;
  const random = rng(11);
  names.forEach((name, k) => {
    const base = feeds[name]!;
    const n = base.data.length;
    const coords = n <= samples ? [...Array(n).keys()] : Array.from({ length: samples }, () => Math.floor(random() * n));
    for (const i of coords) {
      const h = 1e-5 * Math.max(1, Math.abs(base.data[i]!));
      const plus = ndarray(base.dtype, base.shape, base.data);
      const minus = ndarray(base.dtype, base.shape, base.data);
      plus.data[i]! += h;
      minus.data[i]! -= h;
      const numeric = (lossAt({ ...feeds, [name]: plus }) - lossAt({ ...feeds, [name]: minus })) / (2 * h);
      const analytic = grads[k]!.data[i]!;
      const tol = 1e-6 + 1e-5 * Math.max(Math.abs(numeric), Math.abs(analytic));
      assert.ok(Math.abs(numeric - analytic) <= tol, `d/d${name}[${i}]: autodiff ${analytic} vs finite difference ${numeric}`);
    }
  });
}

for (const c of cases.filter((c) => c.differentiable !== false)) {
  test(`gradient matches finite differences: ${c.name}`, () => {
    const { inputs, loss } = buildCase(c);
    const floats = Object.fromEntries(Object.entries(inputs).filter(([, t]) => t.dtype === 'float32'));
    checkGradients(loss, floats, makeFeeds(c, 3));
  });
}

test('gradient matches finite differences: two-block decoder loss w.r.t. every parameter', () => {
  const config = { vocab: 7, hidden: 8, heads: 4, kvHeads: 2, ffn: 12, layers: 2, seq: 4 };
  const model = buildTinyDecoder(config, 2);
  // Larger-than-usual weights so the check sees curvature, not a near-linear model.
  const params = Object.fromEntries(Object.entries(initTiny(config, 5)).map(([k, v]) => [k, ndarray(v.dtype, v.shape, v.data.map((x) => (k.endsWith('norm.weight') ? 1 + x : x * 25)))]));
  const batch = reverseBatch(2, 2, config.vocab, rng(2));
  const feeds = { ...params, input_ids: ndarray('int64', batch.input_ids.shape, batch.input_ids.data), labels: ndarray('int64', batch.labels.shape, batch.labels.data) };
  checkGradients(model.loss, Object.fromEntries(model.params.map((p) => [p.name, p.tensor])), feeds, 6);
});

test('a parameter the loss does not use gets a zero gradient', () => {
  const g = new Graph();
  const a = g.input('a', [2]);
  const unused = g.input('b', [3]);
  const [ga, gb] = evaluate(grad(a.square().sum(), [a, unused]), { a: ndarray('float32', [2], [1, -2]), b: ndarray('float32', [3]) });
  assert.deepEqual([...ga!.data], [2, -4]);
  assert.deepEqual([...gb!.data], [0, 0, 0]);
});
