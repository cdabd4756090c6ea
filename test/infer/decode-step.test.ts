/**
 * The decode graph's constructs against the formulations they replace, in the float64 interpreter (exactly, up to
 * rounding) and in ORT (float32): rotation-matrix rotary, single-softmax cached attention, and the whole packed
 * decode step against `decoderForward`'s cached path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, randn, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import { cachedAttention, cachedAttentionStep, rotary, rotaryMatrix } from '../../src/graph/nn.js';
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { decoderForward } from '../../src/model/decoder.js';
import { initParams, paramSpecs } from '../../src/model/params.js';
import { ropeFrequencies, ropeTables } from '../../src/model/rope.js';
import { declareDecode, packDecodeWeights, pastKey, pastValue, presentKey, presentValue } from '../../src/infer/decode-step.js';

const r = rng(5);
const floats = (...shape: number[]) => randn(shape, r);

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-4, atol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= atol + rtol * Math.abs(expected[i]!), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

/** cos/sin [B, 1, 1, D] for one position per row. */
function rotaryFeeds(c: ModelConfig, positions: number[]): { cos: NDArray; sin: NDArray } {
  const { cos, sin } = ropeTables(ropeFrequencies(c, Math.max(...positions) + 1), positions);
  const shape = [positions.length, 1, 1, c.head_dim];
  return { cos: ndarray('float32', shape, cos.data), sin: ndarray('float32', shape, sin.data) };
}

/** Additive masks over a cache of `slots` slots of which row b sees [pad[b], length): past [B,1,1,C], new [B,1,1,1], and both [B,1,1,C+1]. */
function masks(pad: number[], length: number, slots: number) {
  const B = pad.length;
  const past = ndarray('float32', [B, 1, 1, slots]);
  const all = ndarray('float32', [B, 1, 1, slots + 1]);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < slots; s++) {
      const v = s >= pad[b]! && s < length ? 0 : -1e9;
      past.data[b * slots + s] = v;
      all.data[b * (slots + 1) + s] = v;
    }
  }
  return { past, fresh: ndarray('float32', [B, 1, 1, 1]), all };
}

test('rotaryMatrix: x·M equals rotary(x, cos, sin) over every head of a token (interpreter exactly, ORT to float32)', async () => {
  const c = makeConfig({ vocab_size: 8, hidden_size: 24, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, head_dim: 12 });
  const g = new Graph();
  const x = g.input('x', ['b', 1, 5, 12]);
  const cos = g.input('cos', ['b', 1, 1, 12]);
  const sin = g.input('sin', ['b', 1, 1, 12]);
  const byMatrix = x.matmul(rotaryMatrix(cos, sin));
  const byHalves = rotary(x, cos, sin);
  assert.deepEqual(byMatrix.shape, ['b', 1, 5, 12]);
  const session = await Session.create({ byMatrix }, { threads: 1 });
  for (const positions of [[0, 7, 300], [41]]) {
    const feeds = { x: floats(positions.length, 1, 5, 12), ...rotaryFeeds(c, positions) };
    const [m, h] = evaluate([byMatrix, byHalves], feeds);
    assertClose(m!.data, h!.data, `interpreter at ${positions}`, 1e-12, 1e-12);
    assertClose(toNumbers((await session.run(feeds))['byMatrix']!), h!.data, `ORT at ${positions}`);
  }
  assert.throws(() => rotaryMatrix(g.input('c2', ['b', 1, 2, 12]), sin), /rotaryMatrix: cos\/sin must be \[\.\.\., 1, D\]/);
});

test('cachedAttentionStep equals cachedAttention (one softmax over the cache and the new key, GQA, masked slots, any cache length)', async () => {
  const [hq, hkv, d, scale] = [4, 2, 8, 0.3];
  const g = new Graph();
  const q = g.input('q', ['b', hq, 1, d]);
  const keyT = g.input('keyT', ['b', hkv, d, 'past']);
  const value = g.input('value', ['b', hkv, 'past', d]);
  const key = g.input('key', ['b', hkv, 1, d]);
  const val = g.input('val', ['b', hkv, 1, d]);
  const maskPast = g.input('mask_past', ['b', 1, 1, 'past']);
  const maskNew = g.input('mask_new', ['b', 1, 1, 1]);
  const mask = g.input('mask', ['b', 1, 1, 'total']);
  const reference = cachedAttention(q, { keyT, value }, { key, value: val }, maskPast, maskNew, scale);
  const step = cachedAttentionStep(q.mul(scale), { keyT, value }, { key, value: val }, mask);
  assert.deepEqual(step.shape, ['b', hq, 1, d]);
  const session = await Session.create({ step }, { threads: 1 });
  // Batch 2 with a left-padded row; a single sequence whose cache holds one token; a cache with free slots.
  for (const [pad, length, slots] of [[[0, 2], 5, 5], [[0], 1, 1], [[1, 0, 3], 6, 16]] as [number[], number, number][]) {
    const B = pad.length;
    const m = masks(pad, length, slots);
    const feeds = {
      q: floats(B, hq, 1, d), keyT: floats(B, hkv, d, slots), value: floats(B, hkv, slots, d), key: floats(B, hkv, 1, d), val: floats(B, hkv, 1, d),
      mask_past: m.past, mask_new: m.fresh, mask: m.all,
    };
    const [ref, got] = evaluate([reference, step], feeds);
    assertClose(got!.data, ref!.data, `interpreter, cache ${slots}`, 1e-12, 1e-12);
    const ortFeeds = Object.fromEntries(session.inputNames.map((n) => [n, feeds[n as keyof typeof feeds]]));
    assertClose(toNumbers((await session.run(ortFeeds))['step']!), ref!.data, `ORT, cache ${slots}`);
  }
});

const llama = makeConfig({
  vocab_size: 61, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  max_position_embeddings: 64, initializer_range: 0.3,
});
const periLn = makeConfig({
  vocab_size: 61, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 12,
  max_position_embeddings: 64, initializer_range: 0.3, use_post_norm: true, embedding_multiplier: 2, attention_multiplier: 0.2, logits_scaling: 0.7,
  residual_multiplier: 0.8, tie_word_embeddings: false,
});

/** decoderForward's cached path for one token: the formulation the decode graph replaces. */
function referenceStep(c: ModelConfig): Record<string, Tensor> {
  const g = new Graph();
  const weights: Record<string, Tensor> = {};
  for (const s of paramSpecs(c)) weights[s.name] = g.input(s.name, s.shape);
  const cache = {
    past: Array.from({ length: c.num_hidden_layers }, (_, l) => ({
      keyT: g.input(pastKey(l), ['batch', c.num_key_value_heads, c.head_dim, 'past']),
      value: g.input(pastValue(l), ['batch', c.num_key_value_heads, 'past', c.head_dim]),
    })),
    maskPast: g.input('mask_past', ['batch', 1, 1, 'past']),
    maskNew: g.input('mask_new', ['batch', 1, 1, 1]),
  };
  const out = decoderForward(c, {
    inputIds: g.input('input_ids', ['batch', 1], 'int64'),
    weights,
    cos: g.input('cos', ['batch', 1, 1, c.head_dim]),
    sin: g.input('sin', ['batch', 1, 1, c.head_dim]),
    cache,
    lastOnly: true,
  });
  const outputs: Record<string, Tensor> = { logits: out.logits };
  out.present.forEach((p, l) => {
    outputs[presentKey(l)] = p.key;
    outputs[presentValue(l)] = p.value;
  });
  return outputs;
}

for (const [label, c] of [['Llama', llama], ['HyperCLOVAX (Peri-LN, μP multipliers, untied)', periLn]] as const) {
  test(`decode graph (packed q/k/v and gate/up, rotation matrix, one softmax) equals decoderForward's cached step: ${label}`, async () => {
    const params = initParams(c, 7);
    const weights = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, ndarray('float32', v.shape, v.data)]));
    const reference = referenceStep(c);
    const unpacked = declareDecode(c, { packed: false });
    const packed = packDecodeWeights(c, weights);
    assert.ok(!Object.keys(packed).some((k) => /\.(self_attn\.[qkv]_proj|mlp\.(gate|up)_proj)\.weight$/.test(k)), 'packed weights replace q/k/v and gate/up');
    const session = await Session.create(declareDecode(c, { packed: true }), { initializers: packed as Record<string, NDArray>, threads: 1 });
    const names = Object.keys(reference);
    assert.deepEqual(Object.keys(unpacked), names);
    for (const [pad, length, slots] of [[[0, 3], 6, 8], [[0], 1, 1]] as [number[], number, number][]) {
      const B = pad.length;
      const m = masks(pad, length, slots);
      const feeds: Record<string, NDArray> = {
        ...weights,
        input_ids: ndarray('int64', [B, 1], Array.from({ length: B }, (_, b) => (b * 17 + 5) % c.vocab_size)),
        ...rotaryFeeds(c, pad.map((p) => length - p)),
        mask_past: m.past,
        mask_new: m.fresh,
        mask: m.all,
      };
      for (let l = 0; l < c.num_hidden_layers; l++) {
        feeds[pastKey(l)] = floats(B, c.num_key_value_heads, c.head_dim, slots);
        feeds[pastValue(l)] = floats(B, c.num_key_value_heads, slots, c.head_dim);
      }
      const want = evaluate(names.map((n) => reference[n]!), feeds);
      const same = evaluate(names.map((n) => unpacked[n]!), feeds);
      const got = await session.run(Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]!])));
      names.forEach((n, i) => {
        assert.deepEqual([...same[i]!.shape], [...want[i]!.shape], `${n}: shape`);
        assertClose(same[i]!.data, want[i]!.data, `interpreter ${n}, cache ${slots}`, 1e-9, 1e-9);
        assert.deepEqual([...got[n]!.dims], [...want[i]!.shape], `ORT ${n}: shape`);
        assertClose(toNumbers(got[n]!), want[i]!.data, `ORT ${n}, cache ${slots}`, 1e-4, 1e-4);
      });
    }
  });
}
