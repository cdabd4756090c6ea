/**
 * How the decoder multiplies an input by its weights. The decoder asks for a group of projections of one input
 * (q/k/v, gate/up, or a single o_proj/down_proj) by HF weight name; an implementation may run a group as one
 * product. Quantized, LoRA-wrapped or expert-routed layers are further implementations of the same function.
 */
import type { Tensor } from '../graph/tensor.js';
import { multipliers, type ModelConfig } from './config.js';
import { layerPrefix } from './params.js';

/** x [..., in] by each named HF weight [out, in] → one output [..., out] per name. */
export type Linear = (x: Tensor, names: readonly string[]) => Tensor[];

/** One product per weight: y = x·Wᵀ. */
export function denseLinear(weight: (name: string) => Tensor): Linear {
  return (x, names) => names.map((name) => x.matmul(weight(name), { transB: true }));
}

interface PackedGroup {
  packed: string;
  /** Output rows of each member, in order. */
  rows: number[];
}

/** Packed projection of layer l: rows of q (times the attention scale), then k, then v: [(Hq + 2·Hkv)·D, hidden]. */
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
    groups.set(qkv[0]!, { packed: qkvName(l), rows: [q, kv, kv], members: qkv });
    groups.set(gateUp[0]!, { packed: gateUpName(l), rows: [c.intermediate_size, c.intermediate_size], members: gateUp });
  }
  return groups;
}

/**
 * Groups as one product over weights packed by `packWeights` (fewer, larger kernels: what a batch-1 decode step,
 * bound by per-kernel costs, needs), sliced after; single projections stay dense.
 */
export function packedLinear(c: ModelConfig, weight: (name: string) => Tensor): Linear {
  const groups = packedGroups(c);
  const dense = denseLinear(weight);
  return (x, names) => {
    const group = names.length > 1 ? groups.get(names[0]!) : undefined;
    if (!group) return dense(x, names);
    if (group.members.some((m, i) => m !== names[i]) || names.length !== group.members.length) {
      throw new Error(`packedLinear: the group ${names.join(', ')} is not packed as ${group.members.join(', ')}`);
    }
    const y = x.matmul(weight(group.packed), { transB: true });
    let at = 0;
    return group.rows.map((n) => y.slice(-1, at, (at += n)));
  };
}

/** The packed matrices' names and shapes, for declaring them as graph inputs. */
export function packedSpecs(c: ModelConfig): { name: string; shape: number[]; replaces: string[] }[] {
  return [...packedGroups(c).values()].map((g) => ({ name: g.packed, shape: [g.rows.reduce((a, b) => a + b, 0), c.hidden_size], replaces: g.members }));
}

interface Weight {
  shape: readonly number[];
  data: ArrayLike<number>;
}
type PackedWeight = { dtype: 'float32'; shape: number[]; data: Float32Array };

/**
 * Weights for `packedLinear`: each group's matrices stacked into new arrays (q's rows multiplied by the attention
 * scale, so the decode step needs no scaling node), every other weight passed through.
 */
export function packWeights<W extends Weight>(c: ModelConfig, weights: Record<string, W>): Record<string, W | PackedWeight> {
  const specs = packedSpecs(c);
  const replaced = new Set(specs.flatMap((s) => s.replaces));
  const out: Record<string, W | PackedWeight> = {};
  for (const [name, w] of Object.entries(weights)) if (!replaced.has(name)) out[name] = w;
  const queryScale = multipliers(c).attention;
  for (const spec of specs) {
    const data = new Float32Array(spec.shape[0]! * spec.shape[1]!);
    let offset = 0;
    for (const name of spec.replaces) {
      const w = weights[name];
      if (!w) throw new Error(`packWeights: missing parameter '${name}'`);
      if (name.endsWith('.q_proj.weight')) for (let i = 0; i < w.data.length; i++) data[offset + i] = w.data[i]! * queryScale;
      else data.set(w.data, offset);
      offset += w.data.length;
    }
    out[spec.name] = { dtype: 'float32', shape: spec.shape, data };
  }
  return out;
}
