/**
 * The decode step's constructs against independent formulations: rotation-matrix rotary against rotate-half rotary,
 * single-softmax cached attention against attention computed in plain JavaScript, and the whole decode step (packed in
 * ORT, unpacked in the float64 interpreter) against recomputing the full sequence with the prefill graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, randn, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import { cachedAttentionStep, rotary, rotaryMatrix } from '../../src/graph/nn.js';
import { Graph } from '../../src/graph/tensor.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { decodeFeeds, leftPaddedFeeds, sequenceFeeds } from '../../src/model/feeds.js';
import { declareDecode, declarePrefill, pastKey, pastValue, presentKey, presentValue } from '../../src/model/graphs.js';
import { packWeights } from '../../src/model/linear.js';
import { initParams } from '../../src/model/params.js';
import { ropeFrequencies, ropeTables, RotaryRows } from '../../src/model/rope.js';
import { KvCache } from '../../src/infer/kv-cache.js';

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

/** A plain feed ({dtype, shape, data}) as the interpreter's float64 array. */
const asNd = (f: { dtype: 'float32' | 'int64'; shape: readonly number[]; data: ArrayLike<number> | BigInt64Array }) =>
  ndarray(f.dtype, f.shape, Array.from(f.data as ArrayLike<number | bigint>, Number));

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

test('cachedAttentionStep equals attention over the cache and the new key computed in plain JS (GQA, masked slots, any cache length)', async () => {
  const [hq, hkv, d, scale] = [4, 2, 8, 0.3];
  const g = new Graph();
  const q = g.input('q', ['b', hq, 1, d]);
  const keyT = g.input('keyT', ['b', hkv, d, 'past']);
  const value = g.input('value', ['b', hkv, 'past', d]);
  const key = g.input('key', ['b', hkv, 1, d]);
  const val = g.input('val', ['b', hkv, 1, d]);
  const mask = g.input('mask', ['b', 1, 1, 'total']);
  const step = cachedAttentionStep(q.mul(scale), { keyT, value }, { key, value: val }, mask);
  assert.deepEqual(step.shape, ['b', hq, 1, d]);
  const session = await Session.create({ step }, { threads: 1 });
  // Batch 2 with a left-padded row; a single sequence whose cache holds one token; a cache with free slots.
  for (const [pad, length, slots] of [[[0, 2], 5, 5], [[0], 1, 1], [[1, 0, 3], 6, 16]] as [number[], number, number][]) {
    const B = pad.length;
    const visible = (b: number, s: number) => s >= pad[b]! && s < length;
    const m = ndarray('float32', [B, 1, 1, slots + 1], Array.from({ length: B * (slots + 1) }, (_, i) => (i % (slots + 1) === slots || visible(Math.floor(i / (slots + 1)), i % (slots + 1)) ? 0 : -1e9)));
    const feeds = { q: floats(B, hq, 1, d), keyT: floats(B, hkv, d, slots), value: floats(B, hkv, slots, d), key: floats(B, hkv, 1, d), val: floats(B, hkv, 1, d), mask: m };
    const want = new Float64Array(B * hq * d);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < hq; h++) {
        const kv = Math.floor(h / (hq / hkv));
        const qv = (j: number) => feeds.q.data[(b * hq + h) * d + j]!;
        const slotsSeen = [...Array(slots).keys()].filter((s) => visible(b, s));
        const dot = (k: (j: number) => number) => scale * [...Array(d).keys()].reduce((a, j) => a + qv(j) * k(j), 0);
        const scores = [...slotsSeen.map((s) => dot((j) => feeds.keyT.data[((b * hkv + kv) * d + j) * slots + s]!)), dot((j) => feeds.key.data[(b * hkv + kv) * d + j]!)];
        const max = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - max));
        const z = e.reduce((a, x) => a + x, 0);
        for (let j = 0; j < d; j++) {
          let acc = e.at(-1)! * feeds.val.data[(b * hkv + kv) * d + j]!;
          slotsSeen.forEach((s, i) => (acc += e[i]! * feeds.value.data[((b * hkv + kv) * slots + s) * d + j]!));
          want[(b * hq + h) * d + j] = acc / z;
        }
      }
    }
    const [got] = evaluate([step], feeds);
    assertClose(got!.data, want, `interpreter, cache ${slots}`, 1e-12, 1e-12);
    assertClose(toNumbers((await session.run(feeds))['step']!), want, `ORT, cache ${slots}`);
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

const qwen2 = makeConfig({ model_type: 'qwen2', vocab_size: 61, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, initializer_range: 0.3 });
const qwen3 = makeConfig({ model_type: 'qwen3', vocab_size: 61, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 12, max_position_embeddings: 64, initializer_range: 0.3, tie_word_embeddings: false });
const biased = makeConfig({
  vocab_size: 61, hidden_size: 32, intermediate_size: 40, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, initializer_range: 0.3,
  attention_bias: true, mlp_bias: true, rope_scaling: { rope_type: 'llama3', factor: 4, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
});

for (const [label, c] of [
  ['Llama', llama],
  ['HyperCLOVAX (Peri-LN, μP multipliers, untied)', periLn],
  ['Qwen2 (packed q/k/v biases)', qwen2],
  ['Qwen3 (q/k norms, the attention scale folded into q_norm)', qwen3],
  ['Llama with attention and MLP biases, Llama 3.1 RoPE', biased],
] as const) {
  test(`decode step (packed q/k/v and gate/up, rotation matrix, one softmax) equals recomputing the whole sequence: ${label}`, async () => {
    // Biases and norms away from their zero / one initialisation, so that the packing of each is checked.
    const value = (k: string, v: NDArray) => (k.endsWith('.bias') ? v.data.map((_, i) => 0.4 * Math.sin(i + k.length)) : k.includes('_norm.') ? v.data.map((x, i) => x + 0.3 * Math.cos(i)) : v.data);
    const weights = Object.fromEntries(Object.entries(initParams(c, 7)).map(([k, v]) => [k, ndarray('float32', v.shape, value(k, v))]));
    const prompts = [[3, 14, 15, 9, 26], [5, 35, 8]];
    const next = [7, 42];
    const prefill = declarePrefill(c, { name: 'prefill', lastOnly: true });
    const prefillOutputs = { logits: prefill.out.logits, ...prefill.cache };
    const run = (feeds: Record<string, NDArray>) => {
      const names = Object.keys(prefillOutputs);
      const values = evaluate(names.map((n) => prefillOutputs[n as keyof typeof prefillOutputs]!), { ...weights, ...feeds });
      return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
    };
    const nd = (feeds: object): Record<string, NDArray> => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, asNd(v)]));
    // The truth: each whole sequence (prompt + next token) through the prefill graph, last position's logits.
    const want = prompts.map((p, b) => run(nd(sequenceFeeds(c, [[{ ids: [...p, next[b]!], at: 0 }]], p.length + 1)))['logits']!.data);

    // The prompts prefilled together (left-padded), their keys/values in a KV cache with free slots, then one step.
    const { T, pad, ...feeds } = leftPaddedFeeds(c, prompts);
    const out = run(nd(feeds));
    const cache = new KvCache(c.num_hidden_layers, c.num_key_value_heads, c.head_dim, 4);
    const f32 = (name: string) => Float32Array.from(out[name]!.data);
    const keys = Array.from({ length: c.num_hidden_layers }, (_, l) => f32(presentKey(l)));
    const values = Array.from({ length: c.num_hidden_layers }, (_, l) => f32(presentValue(l)));
    prompts.forEach((p, b) => cache.addRow({ keys, values, batch: b, steps: T, from: pad[b]!, length: p.length }));
    assert.ok(cache.slots > T, 'free slots stay hidden');
    const stepFeeds: Record<string, NDArray> = nd(decodeFeeds(c, new RotaryRows(c), next, prompts.map((p) => p.length), cache.slots));
    for (let l = 0; l < c.num_hidden_layers; l++) {
      stepFeeds[pastKey(l)] = asNd(cache.feeds(l).key);
      stepFeeds[pastValue(l)] = asNd(cache.feeds(l).value);
    }
    const unpacked = declareDecode(c, { packed: false });
    const [interpreted] = evaluate([unpacked['logits']!], { ...weights, ...stepFeeds });
    const packed = packWeights(c, weights);
    assert.ok(!Object.keys(packed).some((k) => /\.(self_attn\.[qkv]_proj|mlp\.(gate|up)_proj)\.weight$/.test(k)), 'packed weights replace q/k/v and gate/up');
    const session = await Session.create(declareDecode(c, { packed: true }), { initializers: packed as Record<string, NDArray>, threads: 1 });
    const ort = toNumbers((await session.run(stepFeeds))['logits']!);
    const V = c.vocab_size;
    prompts.forEach((_, b) => {
      assertClose(interpreted!.data.subarray(b * V, (b + 1) * V), want[b]!, `interpreter, row ${b}`, 1e-5, 1e-5);
      assertClose(ort.subarray(b * V, (b + 1) * V), want[b]!, `ORT packed, row ${b}`, 1e-4, 1e-4);
    });
  });
}
