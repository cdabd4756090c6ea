/**
 * Composite ops used by the model, written in the primitive op set so they differentiate, interpret and export
 * for free: RMSNorm, rotary embeddings (HF Llama's rotate-half convention), causal grouped-query attention,
 * SwiGLU, and masked cross-entropy.
 */
import { ndarray, type NDArray } from './ndarray.js';
import { GraphError, type Tensor } from './tensor.js';
import { formatShape } from './shape.js';
import { concatDynamic, sliceDynamic } from './ops/dynamic.js';

/** x / sqrt(mean(x², last axis) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  // Written as ORT's SimplifiedLayerNormFusion expects (Pow → ReduceMean → Add → Sqrt → Div → Mul), so inference
  // graphs run it as one fused kernel; training graphs keep the primitives their gradients need.
  return x.div(x.pow(2).mean(-1, true).add(eps).sqrt()).mul(weight);
}

/** y = x Wᵀ for an HF-layout weight W of shape [out, in]. */
export function linear(x: Tensor, weight: Tensor): Tensor {
  return x.matmul(weight, { transB: true });
}

/** Llama MLP: down(silu(gate(x)) * up(x)). */
export function swiglu(x: Tensor, gate: Tensor, up: Tensor, down: Tensor): Tensor {
  return linear(linear(x, gate).silu().mul(linear(x, up)), down);
}

/**
 * cos/sin tables for rotary embeddings at the given positions, as HF Llama builds them:
 * inv_freq[i] = theta^(-2i/d), freqs = pos ⊗ inv_freq, emb = cat(freqs, freqs).
 */
export function rotaryTables(positions: readonly number[], headDim: number, theta = 10000): { cos: NDArray; sin: NDArray } {
  if (headDim % 2 !== 0) throw new GraphError(`rotaryTables: head_dim must be even, got ${headDim}`);
  const half = headDim / 2;
  const cos = ndarray('float32', [positions.length, headDim]);
  const sin = ndarray('float32', [positions.length, headDim]);
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.pow(theta, (-2 * i) / headDim);
      for (const j of [i, i + half]) {
        cos.data[t * headDim + j] = Math.cos(angle);
        sin.data[t * headDim + j] = Math.sin(angle);
      }
    }
  });
  return { cos, sin };
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
  for (let t = 0; t < queries; t++) for (let s = t + offset + 1; s < keys; s++) m.data[t * keys + s] = -1e9;
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
 * Attention of new queries over cached keys/values plus the new tokens' own, without concatenating the cache:
 * the softmax is assembled from the two score blocks (shared max, summed denominators), so a decode step reads the
 * cache in place. The cache tensors are used exactly as fed — never reshaped — because reshaping a graph input
 * makes ORT copy it; queries are grouped as [B, Hkv, G·T, D] instead, which needs a static T.
 * Cached keys come transposed, [B, Hkv, D, C], so q·Kᵀ is a plain matmul over the cache as stored (a [B, Hkv, C, D]
 * cache would make ORT transpose — copy — it every step).
 * q: [B, Hq, T, D]; past: keyT [B, Hkv, D, C] and value [B, Hkv, C, D]; new: [B, Hkv, T, D]; masks are additive,
 * maskPast [B, 1, T, C] and maskNew [B, 1, T, T].
 */
export function cachedAttention(
  q: Tensor,
  past: { keyT: Tensor; value: Tensor },
  fresh: { key: Tensor; value: Tensor },
  maskPast: Tensor,
  maskNew: Tensor,
  scale: number,
): Tensor {
  const [b, hq, t, d] = q.shape;
  const hkv = fresh.key.shape[1];
  if (typeof hq !== 'number' || typeof hkv !== 'number' || hq % hkv !== 0 || typeof d !== 'number' || typeof t !== 'number') {
    throw new GraphError(`cachedAttention: static head counts (${hq} a multiple of ${hkv}), head_dim and query length needed`);
  }
  const g = hq / hkv;
  const qg = q.mul(scale).reshape([b!, hkv, g * t, d]);
  // Scores [B, Hkv, G·T, S] viewed as [B, Hkv, G, T, S] to add the per-query mask.
  const scores = (s: Tensor, mask: Tensor) => s.reshape([b!, hkv, g, t, s.shape[3]!]).add(mask.unsqueeze(2));
  const sPast = scores(qg.matmul(past.keyT), maskPast);
  const sNew = scores(qg.matmul(fresh.key, { transB: true }), maskNew);
  const max = sPast.amax(-1, true).maximum(sNew.amax(-1, true));
  const ePast = sPast.sub(max).exp();
  const eNew = sNew.sub(max).exp();
  const denominator = ePast.sum(-1, true).add(eNew.sum(-1, true)).reshape([b!, hkv, g * t, 1]);
  const flat = (e: Tensor) => e.reshape([b!, hkv, g * t, e.shape[4]!]);
  const out = flat(ePast).matmul(past.value).add(flat(eNew).matmul(fresh.value)).div(denominator);
  return out.reshape([b!, hq, t, d]);
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
