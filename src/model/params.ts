/** Parameter names (HF Llama / HyperCLOVAX), shapes, initialisation and weight-decay groups for a config. */
import { ndarray, randn, type NDArray } from '../graph/ndarray.js';
import { rng } from '../util/random.js';
import type { ModelConfig } from './config.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  kind: 'embedding' | 'matrix' | 'norm';
}

/** Prefix of layer l's parameter names (HF Llama). */
export const layerPrefix = (l: number) => `model.layers.${l}`;

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const h = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocab_size, h], kind: 'embedding' }];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = layerPrefix(l);
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [h], kind: 'norm' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [q, h], kind: 'matrix' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, h], kind: 'matrix' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, h], kind: 'matrix' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, q], kind: 'matrix' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h], kind: 'norm' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediate_size, h], kind: 'matrix' },
      { name: `${p}.mlp.up_proj.weight`, shape: [c.intermediate_size, h], kind: 'matrix' },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, c.intermediate_size], kind: 'matrix' },
    );
    if (c.use_post_norm) {
      specs.push({ name: `${p}.post_norm1.weight`, shape: [h], kind: 'norm' }, { name: `${p}.post_norm2.weight`, shape: [h], kind: 'norm' });
    }
  }
  specs.push({ name: 'model.norm.weight', shape: [h], kind: 'norm' });
  if (!c.tie_word_embeddings) specs.push({ name: 'lm_head.weight', shape: [c.vocab_size, h], kind: 'matrix' });
  return specs;
}

export function parameterCount(c: ModelConfig): number {
  return paramSpecs(c).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * transformers' initialisation: N(0, initializer_range²) for matrices and embeddings, ones for norms. μP multipliers
 * act in the forward pass (as in HyperCLOVAX's modelling code), so the stored weights keep this scale.
 */
export function initParams(c: ModelConfig, seed: number): Record<string, NDArray> {
  const random = rng(seed);
  const out: Record<string, NDArray> = {};
  for (const p of paramSpecs(c)) {
    out[p.name] = p.kind === 'norm' ? ndarray('float32', p.shape, new Float64Array(p.shape[0]!).fill(1)) : randn(p.shape, random, c.initializer_range);
  }
  return out;
}

/** Decoupled weight decay on matrices only: norms and embeddings are excluded by default. */
export function decays(spec: ParamSpec, decayEmbeddings = false): boolean {
  return spec.kind === 'matrix' || (decayEmbeddings && spec.kind === 'embedding');
}
