/**
 * The model's graphs with their feeds and outputs declared: prefill (a padded batch of whole sequences, which also
 * scores and trains on-policy) and the cached decode step. Both are `decoder` with a different attention strategy;
 * batch, sequence and cache lengths are symbolic, so one compiled session serves every shape.
 *
 * Prefill feeds: `input_ids` [B, T], `cos`/`sin` [B, 1, T, D], `mask` [B, 1, T, T] (model/feeds.ts builds them).
 * Decode feeds: `input_ids` [B, 1], `cos`/`sin` [B, 1, 1, D], `mask` [B, 1, 1, C + 1], per layer `past.L.key`
 * [B, Hkv, D, C] (transposed) and `past.L.value` [B, Hkv, C, D]. Outputs: `logits` and per layer
 * `present.L.key`/`present.L.value` [B, Hkv, T, D], this call's keys and values for the cache.
 */
import { Graph, type Tensor } from '../graph/tensor.js';
import type { Dim } from '../graph/shape.js';
import type { ModelConfig } from './config.js';
import { cachedStepAttention, sequenceAttention, type Attention } from './attention.js';
import { decoder, weightsOf, type DecoderOutputs } from './decoder.js';
import { configBiases, denseLinear, matrixProduct, packedLinear, packedSpecs, type ProductOptions } from './linear.js';
import { paramSpecs } from './params.js';
import { blocksName, NO_QUANTIZATION, quantizedPartShapes, scalesName, type QuantPlan } from './quantize.js';

export const pastKey = (l: number) => `past.${l}.key`;
export const pastValue = (l: number) => `past.${l}.value`;
export const presentKey = (l: number) => `present.${l}.key`;
export const presentValue = (l: number) => `present.${l}.value`;

/** Quantization of the graph's matrices (by the names the graph uses, packed ones included) and how to run it. */
export interface GraphQuantization extends ProductOptions {
  quant?: QuantPlan;
}

/**
 * The model's parameters as graph inputs named as in the folder (or as `packWeights` names them, `packed`); a
 * quantized matrix is two inputs, its blocks and scales (model/quantize.ts).
 */
export function declareWeights(g: Graph, c: ModelConfig, opts: { packed?: boolean; quant?: QuantPlan } = {}): Record<string, Tensor> {
  const weights: Record<string, Tensor> = {};
  const quant = opts.quant ?? NO_QUANTIZATION;
  const declare = (name: string, shape: number[]) => {
    const q = quant.get(name);
    if (!q) return void (weights[name] = g.input(name, shape));
    const parts = quantizedPartShapes(q);
    weights[blocksName(name)] = g.input(blocksName(name), parts.blocks, 'uint8');
    weights[scalesName(name)] = g.input(scalesName(name), parts.scales);
  };
  const packed = opts.packed ? packedSpecs(c) : [];
  const replaced = new Set(packed.flatMap((s) => s.replaces));
  for (const s of paramSpecs(c)) if (!replaced.has(s.name)) declare(s.name, s.shape);
  for (const s of packed) declare(s.name, s.shape);
  return weights;
}

/** Cache outputs by name from a strategy's `present`. */
export function presentOutputs(attention: Attention): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  attention.present.forEach((p, l) => {
    out[presentKey(l)] = p.key;
    out[presentValue(l)] = p.value;
  });
  return out;
}

export interface PrefillGraph {
  graph: Graph;
  weights: Record<string, Tensor>;
  inputIds: Tensor;
  out: DecoderOutputs;
  /** `present.L.key/value` [B, Hkv, T, D]. */
  cache: Record<string, Tensor>;
}

/** A batch of whole sequences under an additive mask: logits at the last position (`lastOnly`) or at every one. */
export function declarePrefill(c: ModelConfig, opts: { name: string; lastOnly?: boolean; batch?: Dim; seq?: Dim } & GraphQuantization): PrefillGraph {
  const graph = new Graph(opts.name);
  const [B, T] = [opts.batch ?? 'batch', opts.seq ?? 'seq'];
  const weights = declareWeights(graph, c, { quant: opts.quant });
  const inputIds = graph.input('input_ids', [B, T], 'int64');
  const attention = sequenceAttention(c, {
    cos: graph.input('cos', [B, 1, T, c.head_dim]),
    sin: graph.input('sin', [B, 1, T, c.head_dim]),
    mask: graph.input('mask', [B, 1, T, T]),
  });
  const weight = weightsOf(weights);
  const linear = denseLinear(weight, configBiases(c, weight), matrixProduct(weight, opts.quant, opts));
  const out = decoder(c, inputIds, { weight, attention, linear }, { lastOnly: opts.lastOnly });
  return { graph, weights, inputIds, out, cache: presentOutputs(attention) };
}

/**
 * One token per sequence against the cache. `packed`: q/k/v and gate/up are one product each over weights from
 * `packWeights` (the query rows pre-scaled), for compiled-in initializers; otherwise HF's separate matrices, fed
 * each run (a policy still training).
 */
export function declareDecode(c: ModelConfig, opts: { packed: boolean; name?: string } & GraphQuantization): Record<string, Tensor> {
  const g = new Graph(opts.name ?? 'decode');
  const [hkv, d] = [c.num_key_value_heads, c.head_dim];
  const weight = weightsOf(declareWeights(g, c, { packed: opts.packed, quant: opts.quant }));
  const inputIds = g.input('input_ids', ['batch', 1], 'int64');
  const attention = cachedStepAttention(c, {
    cos: g.input('cos', ['batch', 1, 1, d]),
    sin: g.input('sin', ['batch', 1, 1, d]),
    mask: g.input('mask', ['batch', 1, 1, 'total']),
    past: Array.from({ length: c.num_hidden_layers }, (_, l) => ({
      keyT: g.input(pastKey(l), ['batch', hkv, d, 'past']),
      value: g.input(pastValue(l), ['batch', hkv, 'past', d]),
    })),
    scale: opts.packed ? 1 : undefined,
  });
  const product = matrixProduct(weight, opts.quant, opts);
  const linear = opts.packed ? packedLinear(c, weight, product) : denseLinear(weight, configBiases(c, weight), product);
  const { logits } = decoder(c, inputIds, { weight, attention, linear });
  return { logits, ...presentOutputs(attention) };
}
