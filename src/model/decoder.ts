/**
 * The kolm decoder, written once. Every graph that runs a model — training steps, prefill, cached decode, scoring,
 * reward and value heads, the transformers.js export — is this function with different parts plugged in.
 *
 * Architecture (Llama, the HyperCLOVA X line, Qwen2 and Qwen3 — one block whose config switches, `features` in
 * model/config.ts, add parts; plain Llama when they are all off):
 * - token embeddings, multiplied by `embedding_multiplier` (μP; 1 for Llama);
 * - `num_hidden_layers` pre-RMSNorm blocks, each
 *     attention: grouped-query (num_key_value_heads ≤ num_attention_heads), rotary position embeddings in HF's
 *                rotate-half layout (theta, linear / dynamic NTK / YaRN scaling), logits scaled by
 *                `attention_multiplier` (default 1/√head_dim); q/k/v biases (Qwen2, `attention_bias`), an o_proj
 *                bias (`attention_bias`), q and k RMS-normalised per head before rotary (Qwen3's q_norm/k_norm);
 *     MLP:       SwiGLU, down(silu(gate(x)) · up(x)), biases with `mlp_bias`;
 *   each sublayer's output optionally RMS-normalised before the residual add (`use_post_norm`, Peri-LN) and scaled
 *   by `residual_multiplier`;
 * - a final RMSNorm, then the LM head (tied to the embeddings or `lm_head`), multiplied by `logits_scaling`.
 * Parameter names are HF's (`model.layers.N.self_attn.q_proj.weight`, `….q_proj.bias`, `….q_norm.weight`, …), so
 * folders load anywhere.
 *
 * What varies is passed in, never copied:
 * - `attention` (model/attention.ts): how queries meet keys — whole sequences with a causal or additive mask
 *   (training, prefill, scoring), one token against a KV cache (decode), or past_key_values concatenation (ONNX);
 * - `linear` (model/linear.ts): how an input meets a weight and its bias — dense HF matrices, packed groups with one
 *   product, and the place for quantized, LoRA-wrapped or expert-routed layers;
 * - `ffn`: the MLP sublayer (default SwiGLU of three `linear`s; a mixture of experts plugs in here).
 */
import { rmsNorm } from '../graph/nn.js';
import type { Tensor } from '../graph/tensor.js';
import { features, multipliers, type ModelConfig } from './config.js';
import { configBiases, denseLinear, type Linear } from './linear.js';
import type { Attention } from './attention.js';
import { layerPrefix } from './params.js';

/** The MLP sublayer of layer `layer` on normalised input [B, T, hidden] → [B, T, hidden]. */
export type Ffn = (layer: number, x: Tensor, linear: Linear) => Tensor;

export interface DecoderParts {
  /** A parameter by HF name (graph inputs or constants). */
  weight: (name: string) => Tensor;
  attention: Attention;
  /** Default: dense matrices (and the config's biases) by name. */
  linear?: Linear;
  /** Default: SwiGLU. */
  ffn?: Ffn;
}

export interface DecoderOutputs {
  /** [B, T, V], or [B, 1, V] with `lastOnly`. */
  logits: Tensor;
  /** Final-norm hidden states [B, T, hidden] (scoring heads read these). */
  hidden: Tensor;
}

/** Llama's MLP: down(silu(gate(x)) · up(x)); gate and up are one group, so a packed `linear` runs one product. */
export const swigluFfn: Ffn = (layer, x, linear) => {
  const p = `${layerPrefix(layer)}.mlp`;
  const [gate, up] = linear(x, [`${p}.gate_proj.weight`, `${p}.up_proj.weight`]);
  return linear(gate!.silu().mul(up!), [`${p}.down_proj.weight`])[0]!;
};

/** Token ids [B, T] (int64) through the whole decoder. */
export function decoder(c: ModelConfig, inputIds: Tensor, parts: DecoderParts, opts: { lastOnly?: boolean } = {}): DecoderOutputs {
  const { weight, attention } = parts;
  const linear = parts.linear ?? denseLinear(weight, configBiases(c, weight));
  const qkNorm = features(c).qkNorm;
  const ffn = parts.ffn ?? swigluFfn;
  const m = multipliers(c);
  const norm = (x: Tensor, name: string) => rmsNorm(x, weight(name), c.rms_norm_eps);
  const residual = (x: Tensor, branch: Tensor, postNorm: string) => {
    const b = c.use_post_norm ? norm(branch, postNorm) : branch;
    return x.add(m.residual === 1 ? b : b.mul(m.residual));
  };

  let x = weight('model.embed_tokens.weight').gather(inputIds);
  if (m.embedding !== 1) x = x.mul(m.embedding);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = layerPrefix(l);
    const h = norm(x, `${p}.input_layernorm.weight`);
    let [q, k, v] = linear(h, [`${p}.self_attn.q_proj.weight`, `${p}.self_attn.k_proj.weight`, `${p}.self_attn.v_proj.weight`]);
    if (qkNorm) {
      q = headNorm(q!, weight(`${p}.self_attn.q_norm.weight`), c.num_attention_heads, c.rms_norm_eps);
      k = headNorm(k!, weight(`${p}.self_attn.k_norm.weight`), c.num_key_value_heads, c.rms_norm_eps);
    }
    const attended = attention.attend(l, q!, k!, v!);
    x = residual(x, linear(attended, [`${p}.self_attn.o_proj.weight`])[0]!, `${p}.post_norm1.weight`);
    x = residual(x, ffn(l, norm(x, `${p}.post_attention_layernorm.weight`), linear), `${p}.post_norm2.weight`);
  }
  const hidden = norm(x, 'model.norm.weight');
  return { hidden, logits: lmHead(c, weight, opts.lastOnly ? hidden.slice(1, -1, Infinity) : hidden, linear) };
}

/** RMSNorm over each of `heads` heads of x [B, T, heads·D] with one weight [D] (Qwen3's q_norm / k_norm). */
export function headNorm(x: Tensor, w: Tensor, heads: number, eps: number): Tensor {
  const [B, T, width] = x.shape;
  return rmsNorm(x.reshape([B!, T!, heads, (width as number) / heads]), w, eps).reshape([B!, T!, width!]);
}

/** The LM head on final hidden states: tied embeddings or `lm_head` (through `linear`, so it may be quantized), times `logits_scaling`. */
export function lmHead(c: ModelConfig, weight: (name: string) => Tensor, hidden: Tensor, linear: Linear = denseLinear(weight)): Tensor {
  const logits = linear(hidden, [c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'])[0]!;
  const scale = multipliers(c).logits;
  return scale === 1 ? logits : logits.mul(scale);
}

/** A `weight` lookup over a record of tensors that names the missing parameter. */
export function weightsOf(weights: Record<string, Tensor>, where = 'decoder'): (name: string) => Tensor {
  return (name) => {
    const t = weights[name];
    if (!t) throw new Error(`${where}: missing parameter '${name}'`);
    return t;
  };
}
