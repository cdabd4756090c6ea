import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../src/graph/autodiff.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { buildTinyDecoder, initTiny } from '../../src/demo/tiny-transformer.js';
import { reverseBatch } from '../../src/demo/reverse-task.js';
import { buildCase, cases, makeFeeds } from './cases.js';

/** ORT computes in float32, the interpreter in float64: agree to float32 tolerance, scaled by magnitude. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 2e-4, atol = 2e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: ORT ${a} vs reference ${e}`);
  }
}

async function compare(outputs: Record<string, Tensor>, feeds: Record<string, NDArray>, label: string, rtol?: number, atol?: number): Promise<void> {
  const names = Object.keys(outputs);
  const reference = evaluate(names.map((n) => outputs[n]!), feeds);
  const session = await Session.create(outputs, { threads: 1 });
  const feedNames = new Set(session.inputNames);
  const got = await session.run(Object.fromEntries(Object.entries(feeds).filter(([k]) => feedNames.has(k))));
  names.forEach((n, i) => {
    assert.deepEqual([...got[n]!.dims], [...reference[i]!.shape], `${label} ${n}: shape`);
    assertClose(toNumbers(got[n]!), reference[i]!.data, `${label} ${n}`, rtol, atol);
  });
}

for (const c of cases) {
  test(`ORT matches the reference interpreter: ${c.name} (forward and gradients)`, async () => {
    const { inputs, out, loss } = buildCase(c);
    const outputs: Record<string, Tensor> = { out };
    if (c.differentiable !== false) {
      const floats = Object.entries(inputs).filter(([, t]) => t.dtype === 'float32');
      grad(loss, floats.map(([, t]) => t)).forEach((g, i) => (outputs[`grad_${floats[i]![0]}`] = g));
    }
    await compare(outputs, makeFeeds(c, 3), c.name);
  });
}

test('ORT matches the reference interpreter: transformer block forward + backward', async () => {
  const config = { vocab: 11, hidden: 32, heads: 4, kvHeads: 2, ffn: 48, layers: 1, seq: 8 };
  const model = buildTinyDecoder(config, 3);
  const params = Object.fromEntries(Object.entries(initTiny(config, 1)).map(([k, v]) => [k, ndarray(v.dtype, v.shape, v.data.map((x) => (k.endsWith('norm.weight') ? x : x * 10)))]));
  const batch = reverseBatch(3, 4, config.vocab, rng(4));
  const feeds = { ...params, input_ids: ndarray('int64', batch.input_ids.shape, batch.input_ids.data), labels: ndarray('int64', batch.labels.shape, batch.labels.data) };
  const grads = grad(model.loss, model.params.map((p) => p.tensor));
  const outputs: Record<string, Tensor> = { loss: model.loss, logits: model.logits };
  model.params.forEach((p, i) => (outputs[`grad.${p.name}`] = grads[i]!));
  await compare(outputs, feeds, 'block', 1e-3, 1e-5);
});
