import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ggufShapeToHf,
  ggufToHfName,
  hfShapeToGguf,
  hfToGgufName,
  permuteForGguf,
  unpermuteFromGguf,
} from '../../src/formats/gguf/index.js';
import { KolmError } from '../../src/util/errors.js';
import { mulberry32 } from '../fixtures/formats/fuzz.js';

const PAIRS: Array<[string, string]> = [
  ['model.embed_tokens.weight', 'token_embd.weight'],
  ['model.norm.weight', 'output_norm.weight'],
  ['lm_head.weight', 'output.weight'],
  ['model.layers.0.self_attn.q_proj.weight', 'blk.0.attn_q.weight'],
  ['model.layers.0.self_attn.k_proj.weight', 'blk.0.attn_k.weight'],
  ['model.layers.0.self_attn.v_proj.weight', 'blk.0.attn_v.weight'],
  ['model.layers.0.self_attn.o_proj.weight', 'blk.0.attn_output.weight'],
  ['model.layers.11.mlp.gate_proj.weight', 'blk.11.ffn_gate.weight'],
  ['model.layers.11.mlp.up_proj.weight', 'blk.11.ffn_up.weight'],
  ['model.layers.23.mlp.down_proj.weight', 'blk.23.ffn_down.weight'],
  ['model.layers.5.input_layernorm.weight', 'blk.5.attn_norm.weight'],
  ['model.layers.5.post_attention_layernorm.weight', 'blk.5.ffn_norm.weight'],
  ['model.layers.2.self_attn.q_proj.bias', 'blk.2.attn_q.bias'],
];

test('HF Llama parameter names map to llama.cpp tensor names and back', () => {
  for (const [hf, gguf] of PAIRS) {
    assert.equal(hfToGgufName(hf), gguf);
    assert.equal(ggufToHfName(gguf), hf);
  }
  for (const bad of ['model.layers.0.self_attn.rotary_emb.inv_freq', 'model.layers.x.mlp.up_proj.weight', 'model.layers.01.mlp.up_proj.weight', 'embed_tokens.weight', 'lm_head']) {
    assert.throws(() => hfToGgufName(bad), (e: unknown) => e instanceof KolmError && e.message.includes(bad));
  }
  for (const bad of ['blk.0.attn_qkv.weight', 'token_embd', 'blk.0.attn_q.scale']) {
    assert.throws(() => ggufToHfName(bad), KolmError);
  }
  assert.deepEqual(hfShapeToGguf([4096, 1024]), [1024, 4096]);
  assert.deepEqual(ggufShapeToHf([1024, 4096]), [4096, 1024]);
});

test('q/k permutation matches convert_hf_to_gguf.py on hand-worked cases', () => {
  const rows = (n: number) => ({ shape: [n], data: Float32Array.from({ length: n }, (_, i) => i) });
  // numpy: arange(4).reshape(1, 2, 2).swapaxes(1, 2).reshape(4) = [0, 2, 1, 3]
  assert.deepEqual([...permuteForGguf(rows(4), 1).data], [0, 2, 1, 3]);
  assert.deepEqual([...permuteForGguf(rows(8), 2).data], [0, 2, 1, 3, 4, 6, 5, 7]);
  assert.deepEqual([...permuteForGguf(rows(6), 1).data], [0, 3, 1, 4, 2, 5]);
  // Rows move whole: a [4, 2] weight keeps each row's columns together.
  const w = { shape: [4, 2], data: Float32Array.from([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]) };
  assert.deepEqual([...permuteForGguf(w, 1).data], [0, 0.5, 2, 2.5, 1, 1.5, 3, 3.5]);
  assert.throws(() => permuteForGguf(rows(6), 2), /6 rows do not split into 2 heads of even size/);
  assert.throws(() => permuteForGguf({ shape: [2, 2, 2], data: new Float32Array(8) }, 1), KolmError);
});

test('unpermuteFromGguf inverts permuteForGguf', () => {
  const rand = mulberry32(3);
  const w = { shape: [48, 7], data: Float32Array.from({ length: 48 * 7 }, () => rand()) };
  for (const heads of [1, 2, 3, 4, 6, 12]) {
    const p = permuteForGguf(w, heads);
    assert.notDeepEqual(p.data, w.data, `${heads} heads actually permutes`);
    assert.deepEqual(unpermuteFromGguf(p, heads), w);
  }
});

/** HF Llama rotary: dimension i rotates with i + D/2 (rotate_half). */
function ropeHf(q: Float64Array, nHead: number, pos: number): Float64Array {
  const D = q.length / nHead, half = D / 2, out = new Float64Array(q.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      const a = pos * 10000 ** (-(2 * i) / D), x = q[h * D + i]!, y = q[h * D + i + half]!;
      out[h * D + i] = x * Math.cos(a) - y * Math.sin(a);
      out[h * D + i + half] = y * Math.cos(a) + x * Math.sin(a);
    }
  }
  return out;
}

/** ggml's normal-mode rotary (llama architecture): dimension 2i rotates with 2i + 1. */
function ropeGgml(q: Float64Array, nHead: number, pos: number): Float64Array {
  const D = q.length / nHead, out = new Float64Array(q.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < D / 2; i++) {
      const a = pos * 10000 ** (-(2 * i) / D), x = q[h * D + 2 * i]!, y = q[h * D + 2 * i + 1]!;
      out[h * D + 2 * i] = x * Math.cos(a) - y * Math.sin(a);
      out[h * D + 2 * i + 1] = x * Math.sin(a) + y * Math.cos(a);
    }
  }
  return out;
}

const matvec = (w: { shape: number[]; data: Float32Array }, x: Float64Array): Float64Array => {
  const [rows, cols] = w.shape as [number, number];
  return Float64Array.from({ length: rows }, (_, r) => x.reduce((s, v, c) => s + w.data[r * cols + c]! * v, 0));
};

test('permuted q/k under ggml rotary give the same attention logits as HF weights under rotate-half (GQA)', () => {
  const rand = mulberry32(11);
  const hidden = 12, D = 8, nHead = 4, nKv = 2, group = nHead / nKv;
  const wq = { shape: [nHead * D, hidden], data: Float32Array.from({ length: nHead * D * hidden }, () => rand() - 0.5) };
  const wk = { shape: [nKv * D, hidden], data: Float32Array.from({ length: nKv * D * hidden }, () => rand() - 0.5) };
  const wqG = permuteForGguf(wq, nHead), wkG = permuteForGguf(wk, nKv);
  const xq = Float64Array.from({ length: hidden }, () => rand() - 0.5);
  const xk = Float64Array.from({ length: hidden }, () => rand() - 0.5);
  const [pq, pk] = [7, 3];
  const qHf = ropeHf(matvec(wq, xq), nHead, pq), kHf = ropeHf(matvec(wk, xk), nKv, pk);
  const qGg = ropeGgml(matvec(wqG, xq), nHead, pq), kGg = ropeGgml(matvec(wkG, xk), nKv, pk);
  const dot = (a: Float64Array, b: Float64Array, h: number, g: number) =>
    Array.from({ length: D }, (_, d) => a[h * D + d]! * b[g * D + d]!).reduce((s, v) => s + v, 0);
  for (let h = 0; h < nHead; h++) {
    const g = Math.floor(h / group);
    const hf = dot(qHf, kHf, h, g), gg = dot(qGg, kGg, h, g);
    assert.ok(Math.abs(hf - gg) < 1e-9, `head ${h}: ${hf} vs ${gg}`);
  }
  // Without the permutation the logits differ: the test can tell a missing permutation from a correct one.
  const qRaw = ropeGgml(matvec(wq, xq), nHead, pq), kRaw = ropeGgml(matvec(wk, xk), nKv, pk);
  assert.ok(Math.abs(dot(qHf, kHf, 0, 0) - dot(qRaw, kRaw, 0, 0)) > 1e-6);
});
