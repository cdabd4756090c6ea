/** Parameter names (HF Llama / HyperCLOVAX / Qwen2 / Qwen3), shapes, initialisation and weight-decay groups for a config. */
import { ndarray, randn, type NDArray } from '../graph/ndarray.js';
import { rng } from '../util/random.js';
import { features, type ModelConfig } from './config.js';

export interface ParamSpec {
  name: string;
  shape: number[];
  kind: 'embedding' | 'matrix' | 'norm' | 'bias';
}

/** Prefix of layer l's parameter names (HF Llama). */
export const layerPrefix = (l: number) => `model.layers.${l}`;

/** The bias of a linear layer's weight: `….q_proj.weight` → `….q_proj.bias`. */
export const biasName = (weight: string) => weight.replace(/\.weight$/, '.bias');

/** Whether the linear layer with HF weight `name` carries a bias under config `c`. */
export function hasBias(c: ModelConfig, name: string): boolean {
  const f = features(c);
  if (/\.self_attn\.[qkv]_proj\.weight$/.test(name)) return f.qkvBias;
  if (name.endsWith('.self_attn.o_proj.weight')) return f.oBias;
  if (/\.mlp\.(gate|up|down)_proj\.weight$/.test(name)) return f.mlpBias;
  return false;
}

export function paramSpecs(c: ModelConfig): ParamSpec[] {
  const h = c.hidden_size;
  const f = features(c);
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocab_size, h], kind: 'embedding' }];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = layerPrefix(l);
    const layer: ParamSpec[] = [
      { name: `${p}.input_layernorm.weight`, shape: [h], kind: 'norm' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [q, h], kind: 'matrix' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, h], kind: 'matrix' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, h], kind: 'matrix' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [h, q], kind: 'matrix' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [h], kind: 'norm' },
      { name: `${p}.mlp.gate_proj.weight`, shape: [c.intermediate_size, h], kind: 'matrix' },
      { name: `${p}.mlp.up_proj.weight`, shape: [c.intermediate_size, h], kind: 'matrix' },
      { name: `${p}.mlp.down_proj.weight`, shape: [h, c.intermediate_size], kind: 'matrix' },
    ];
    specs.push(...layer);
    for (const s of layer) if (hasBias(c, s.name)) specs.push({ name: biasName(s.name), shape: [s.shape[0]!], kind: 'bias' });
    if (f.qkNorm) {
      specs.push({ name: `${p}.self_attn.q_norm.weight`, shape: [c.head_dim], kind: 'norm' }, { name: `${p}.self_attn.k_norm.weight`, shape: [c.head_dim], kind: 'norm' });
    }
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
 * transformers' initialisation: N(0, initializer_range²) for matrices and embeddings, ones for norms, zeros for
 * biases. μP multipliers act in the forward pass (as in HyperCLOVAX's modelling code), so the stored weights keep this
 * scale.
 */
export function initParams(c: ModelConfig, seed: number): Record<string, NDArray> {
  const random = rng(seed);
  const out: Record<string, NDArray> = {};
  for (const p of paramSpecs(c)) {
    out[p.name] =
      p.kind === 'norm' ? ndarray('float32', p.shape, new Float64Array(p.shape[0]!).fill(1))
      : p.kind === 'bias' ? ndarray('float32', p.shape)
      : randn(p.shape, random, c.initializer_range);
  }
  return out;
}

/** Decoupled weight decay on matrices only: norms and embeddings are excluded by default. */
export function decays(spec: ParamSpec, decayEmbeddings = false): boolean {
  return spec.kind === 'matrix' || (decayEmbeddings && spec.kind === 'embedding');
}
