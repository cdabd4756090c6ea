/**
 * Composite ops used by the model, written in the primitive op set so they differentiate, interpret and export
 * for free: RMSNorm, rotary embeddings (HF Llama's rotate-half convention), causal grouped-query attention, the
 * cached single-token attention of decode steps, and masked cross-entropy.
 */
import { ndarray, type NDArray } from './ndarray.js';
import { GraphError, type Tensor } from './tensor.js';
import { formatShape } from './shape.js';
import { concatDynamic, sliceDynamic } from './ops/dynamic.js';

/** Added to the scores of hidden keys (additive masks): exp(-1e9 - max) is exactly 0 in float32. */
export const MASKED = -1e9;

/** x / sqrt(mean(x², last axis) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  // Written as ORT's SimplifiedLayerNormFusion expects (Pow → ReduceMean → Add → Sqrt → Div → Mul), so inference
  // graphs run it as one fused kernel; training graphs keep the primitives their gradients need.
  return x.div(x.pow(2).mean(-1, true).add(eps).sqrt()).mul(weight);
}

/** Rotate pairs (x[i], x[i + d/2]) of the last axis: x·cos + rotate_half(x)·sin, rotate_half(x) = cat(-x₂, x₁). */
export function rotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const d = x.shape[x.rank - 1];
  if (typeof d !== 'number' || d % 2 !== 0) throw new GraphError(`rotary: last axis must be an even static size, got ${formatShape(x.shape)}`);
  const x1 = x.slice(-1, 0, d / 2);
  const x2 = x.slice(-1, d / 2, d);
  const rotated = x.graph.concat([x2.neg(), x1], -1);
  return x.mul(cos).add(rotated.mul(sin));
}

/** Additive causal mask [T, S]: query t (at absolute position S - T + t) sees keys 0..S-T+t. */
export function causalMask(queries: number, keys: number): NDArray {
  const m = ndarray('float32', [queries, keys]);
  const offset = keys - queries;
  for (let t = 0; t < queries; t++) for (let s = t + offset + 1; s < keys; s++) m.data[t * keys + s] = MASKED;
  return m;
}

export interface AttentionOptions {
  /** Multiplies q·k; default 1/sqrt(head_dim) (HyperCLOVAX configs replace it with `attention_multiplier`). */
  scale?: number;
  causal?: boolean;
  /** Additive mask broadcastable to [B, Hq, T, S] (e.g. padding or packed-document boundaries). */
  mask?: Tensor;
}

/**
 * Scaled dot-product attention with grouped-query heads. q: [B, Hq, T, D]; k, v: [B, Hkv, S, D], Hq a multiple of
 * Hkv. Queries are grouped as [B, Hkv, G, T, D] so one K/V head serves its G query heads by broadcasting, without
 * materialising repeated keys.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const [b, hq, t, d] = q.shape;
  const [, hkv, s] = k.shape;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new GraphError(`attention: q, k, v must be [B, H, T, D]; got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  }
  if (typeof hq !== 'number' || typeof hkv !== 'number' || hq % hkv !== 0) {
    throw new GraphError(`attention: query heads (${hq}) must be a multiple of key/value heads (${hkv})`);
  }
  if (typeof d !== 'number') throw new GraphError('attention: head_dim must be static');
  const groups = hq / hkv;
  const qg = q.reshape([b!, hkv, groups, t!, d]);
  const kg = k.unsqueeze(2);
  const vg = v.unsqueeze(2);
  let scores = qg.matmul(kg, { transB: true }).mul(options.scale ?? 1 / Math.sqrt(d)); // [B, Hkv, G, T, S]
  if (options.causal) {
    if (typeof t !== 'number' || typeof s !== 'number') throw new GraphError('attention: causal mask needs static T and S; pass `mask` instead');
    scores = scores.add(q.graph.constant(causalMask(t, s)));
  }
  if (options.mask) scores = scores.add(options.mask.rank === 4 ? options.mask.unsqueeze(2) : options.mask);
  return scores.softmax(-1).matmul(vg).reshape([b!, hq, t!, d]);
}

/**
 * Mean cross-entropy of `logits` [..., V] against integer `targets` [...]; positions whose target equals
 * `ignoreIndex` contribute nothing (prompt tokens, padding). Returns a scalar.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
  if (targets.dtype !== 'int64') throw new GraphError(`crossEntropy: targets must be int64, got ${targets.dtype}`);
  const expected = logits.shape.slice(0, -1);
  if (targets.rank !== expected.length || targets.shape.some((dim, i) => dim !== expected[i])) {
    throw new GraphError(`crossEntropy: targets ${formatShape(targets.shape)} must match logits ${formatShape(logits.shape)} without the last axis`);
  }
  const g = logits.graph;
  const ignored = targets.eq(g.scalar(ignoreIndex, 'int64'));
  const safeTargets = g.where(ignored, g.scalar(0, 'int64'), targets);
  const picked = logits.logSoftmax(-1).gatherElements(safeTargets.unsqueeze(-1), -1).reshape(targets.shape);
  const valid = g.where(ignored, 0, 1);
  return picked.mul(valid).sum().neg().div(valid.sum().maximum(1));
}

/**
 * Rotation matrices for rotary embeddings at one position per row: for cos/sin [..., 1, D] returns M [..., D, D]
 * with x·M = rotary(x, cos, sin) for every x [..., n, D] (M = I·cos + R·sin, R the signed rotate-half
 * permutation, cos/sin scaling columns). Built once per decode step and shared by every layer, it turns each
 * rotary into one small matmul over all heads of a token instead of six elementwise nodes.
 */
export function rotaryMatrix(cos: Tensor, sin: Tensor): Tensor {
  const d = cos.shape[cos.rank - 1];
  if (typeof d !== 'number' || d % 2 !== 0 || cos.shape[cos.rank - 2] !== 1) {
    throw new GraphError(`rotaryMatrix: cos/sin must be [..., 1, D] with an even static D, got ${formatShape(cos.shape)}`);
  }
  const half = d / 2;
  const eye = ndarray('float32', [d, d]);
  const rotate = ndarray('float32', [d, d]);
  for (let j = 0; j < d; j++) {
    eye.data[j * d + j] = 1;
    // rotate_half(x)[j] = -x[j + d/2] for j < d/2, x[j - d/2] otherwise: row i of R feeds column j.
    if (j < half) rotate.data[(j + half) * d + j] = -1;
    else rotate.data[(j - half) * d + j] = 1;
  }
  const g = cos.graph;
  return cos.mul(g.constant(eye)).add(sin.mul(g.constant(rotate)));
}

/**
 * `cachedAttention` for one new token per sequence, with a single softmax: the new key's score is appended to the
 * cache's scores (`concatDynamic`, a few floats per head; the cache itself is read in place), both are masked by
 * one additive mask, normalised by one Softmax and split again. q: [B, Hq, 1, D] or [B, 1, Hq, D] (the same memory
 * for one token), already multiplied by the attention scale; past: keyT [B, Hkv, D, C] and value [B, Hkv, C, D];
 * fresh: key and value [B, Hkv, 1, D]; mask: additive [B, 1, 1, C + 1] over the cache slots, then the new token.
 * Returns [B, Hq, 1, D].
 */
export function cachedAttentionStep(q: Tensor, past: { keyT: Tensor; value: Tensor }, fresh: { key: Tensor; value: Tensor }, mask: Tensor): Tensor {
  const [b, , , d] = q.shape;
  const hq = q.shape[1] === 1 ? q.shape[2] : q.shape[1];
  const hkv = fresh.key.shape[1];
  if (q.rank !== 4 || (q.shape[1] !== 1 && q.shape[2] !== 1) || typeof hq !== 'number' || typeof hkv !== 'number' || hq % hkv !== 0 || typeof d !== 'number' || fresh.key.shape[2] !== 1) {
    throw new GraphError(`cachedAttentionStep: one query token with static heads (a multiple of ${hkv}) and head_dim expected, got q ${formatShape(q.shape)}, key ${formatShape(fresh.key.shape)}`);
  }
  const qg = q.reshape([b!, hkv, hq / hkv, d]);
  const sPast = qg.matmul(past.keyT); // [B, Hkv, G, C]
  const sNew = qg.matmul(fresh.key, { transB: true }); // [B, Hkv, G, 1]
  const p = concatDynamic([sPast, sNew], -1, { like: mask, axis: 3 }).add(mask).softmax(-1);
  const pPast = sliceDynamic(p, -1, 0, -1, { like: past.keyT, axis: 3 });
  const out = pPast.matmul(past.value).add(p.slice(-1, -1, Infinity).mul(fresh.value));
  return out.reshape([b!, hq, 1, d]);
}
