/**
 * A small Llama-style decoder (pre-RMSNorm, RoPE, grouped-query attention, SwiGLU, tied embeddings) built from the
 * engine's composites: the demo's model and the engine tests' end-to-end subject.
 */
import { attention, crossEntropy, linear, rmsNorm, rotary, rotaryTables, swiglu } from '../graph/nn.js';
import { randn, ndarray, type NDArray } from '../graph/ndarray.js';
import { rng } from '../util/random.js';
import type { Graph, Tensor } from '../graph/tensor.js';
import type { TrainableParam } from '../train/adamw.js';

export interface TinyConfig {
  vocab: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  layers: number;
  seq: number;
  ropeTheta?: number;
}

export function tinyParamShapes(c: TinyConfig): Record<string, number[]> {
  const hd = c.hidden / c.heads;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [c.vocab, c.hidden], 'model.norm.weight': [c.hidden] };
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    Object.assign(shapes, {
      [`${p}.input_layernorm.weight`]: [c.hidden],
      [`${p}.self_attn.q_proj.weight`]: [c.heads * hd, c.hidden],
      [`${p}.self_attn.k_proj.weight`]: [c.kvHeads * hd, c.hidden],
      [`${p}.self_attn.v_proj.weight`]: [c.kvHeads * hd, c.hidden],
      [`${p}.self_attn.o_proj.weight`]: [c.hidden, c.heads * hd],
      [`${p}.post_attention_layernorm.weight`]: [c.hidden],
      [`${p}.mlp.gate_proj.weight`]: [c.ffn, c.hidden],
      [`${p}.mlp.up_proj.weight`]: [c.ffn, c.hidden],
      [`${p}.mlp.down_proj.weight`]: [c.hidden, c.ffn],
    });
  }
  return shapes;
}

/** Norm weights 1, matrices N(0, 0.02²), deterministic for a seed. */
export function initTiny(c: TinyConfig, seed: number): Record<string, NDArray> {
  const random = rng(seed);
  const out: Record<string, NDArray> = {};
  for (const [name, shape] of Object.entries(tinyParamShapes(c))) {
    out[name] = name.endsWith('norm.weight') ? ndarray('float32', shape, new Array(shape[0]).fill(1)) : randn(shape, random, 0.02);
  }
  return out;
}

export interface TinyGraph {
  tokens: Tensor;
  targets: Tensor;
  logits: Tensor;
  loss: Tensor;
  params: TrainableParam[];
}

export function buildTinyDecoder(graph: Graph, c: TinyConfig, batch: number): TinyGraph {
  const hd = c.hidden / c.heads;
  const T = c.seq;
  const params: TrainableParam[] = [];
  const w: Record<string, Tensor> = {};
  for (const [name, shape] of Object.entries(tinyParamShapes(c))) {
    w[name] = graph.input(name, shape);
    params.push({ name, tensor: w[name]!, decay: !name.endsWith('norm.weight') && !name.includes('embed_tokens') });
  }
  const tokens = graph.input('input_ids', [batch, T], 'int64');
  const targets = graph.input('labels', [batch, T], 'int64');
  const { cos, sin } = rotaryTables([...Array(T).keys()], hd, c.ropeTheta ?? 10000);
  const cosT = graph.constant(cos);
  const sinT = graph.constant(sin);
  const heads = (x: Tensor, n: number) => x.reshape([batch, T, n, hd]).transpose([0, 2, 1, 3]);

  let x = w['model.embed_tokens.weight']!.gather(tokens);
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, w[`${p}.input_layernorm.weight`]!);
    const q = rotary(heads(linear(h, w[`${p}.self_attn.q_proj.weight`]!), c.heads), cosT, sinT);
    const k = rotary(heads(linear(h, w[`${p}.self_attn.k_proj.weight`]!), c.kvHeads), cosT, sinT);
    const v = heads(linear(h, w[`${p}.self_attn.v_proj.weight`]!), c.kvHeads);
    const o = attention(q, k, v, { causal: true }).transpose([0, 2, 1, 3]).reshape([batch, T, c.heads * hd]);
    x = x.add(linear(o, w[`${p}.self_attn.o_proj.weight`]!));
    const m = rmsNorm(x, w[`${p}.post_attention_layernorm.weight`]!);
    x = x.add(swiglu(m, w[`${p}.mlp.gate_proj.weight`]!, w[`${p}.mlp.up_proj.weight`]!, w[`${p}.mlp.down_proj.weight`]!));
  }
  const logits = linear(rmsNorm(x, w['model.norm.weight']!), w['model.embed_tokens.weight']!);
  return { tokens, targets, logits, loss: crossEntropy(logits, targets), params };
}
