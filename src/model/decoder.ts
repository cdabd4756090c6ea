/**
 * The decoder forward pass as one graph, nanoGPT-style: embeddings → N × (attention, SwiGLU) blocks → norm → logits.
 * Pre-RMSNorm Llama by default; HyperCLOVAX adds Peri-LN (`use_post_norm`) and the μP multipliers.
 */
import { attention, cachedAttention, linear, rmsNorm, rotary, swiglu } from '../graph/nn.js';
import type { Tensor } from '../graph/tensor.js';
import { multipliers, type ModelConfig } from './config.js';

export interface DecoderInputs {
  /** [B, T] int64 token ids. */
  inputIds: Tensor;
  /** Parameters by HF name. */
  weights: Record<string, Tensor>;
  /** Rotary tables for the T query positions, [T, head_dim] (or [B, 1, T, head_dim] for per-sequence positions). */
  cos: Tensor;
  sin: Tensor;
  /** Additive attention mask broadcastable to [B, H, T, S]; default: causal over T. */
  mask?: Tensor;
  /**
   * KV cache (decode): per layer keys (transposed, [B, Hkv, D, C]) and values ([B, Hkv, C, D]) of earlier positions,
   * with additive masks over them
   * (maskPast [B, 1, T, C]) and over the new tokens (maskNew [B, 1, T, T]); `mask` is then ignored.
   */
  cache?: { past: { keyT: Tensor; value: Tensor }[]; maskPast: Tensor; maskNew: Tensor };
  /** Compute logits for the last position only ([B, 1, V]), as generation needs. */
  lastOnly?: boolean;
}

export interface DecoderOutputs {
  logits: Tensor;
  hidden: Tensor;
  /** Per layer keys/values of this call's T tokens, [B, Hkv, T, D], to append to a cache. */
  present: { key: Tensor; value: Tensor }[];
}

export function decoderForward(c: ModelConfig, inputs: DecoderInputs): DecoderOutputs {
  const { inputIds, weights: w, cos, sin } = inputs;
  const [batch, T] = inputIds.shape;
  const d = c.head_dim;
  const m = multipliers(c);
  const eps = c.rms_norm_eps;
  const param = (name: string) => {
    const t = w[name];
    if (!t) throw new Error(`decoder: missing parameter '${name}'`);
    return t;
  };
  const heads = (x: Tensor, n: number) => x.reshape([batch!, T!, n, d]).transpose([0, 2, 1, 3]);
  const residualAdd = (x: Tensor, branch: Tensor) => x.add(m.residual === 1 ? branch : branch.mul(m.residual));

  let x = param('model.embed_tokens.weight').gather(inputIds);
  if (m.embedding !== 1) x = x.mul(m.embedding);
  const present: DecoderOutputs['present'] = [];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, param(`${p}.input_layernorm.weight`), eps);
    const q = rotary(heads(linear(h, param(`${p}.self_attn.q_proj.weight`)), c.num_attention_heads), cos, sin);
    const k = rotary(heads(linear(h, param(`${p}.self_attn.k_proj.weight`)), c.num_key_value_heads), cos, sin);
    const v = heads(linear(h, param(`${p}.self_attn.v_proj.weight`)), c.num_key_value_heads);
    present.push({ key: k, value: v });
    const cache = inputs.cache;
    const attn = cache
      ? cachedAttention(q, cache.past[l]!, { key: k, value: v }, cache.maskPast, cache.maskNew, m.attention)
      : attention(q, k, v, { scale: m.attention, causal: !inputs.mask, mask: inputs.mask });
    const attended = attn
      .transpose([0, 2, 1, 3])
      .reshape([batch!, T!, c.num_attention_heads * d]);
    let a = linear(attended, param(`${p}.self_attn.o_proj.weight`));
    if (c.use_post_norm) a = rmsNorm(a, param(`${p}.post_norm1.weight`), eps);
    x = residualAdd(x, a);
    const hm = rmsNorm(x, param(`${p}.post_attention_layernorm.weight`), eps);
    let f = swiglu(hm, param(`${p}.mlp.gate_proj.weight`), param(`${p}.mlp.up_proj.weight`), param(`${p}.mlp.down_proj.weight`));
    if (c.use_post_norm) f = rmsNorm(f, param(`${p}.post_norm2.weight`), eps);
    x = residualAdd(x, f);
  }
  let hidden = rmsNorm(x, param('model.norm.weight'), eps);
  if (inputs.lastOnly) hidden = hidden.slice(1, -1, Infinity);
  let logits = linear(hidden, param(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'));
  if (m.logits !== 1) logits = logits.mul(m.logits);
  return { logits, hidden, present };
}
