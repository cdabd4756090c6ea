/**
 * How the decoder multiplies an input by its weights. The decoder asks for a group of projections of one input
 * (q/k/v, gate/up, or a single o_proj/down_proj) by HF weight name; an implementation may run a group as one
 * product. Quantized, LoRA-wrapped or expert-routed layers are further implementations of the same function.
 */
import type { Tensor } from '../graph/tensor.js';
import { features, multipliers, type ModelConfig } from './config.js';
import { biasName, hasBias, layerPrefix } from './params.js';
import { blocksName, isQuantized, NO_QUANTIZATION, scalesName, stackQuantized, type QuantizedMatrix, type QuantPlan } from './quantize.js';

/** x [..., in] by each named HF weight [out, in] → one output [..., out] per name. */
export type Linear = (x: Tensor, names: readonly string[]) => Tensor[];

/** A layer's bias by its weight's name, or undefined for a layer without one. */
export type BiasOf = (weightName: string) => Tensor | undefined;

/** The biases config `c` implies (Qwen2's q/k/v, attention_bias, mlp_bias), looked up by HF name. */
export function configBiases(c: ModelConfig, weight: (name: string) => Tensor): BiasOf {
  return (name) => (hasBias(c, name) ? weight(biasName(name)) : undefined);
}

/** x·Wᵀ for the stored matrix `name` [out, in]. */
export type Product = (x: Tensor, name: string) => Tensor;

export interface ProductOptions {
  /** MatMulNBits' accuracy_level for quantized matrices: 0 multiplies in float32, 4 in int8 per block (faster). */
  accuracyLevel?: number;
}

/**
 * Float matrices by MatMul; the matrices `quant` lists (model/quantize.ts) stay quantized, as their blocks and scales
 * run by MatMulNBits.
 */
export function matrixProduct(weight: (name: string) => Tensor, quant: QuantPlan = NO_QUANTIZATION, opts: ProductOptions = {}): Product {
  return (x, name) => {
    const q = quant.get(name);
    if (!q) return x.matmul(weight(name), { transB: true });
    const [N, K] = q.shape;
    return x.matmulNBits(weight(blocksName(name)), weight(scalesName(name)), { K, N, bits: q.bits, blockSize: q.blockSize, accuracyLevel: opts.accuracyLevel ?? 0 });
  };
}

/** One product per weight: y = x·Wᵀ (+ b where `bias` has one). */
export function denseLinear(weight: (name: string) => Tensor, bias: BiasOf = () => undefined, product: Product = matrixProduct(weight)): Linear {
  return (x, names) =>
    names.map((name) => {
      const y = product(x, name);
      const b = bias(name);
      return b ? y.add(b) : y;
    });
}

interface PackedGroup {
  packed: string;
  /** The packed bias (members' biases stacked), when the members have biases. */
  packedBias?: string;
  /** Output rows of each member, in order. */
  rows: number[];
}

/**
 * Packed projection of layer l: rows of q (times the attention scale unless q is normalised per head), then k, then
 * v: [(Hq + 2·Hkv)·D, hidden]; its bias (`…qkv_proj.bias`) stacks the members' the same way.
 */
export const qkvName = (l: number) => `${layerPrefix(l)}.self_attn.qkv_proj.weight`;
/** Packed MLP input projection of layer l: rows of gate, then up: [2·intermediate, hidden]. */
export const gateUpName = (l: number) => `${layerPrefix(l)}.mlp.gate_up_proj.weight`;

/** The groups packed into one matrix each, keyed by their first member's name. */
function packedGroups(c: ModelConfig): Map<string, PackedGroup & { members: string[] }> {
  const groups = new Map<string, PackedGroup & { members: string[] }>();
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = layerPrefix(l);
    const qkv = [`${p}.self_attn.q_proj.weight`, `${p}.self_attn.k_proj.weight`, `${p}.self_attn.v_proj.weight`];
    const gateUp = [`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`];
    const f = features(c);
    groups.set(qkv[0]!, { packed: qkvName(l), packedBias: f.qkvBias ? biasName(qkvName(l)) : undefined, rows: [q, kv, kv], members: qkv });
    groups.set(gateUp[0]!, { packed: gateUpName(l), packedBias: f.mlpBias ? biasName(gateUpName(l)) : undefined, rows: [c.intermediate_size, c.intermediate_size], members: gateUp });
  }
  return groups;
}

/**
 * Groups as one product over weights packed by `packWeights` (fewer, larger kernels: what a batch-1 decode step,
 * bound by per-kernel costs, needs), sliced after; single projections stay dense.
 */
export function packedLinear(c: ModelConfig, weight: (name: string) => Tensor, product: Product = matrixProduct(weight)): Linear {
  const groups = packedGroups(c);
  const dense = denseLinear(weight, configBiases(c, weight), product);
  return (x, names) => {
    const group = names.length > 1 ? groups.get(names[0]!) : undefined;
    if (!group) return dense(x, names);
    if (group.members.some((m, i) => m !== names[i]) || names.length !== group.members.length) {
      throw new Error(`packedLinear: the group ${names.join(', ')} is not packed as ${group.members.join(', ')}`);
    }
    const packed = product(x, group.packed);
    const y = group.packedBias ? packed.add(weight(group.packedBias)) : packed;
    let at = 0;
    return group.rows.map((n) => y.slice(-1, at, (at += n)));
  };
}

/** The packed matrices' (and biases') names and shapes, for declaring them as graph inputs. */
export function packedSpecs(c: ModelConfig): { name: string; shape: number[]; replaces: string[] }[] {
  return [...packedGroups(c).values()].flatMap((g) => {
    const rows = g.rows.reduce((a, b) => a + b, 0);
    const matrix = { name: g.packed, shape: [rows, c.hidden_size], replaces: g.members };
    return g.packedBias ? [matrix, { name: g.packedBias, shape: [rows], replaces: g.members.map(biasName) }] : [matrix];
  });
}

interface Weight {
  shape: readonly number[];
  data: ArrayLike<number>;
}
type PackedWeight = { dtype: 'float32'; shape: number[]; data: Float32Array } | QuantizedMatrix;

/**
 * Weights for `packedLinear`: each group's matrices (and biases) stacked into new arrays, with the attention scale
 * folded in so the decode step needs no scaling node — into q's rows and bias, or, where q is RMS-normalised per
 * head (Qwen3), into the q_norm weight (a copy); every other weight passed through.
 */
export function packWeights<W extends Weight | QuantizedMatrix>(c: ModelConfig, weights: Record<string, W>): Record<string, W | PackedWeight> {
  const specs = packedSpecs(c);
  const replaced = new Set(specs.flatMap((s) => s.replaces));
  const out: Record<string, W | PackedWeight> = {};
  for (const [name, w] of Object.entries(weights)) if (!replaced.has(name)) out[name] = w;
  const queryScale = multipliers(c).attention;
  const qkNorm = features(c).qkNorm;
  const scaled = (name: string) => (qkNorm ? name.endsWith('.self_attn.q_norm.weight') : /\.self_attn\.q_proj\.(weight|bias)$/.test(name));
  if (qkNorm) {
    for (const [name, w] of Object.entries(weights)) {
      if (scaled(name) && !isQuantized(w)) out[name] = { dtype: 'float32', shape: [...w.shape], data: Float32Array.from(w.data, (v) => v * queryScale) };
    }
  }
  for (const spec of specs) {
    const members = spec.replaces.map((name) => weights[name]);
    if (members.some(isQuantized)) {
      // Quantized groups stack their blocks; the query scale goes into q's block scales.
      if (!members.every(isQuantized)) throw new Error(`packWeights: ${spec.name} mixes quantized and float members (${spec.replaces.join(', ')})`);
      out[spec.name] = stackQuantized(members as QuantizedMatrix[], spec.replaces.map((name) => (scaled(name) ? queryScale : 1)));
      continue;
    }
    const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    let offset = 0;
    for (const name of spec.replaces) {
      const w = weights[name] as Weight | undefined;
      if (!w) throw new Error(`packWeights: missing parameter '${name}'`);
      if (scaled(name)) for (let i = 0; i < w.data.length; i++) data[offset + i] = w.data[i]! * queryScale;
      else data.set(w.data, offset);
      offset += w.data.length;
    }
    out[spec.name] = { dtype: 'float32', shape: spec.shape, data };
  }
  return out;
}
