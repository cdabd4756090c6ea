/**
 * How the decoder's queries meet keys: one strategy per way a model runs, each a small object plugged into the one
 * decoder (model/decoder.ts). Every strategy takes a layer's projections — q [B, T, Hq·D], k and v [B, T, Hkv·D] —
 * applies rotary embeddings, attends under its mask and returns [B, T, Hq·D]; the keys and values it produced are
 * kept in `present`, per layer, for the caller to return as cache outputs.
 */
import { attention, cachedAttentionStep, rotary, rotaryMatrix } from '../graph/nn.js';
import { concatDynamic } from '../graph/ops/dynamic.js';
import type { Tensor } from '../graph/tensor.js';
import { multipliers, type ModelConfig } from './config.js';

export interface Attention {
  attend(layer: number, q: Tensor, k: Tensor, v: Tensor): Tensor;
  /** Per layer, what a KV cache appends: keys and values [B, Hkv, T, D] (or past + T for `pastKeyValueAttention`). */
  readonly present: { key: Tensor; value: Tensor }[];
}

interface RotaryInputs {
  /** Rotary tables broadcastable to [B, H, T, D]: [T, D] or per sequence [B, 1, T, D]. */
  cos: Tensor;
  sin: Tensor;
  /** Multiplies q·k (default: the config's attention multiplier, 1/√head_dim for Llama). */
  scale?: number;
}

/** [B, T, n·D] → rotated or plain heads [B, n, T, D], and back. */
function headLayout(c: ModelConfig, cos: Tensor, sin: Tensor) {
  const d = c.head_dim;
  const split = (x: Tensor, n: number) => x.reshape([x.shape[0]!, x.shape[1]!, n, d]).transpose([0, 2, 1, 3]);
  return {
    queries: (q: Tensor) => rotary(split(q, c.num_attention_heads), cos, sin),
    keys: (k: Tensor) => rotary(split(k, c.num_key_value_heads), cos, sin),
    values: (v: Tensor) => split(v, c.num_key_value_heads),
    merge: (o: Tensor, like: Tensor) => o.transpose([0, 2, 1, 3]).reshape([like.shape[0]!, like.shape[1]!, c.num_attention_heads * d]),
  };
}

/**
 * Whole sequences: training steps, prefill and scoring. Causal over T unless an additive `mask` broadcastable to
 * [B, 1, T, T] is given (left padding, packed documents).
 */
export function sequenceAttention(c: ModelConfig, inputs: RotaryInputs & { mask?: Tensor }): Attention {
  return overKeys(c, inputs, (_layer, key, value) => ({ key, value }));
}

/**
 * The cache as optimum's decoder exports pass it (transformers.js): each layer's new keys/values are appended to
 * `past` [B, Hkv, P, D] and attention runs over the whole under an additive mask [B, 1, T, P + T]; prompts and
 * decode steps alike.
 */
export function pastKeyValueAttention(
  c: ModelConfig,
  inputs: RotaryInputs & {
    mask: Tensor;
    past: readonly { key: Tensor; value: Tensor }[];
    /** A tensor whose axis has the run-time length P + T. */
    totalLength: { like: Tensor; axis: number };
  },
): Attention {
  return overKeys(c, inputs, (layer, key, value) => ({
    key: concatDynamic([inputs.past[layer]!.key, key], 2, inputs.totalLength),
    value: concatDynamic([inputs.past[layer]!.value, value], 2, inputs.totalLength),
  }));
}

/** Attention of the rotated queries over the keys/values `keysFor` makes of this call's (which become `present`). */
function overKeys(
  c: ModelConfig,
  inputs: RotaryInputs & { mask?: Tensor },
  keysFor: (layer: number, key: Tensor, value: Tensor) => { key: Tensor; value: Tensor },
): Attention {
  const layout = headLayout(c, inputs.cos, inputs.sin);
  const scale = inputs.scale ?? multipliers(c).attention;
  const present: Attention['present'] = [];
  return {
    present,
    attend(layer, q, k, v) {
      const { key, value } = keysFor(layer, layout.keys(k), layout.values(v));
      present.push({ key, value });
      return layout.merge(attention(layout.queries(q), key, value, { scale, causal: !inputs.mask, mask: inputs.mask }), q);
    },
  };
}

/**
 * One new token per sequence against a KV cache, for few kernels per step: rotary embeddings are one small matmul
 * by a rotation matrix built once per step and shared by every layer, and the new key's score joins the cache's
 * under one softmax (`cachedAttentionStep`), reading the cache in place. cos/sin [B, 1, 1, D]; past per layer keyT
 * [B, Hkv, D, C] and value [B, Hkv, C, D]; mask [B, 1, 1, C + 1] over the cache slots, then the new token.
 * `scale` 1 when the queries arrive already scaled (weights packed by `packWeights`).
 */
export function cachedStepAttention(
  c: ModelConfig,
  inputs: RotaryInputs & { mask: Tensor; past: readonly { keyT: Tensor; value: Tensor }[] },
): Attention {
  const [hq, hkv, d] = [c.num_attention_heads, c.num_key_value_heads, c.head_dim];
  const scale = inputs.scale ?? multipliers(c).attention;
  const present: Attention['present'] = [];
  let rotation: Tensor | undefined;
  return {
    present,
    attend(layer, q, k, v) {
      rotation ??= rotaryMatrix(inputs.cos, inputs.sin); // [B, 1, D, D]
      const B = q.shape[0]!;
      // One token: [B, 1, heads, D] is the memory of [B, heads, 1, D].
      const query = q.reshape([B, 1, hq, d]).matmul(rotation);
      const key = k.reshape([B, 1, hkv, d]).matmul(rotation).reshape([B, hkv, 1, d]);
      const value = v.reshape([B, hkv, 1, d]);
      present.push({ key, value });
      const scaled = scale === 1 ? query : query.mul(scale);
      return cachedAttentionStep(scaled, inputs.past[layer]!, { key, value }, inputs.mask).reshape([B, 1, hq * d]);
    },
  };
}
