/** Turning next-token logits into a token: penalties, temperature, top-k, top-p, min-p, seeded sampling. */
import { rng } from '../util/random.js';

export interface SamplingOptions {
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** Divides positive logits (multiplies negative ones) of tokens already present, as in CTRL / HF. */
  repetitionPenalty?: number;
  /** Subtracted once from every token already present (OpenAI semantics). */
  presencePenalty?: number;
  /** Subtracted per occurrence (OpenAI semantics). */
  frequencyPenalty?: number;
  seed?: number;
}

export class Sampler {
  private readonly random: () => number;

  constructor(private readonly o: SamplingOptions = {}) {
    this.random = rng(o.seed ?? Math.floor(Math.random() * 2 ** 31));
  }

  get greedy(): boolean {
    return !this.o.temperature || this.o.temperature <= 0;
  }

  /** Pick the next token; `logits` is modified in place; `history` is the sequence so far (prompt included). */
  sample(logits: Float32Array, history: readonly number[]): number {
    this.applyPenalties(logits, history);
    if (this.greedy) return argmax(logits);
    const t = this.o.temperature!;
    const k = Math.min(this.o.topK && this.o.topK > 0 ? this.o.topK : logits.length, logits.length);
    // Candidates sorted by logit; top-k keeps the first k.
    const order = topIndices(logits, k);
    const max = logits[order[0]!]!;
    const probs = order.map((i) => Math.exp((logits[i]! - max) / t));
    let keep = order.length;
    if (this.o.minP && this.o.minP > 0) {
      // min-p keeps tokens at least minP × the top token's probability (unnormalised ratios suffice).
      const cut = probs.findIndex((p) => p < this.o.minP! * probs[0]!);
      if (cut > 0) keep = cut;
    }
    let total = probs.slice(0, keep).reduce((a, b) => a + b, 0);
    if (this.o.topP && this.o.topP < 1) {
      let mass = 0;
      for (let i = 0; i < keep; i++) {
        mass += probs[i]! / total;
        if (mass >= this.o.topP) {
          keep = i + 1;
          break;
        }
      }
    }
    total = probs.slice(0, keep).reduce((a, b) => a + b, 0);
    let u = this.random() * total;
    for (let i = 0; i < keep; i++) {
      u -= probs[i]!;
      if (u <= 0) return order[i]!;
    }
    return order[keep - 1]!;
  }

  private applyPenalties(logits: Float32Array, history: readonly number[]): void {
    const { repetitionPenalty: rep = 1, presencePenalty: presence = 0, frequencyPenalty: frequency = 0 } = this.o;
    if (rep === 1 && presence === 0 && frequency === 0) return;
    const counts = new Map<number, number>();
    for (const id of history) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, n] of counts) {
      if (id < 0 || id >= logits.length) continue;
      let v = logits[id]!;
      if (rep !== 1) v = v > 0 ? v / rep : v * rep;
      logits[id] = v - presence - frequency * n;
    }
  }
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  let max = x[0]!;
  for (let i = 1; i < x.length; i++) {
    const v = x[i]!;
    if (v > max) {
      max = v;
      best = i;
    }
  }
  return best;
}

/** Indices of the k largest values, largest first (ties by lower index), without sorting the whole vocabulary. */
export function topIndices(x: Float32Array, k: number): number[] {
  if (k <= 0) return [];
  if (k >= x.length) return [...x.keys()].sort((a, b) => x[b]! - x[a]! || a - b);
  // Threshold by partial selection: keep a sorted buffer of the best k.
  const best: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (best.length === k && v <= x[best[k - 1]!]!) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x[best[mid]!]! >= v) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}
