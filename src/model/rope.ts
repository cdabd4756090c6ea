/** Rotary position tables for every scaling the config allows, following transformers' rope utilities. */
import { ndarray, type NDArray } from '../graph/ndarray.js';
import type { ModelConfig } from './config.js';

export interface RopeFrequencies {
  invFreq: Float64Array;
  /** Multiplies cos and sin (YaRN's attention temperature); 1 otherwise. */
  attentionScale: number;
}

/** Inverse frequencies for a config; `seqLen` matters only for dynamic NTK scaling. */
export function ropeFrequencies(c: ModelConfig, seqLen = c.max_position_embeddings): RopeFrequencies {
  const d = c.head_dim;
  const base = (theta: number) => Float64Array.from({ length: d / 2 }, (_, i) => Math.pow(theta, (-2 * i) / d));
  const s = c.rope_scaling;
  if (!s) return { invFreq: base(c.rope_theta), attentionScale: 1 };
  if (s.rope_type === 'linear') return { invFreq: base(c.rope_theta).map((f) => f / s.factor), attentionScale: 1 };
  if (s.rope_type === 'dynamic') {
    const original = s.original_max_position_embeddings ?? c.max_position_embeddings;
    const len = Math.max(seqLen, original);
    const theta = c.rope_theta * Math.pow((s.factor * len) / original - (s.factor - 1), d / (d - 2));
    return { invFreq: base(theta), attentionScale: 1 };
  }
  if (s.rope_type === 'llama3') return { invFreq: base(c.rope_theta).map((f) => f / llama3Factor(s, f)), attentionScale: 1 };
  // YaRN: interpolate low frequencies, keep high ones, blend linearly in between; scale attention by 0.1 ln(s) + 1.
  const original = s.original_max_position_embeddings;
  const betaFast = s.beta_fast ?? 32;
  const betaSlow = s.beta_slow ?? 1;
  const correctionDim = (rotations: number) => (d * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(c.rope_theta));
  const low = Math.max(Math.floor(correctionDim(betaFast)), 0);
  let high = Math.min(Math.ceil(correctionDim(betaSlow)), d - 1);
  if (low === high) high += 0.001;
  const extrapolation = base(c.rope_theta);
  const invFreq = extrapolation.map((f, i) => {
    const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
    const keep = 1 - ramp; // weight of the original (extrapolated) frequency
    return (f / s.factor) * (1 - keep) + f * keep;
  });
  const attentionScale = s.attention_factor ?? (s.factor > 1 ? 0.1 * Math.log(s.factor) + 1 : 1);
  return { invFreq, attentionScale };
}

/**
 * Llama 3.1's divisor of one inverse frequency (transformers' `_compute_llama3_parameters`): wavelengths shorter than
 * original / high_freq_factor are kept (1), longer than original / low_freq_factor divided by `factor`, and those in
 * between blended smoothly. llama.cpp stores these divisors as its `rope_freqs` tensor.
 */
export function llama3Factor(s: Extract<NonNullable<ModelConfig['rope_scaling']>, { rope_type: 'llama3' }>, invFreq: number): number {
  const original = s.original_max_position_embeddings;
  const wavelen = (2 * Math.PI) / invFreq;
  if (wavelen < original / s.high_freq_factor) return 1;
  if (wavelen > original / s.low_freq_factor) return s.factor;
  const smooth = (original / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return 1 / ((1 - smooth) / s.factor + smooth);
}

/** cos/sin [positions, head_dim] with HF's emb = cat(freqs, freqs) layout. */
export function ropeTables(freq: RopeFrequencies, positions: readonly number[]): { cos: NDArray; sin: NDArray } {
  const half = freq.invFreq.length;
  const d = 2 * half;
  const cos = ndarray('float32', [positions.length, d]);
  const sin = ndarray('float32', [positions.length, d]);
  positions.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const angle = p * freq.invFreq[i]!;
      const c = Math.cos(angle) * freq.attentionScale;
      const s = Math.sin(angle) * freq.attentionScale;
      cos.data[t * d + i] = cos.data[t * d + i + half] = c;
      sin.data[t * d + i] = sin.data[t * d + i + half] = s;
    }
  });
  return { cos, sin };
}

/**
 * cos/sin rows by position for feeding graphs, tabulated once up to the context length — or, for dynamic NTK
 * scaling, whose frequencies move with the sequence length, computed for the length a row has reached.
 */
export class RotaryRows {
  private table: { cos: Float32Array; sin: Float32Array } | undefined;

  constructor(private readonly c: ModelConfig) {}

  /** Write position `position`'s cos/sin rows at `at` (a sequence of `position + 1` tokens so far). */
  write(position: number, cos: Float32Array, sin: Float32Array, at: number): void {
    const d = this.c.head_dim;
    if (this.c.rope_scaling?.rope_type === 'dynamic') {
      const t = ropeTables(ropeFrequencies(this.c, position + 1), [position]);
      cos.set(t.cos.data, at);
      sin.set(t.sin.data, at);
      return;
    }
    if (!this.table) {
      const t = ropeTables(ropeFrequencies(this.c), Array.from({ length: this.c.max_position_embeddings }, (_, i) => i));
      this.table = { cos: Float32Array.from(t.cos.data), sin: Float32Array.from(t.sin.data) };
    }
    cos.set(this.table.cos.subarray(position * d, (position + 1) * d), at);
    sin.set(this.table.sin.subarray(position * d, (position + 1) * d), at);
  }
}
