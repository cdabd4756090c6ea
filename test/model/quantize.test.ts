/**
 * Block-quantized linear layers: the int8 quantizer against ggml's Q8_0 reference (formats/gguf/quant.ts reproduces
 * llama.cpp's bytes), the error bounds of both schemes, ONNX Runtime's MatMulNBits against the float64 interpreter,
 * and a whole quantized model (prefill and the packed decode step) against the same model run in float32 on the
 * dequantized weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, randn } from '../../src/graph/ndarray.js';
import { Graph } from '../../src/graph/tensor.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { rng } from '../../src/util/random.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/formats/half.js';
import { quantizeQ8_0, Q8_0_BLOCK_BYTES } from '../../src/formats/gguf/quant.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { dequantizeMatrix, quantizeMatrix, type QuantBits, type QuantizedMatrix } from '../../src/model/quantize.js';
import { createInferenceSessions } from '../../src/infer/sessions.js';
import { generateIds } from '../../src/infer/generate.js';

const r = rng(11);
const matrix = (rows: number, cols: number) => Float32Array.from(randn([rows, cols], r).data, (v, i) => v * (i % 7 === 0 ? 3 : 0.5));

test('int8 with blocks of 32 is ggml\'s Q8_0: the same scales and values, byte for byte', () => {
  const w = matrix(6, 96);
  const q = quantizeMatrix(w, [6, 96], 8, 32);
  const ggml = new Uint8Array((w.length / 32) * Q8_0_BLOCK_BYTES);
  quantizeQ8_0(w, ggml);
  for (let b = 0; b < w.length / 32; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    assert.equal(q.scales[b], f16BitsToF32(ggml[o]! | (ggml[o + 1]! << 8)), `block ${b} scale`);
    for (let j = 0; j < 32; j++) assert.equal(q.blocks[b * 32 + j]! - 128, (ggml[o + 2 + j]! << 24) >> 24, `block ${b} value ${j}`);
  }
});

for (const bits of [8, 4] as QuantBits[]) {
  for (const blockSize of [32, 64, 128]) {
    test(`${bits}-bit, blocks of ${blockSize}: scales are binary16 values and every weight is within one step of the original`, () => {
      const w = matrix(5, 256);
      const q = quantizeMatrix(w, [5, 256], bits, blockSize);
      assert.equal(q.blocks.length, (5 * 256 * bits) / 8);
      assert.equal(q.scales.length, (5 * 256) / blockSize);
      for (const s of q.scales) assert.equal(s, f16BitsToF32(f32ToF16Bits(s)));
      const back = dequantizeMatrix(q);
      let sq = 0;
      for (let i = 0; i < w.length; i++) {
        const step = Math.abs(q.scales[Math.floor(i / blockSize)]!);
        // Rounding is within half a step; the binary16 scale and 4-bit's clamp of +8 to +7 add at most half more.
        assert.ok(Math.abs(back[i]! - w[i]!) <= step * (bits === 8 ? 0.5 + 2e-3 * 127 : 1) + 1e-6, `weight ${i}: ${w[i]} → ${back[i]} (step ${step})`);
        sq += (back[i]! - w[i]!) ** 2;
      }
      const rel = Math.sqrt(sq / w.reduce((a, v) => a + v * v, 0));
      assert.ok(rel < (bits === 8 ? 0.02 : 0.25), `relative RMS error ${rel}`);
    });
  }
}

test('quantize refuses rows that do not divide into blocks', () => {
  assert.throws(() => quantizeMatrix(new Float32Array(40), [1, 40], 4, 32), /rows of 40 values do not divide into blocks of 32/);
});

test('MatMulNBits in ONNX Runtime equals the float64 interpreter (4 and 8 bits, float32 and int8 accuracy levels)', async () => {
  const [K, N] = [128, 24];
  for (const bits of [4, 8] as QuantBits[]) {
    const q = quantizeMatrix(matrix(N, K), [N, K], bits, 32);
    for (const accuracyLevel of [0, 4]) {
      const g = new Graph();
      const x = g.input('x', ['b', 't', K]);
      const blocks = g.input('blocks', [N, K / 32, (32 * bits) / 8], 'uint8');
      const scales = g.input('scales', [(N * K) / 32]);
      const y = x.matmulNBits(blocks, scales, { K, N, bits, blockSize: 32, accuracyLevel });
      const feeds = { x: randn([2, 3, K], r), blocks: ndarray('uint8', [N, K / 32, (32 * bits) / 8], q.blocks), scales: ndarray('float32', [(N * K) / 32], q.scales) };
      const [want] = evaluate([y], feeds);
      // The interpreter's product is the dequantized matrix's: checked against a plain JS product.
      const deq = dequantizeMatrix(q);
      for (let i = 0; i < 6; i++) {
        for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += feeds.x.data[i * K + k]! * deq[n * K + k]!;
          assert.ok(Math.abs(s - want!.data[i * N + n]!) < 1e-9);
        }
      }
      const session = await Session.create({ y }, { threads: 1 });
      const got = toNumbers((await session.run(feeds))['y']!);
      const scale = Math.max(...Array.from(want!.data, Math.abs));
      // accuracy_level 4 quantizes the activations to int8 per block too.
      const tol = accuracyLevel === 0 ? 1e-5 : 3e-2;
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - want!.data[i]!) <= tol * scale, `${bits}-bit, level ${accuracyLevel}, [${i}]: ${got[i]} vs ${want!.data[i]}`);
    }
  }
});

/** Every linear matrix of the model quantized; embeddings, norms and biases stay float. */
function quantizeModel(c: ModelConfig, weights: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>, bits: QuantBits) {
  const quantized: Record<string, { dtype: 'float32'; shape: readonly number[]; data: Float32Array } | QuantizedMatrix> = {};
  const dequantized: Record<string, { dtype: 'float32'; shape: readonly number[]; data: Float32Array }> = {};
  for (const [name, w] of Object.entries(weights)) {
    const data = Float32Array.from(w.data);
    if (/_proj\.weight$/.test(name) || name === 'lm_head.weight') {
      const q = quantizeMatrix(data, w.shape as [number, number], bits, 32);
      quantized[name] = q;
      dequantized[name] = { dtype: 'float32', shape: w.shape, data: dequantizeMatrix(q) };
    } else {
      quantized[name] = dequantized[name] = { dtype: 'float32', shape: w.shape, data };
    }
  }
  return { quantized, dequantized };
}

const CONFIGS: Array<[string, ModelConfig]> = [
  ['Llama', makeConfig({ vocab_size: 61, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, initializer_range: 0.3 })],
  ['Qwen3 (q/k norms, untied)', makeConfig({ model_type: 'qwen3', vocab_size: 61, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, max_position_embeddings: 64, initializer_range: 0.3, tie_word_embeddings: false })],
  ['Qwen2 (q/k/v biases)', makeConfig({ model_type: 'qwen2', vocab_size: 61, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, initializer_range: 0.3 })],
];

for (const [label, c] of CONFIGS) {
  for (const bits of [8, 4] as QuantBits[]) {
    test(`${label}, int${bits}: quantized prefill and packed decode generate what float32 generates on the dequantized weights`, async () => {
      const { quantized, dequantized } = quantizeModel(c, initParams(c, 5), bits);
      const q = { config: c, sessions: await createInferenceSessions(c, quantized, { threads: 1, accuracyLevel: 0 }) };
      const f = { config: c, sessions: await createInferenceSessions(c, dequantized, { threads: 1 }) };
      const prompts = [[3, 14, 15, 9, 26, 5], [35, 8]];
      const rowsQ: Float32Array[] = [];
      const rowsF: Float32Array[] = [];
      const [a, b] = await Promise.all([
        generateIds(q, prompts, { maxNewTokens: 12, onLogits: (_b, row) => void rowsQ.push(Float32Array.from(row)) }),
        generateIds(f, prompts, { maxNewTokens: 12, onLogits: (_b, row) => void rowsF.push(Float32Array.from(row)) }),
      ]);
      assert.deepEqual(a.map((g) => g.ids), b.map((g) => g.ids));
      assert.equal(rowsQ.length, rowsF.length);
      for (let i = 0; i < rowsQ.length; i++) {
        for (let v = 0; v < c.vocab_size; v++) assert.ok(Math.abs(rowsQ[i]![v]! - rowsF[i]![v]!) < 1e-3 * (1 + Math.abs(rowsF[i]![v]!)), `step ${i}, token ${v}`);
      }
    });
  }
}
