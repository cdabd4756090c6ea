/**
 * The transformers.js decoder graph on its own: ORT equals the reference interpreter with an empty and a non-empty
 * cache and a left-padded batch; prompt-then-steps equals one pass over the whole sequence; its logits equal kolm's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import { buildTransformersJsGraph, pastName, presentName } from '../../src/interchange/onnx.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { createInferenceSessions } from '../../src/infer/sessions.js';
import { sequenceLogits } from '../../src/infer/generate.js';

const tiny = (fields: Partial<ModelConfig> = {}) =>
  makeConfig({ vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, max_position_embeddings: 32, initializer_range: 0.4, ...fields });

function close(a: ArrayLike<number>, e: ArrayLike<number>, what: string, tol = 1e-4): void {
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) assert.ok(Math.abs(a[i]! - e[i]!) <= tol * (1 + Math.abs(e[i]!)), `${what}[${i}]: ${a[i]} vs ${e[i]}`);
}

interface Step {
  ids: number[][];
  mask: number[][];
  positions: number[][];
  past: Record<string, NDArray>;
}

function feedsOf(c: ModelConfig, s: Step): Record<string, NDArray> {
  const B = s.ids.length;
  const T = s.ids[0]!.length;
  const feeds: Record<string, NDArray> = {
    input_ids: ndarray('int64', [B, T], s.ids.flat()),
    attention_mask: ndarray('int64', [B, s.mask[0]!.length], s.mask.flat()),
    position_ids: ndarray('int64', [B, T], s.positions.flat()),
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    for (const kind of ['key', 'value'] as const) {
      feeds[pastName(l, kind)] = s.past[pastName(l, kind)] ?? ndarray('float32', [B, c.num_key_value_heads, 0, c.head_dim]);
    }
  }
  return feeds;
}

for (const [label, fields] of [['Llama', {}], ['HyperCLOVAX Peri-LN/μP', { use_post_norm: true, embedding_multiplier: 3, attention_multiplier: 0.2, residual_multiplier: 0.7, logits_scaling: 0.6 }]] as const) {
  test(`${label}: ORT equals the interpreter, and prompt + cached steps equal one pass over the whole sequence`, async () => {
    const c = tiny(fields);
    const weights = initParams(c, 9);
    const { outputs } = buildTransformersJsGraph(c);
    const session = await Session.create(outputs, { initializers: weights, threads: 1 });
    const names = Object.keys(outputs);
    // Outputs at padding positions are never used (their keys are masked, their logits ignored) and differ between
    // float32 and float64 (a fully masked softmax row), so only real positions are compared.
    const run = async (s: Step) => {
      const feeds = feedsOf(c, s);
      const got = await session.run(feeds);
      const ref = evaluate(names.map((n) => outputs[n]!), { ...feeds, ...weights });
      const T = s.ids[0]!.length;
      const total = s.mask[0]!.length;
      names.forEach((n, i) => {
        const dims = [...got[n]!.dims].map(Number);
        assert.deepEqual(dims, [...ref[i]!.shape], `${n}: shape`);
        const a = toNumbers(got[n]!);
        const e = ref[i]!.data;
        // logits [B, T, V]: row (b, t) is slot total - T + t; present [B, H, total, D]: slot s.
        const [B, X, Y, Z] = dims as [number, number, number, number?];
        const rows = n === 'logits' ? B * X : B * X * Y;
        const width = n === 'logits' ? Y : Z!;
        for (let r = 0; r < rows; r++) {
          const b = n === 'logits' ? Math.floor(r / X) : Math.floor(r / (X * Y));
          const slot = n === 'logits' ? total - T + (r % X) : r % Y;
          if (s.mask[b]![slot] === 0) continue;
          close(a.subarray(r * width, (r + 1) * width), e.subarray(r * width, (r + 1) * width), `${label} ${n} row ${r}`);
        }
      });
      return got;
    };
    // Sequence 0: 5 real tokens; sequence 1: 3 real tokens left-padded by 2. Prompt of 5, then two steps of 1.
    const ids = [[5, 9, 1, 33, 7, 12, 3], [0, 0, 21, 4, 18, 30, 2]];
    const mask = [[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]];
    const positions = [[0, 1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 2, 3, 4]]; // transformers.js: cumsum(mask) - 1, padding → 1
    const cut = (rows: number[][], from: number, to: number) => rows.map((r) => r.slice(from, to));
    const full = await run({ ids, mask, positions, past: {} });
    let past: Record<string, NDArray> = {};
    let T0 = 0;
    for (const T1 of [5, 6, 7]) {
      const out = await run({ ids: cut(ids, T0, T1), mask: cut(mask, 0, T1), positions: cut(positions, T0, T1), past });
      // Logits of the real tokens equal the one-pass logits at the same positions.
      const V = c.vocab_size;
      const got = toNumbers(out['logits']!);
      const want = toNumbers(full['logits']!);
      for (let b = 0; b < 2; b++) {
        for (let t = T0; t < T1; t++) {
          if (mask[b]![t] === 0) continue;
          close(got.subarray((b * (T1 - T0) + (t - T0)) * V, (b * (T1 - T0) + (t - T0) + 1) * V), want.subarray((b * 7 + t) * V, (b * 7 + t + 1) * V), `${label}: logits of sequence ${b} at ${t}`);
        }
      }
      past = {};
      for (let l = 0; l < c.num_hidden_layers; l++) {
        for (const kind of ['key', 'value'] as const) {
          const p = out[presentName(l, kind)]!;
          assert.deepEqual([...p.dims], [2, c.num_key_value_heads, T1, c.head_dim], 'present = past + new along the sequence');
          past[pastName(l, kind)] = ndarray('float32', [...p.dims].map(Number), toNumbers(p));
        }
      }
      T0 = T1;
    }
  });
}

test('the exported graph\'s logits equal kolm\'s own scoring graph on the same sequence', async () => {
  const c = tiny({ rope_scaling: { rope_type: 'linear', factor: 2 } });
  const weights = initParams(c, 10);
  const { outputs } = buildTransformersJsGraph(c);
  const session = await Session.create(outputs, { initializers: weights, threads: 1 });
  const r = rng(3);
  const ids = Array.from({ length: 12 }, () => Math.floor(r() * c.vocab_size));
  const got = await session.run(feedsOf(c, { ids: [ids], mask: [ids.map(() => 1)], positions: [ids.map((_, i) => i)], past: {} }));
  const sessions = await createInferenceSessions(c, weights, { threads: 1 });
  const want = await sequenceLogits({ config: c, sessions }, ids);
  close(toNumbers(got['logits']!), want, 'logits vs kolm');
});
