/**
 * Batched log-likelihood scoring on a kolm model, over the inference `score` session (every position's logits):
 * requests that share the scored input (context + continuation minus its last token — e.g. the one-token answers of a
 * multiple-choice question) share one row; rows are sorted longest first, right-padded and batched under a logits
 * budget (B·T·V floats); log-softmax runs in float64 on the continuation rows only.
 */
import type { LanguageModel } from '../infer/model.js';
import { ropeFrequencies, ropeTables } from '../model/rope.js';
import { ort } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';

export interface TokenRequest {
  context: readonly number[];
  continuation: readonly number[];
}

export interface TokenScore {
  logprob: number;
  isGreedy: boolean;
  /** Per continuation token log-probabilities. */
  tokenLogprobs: number[];
}

export interface ScoreOptions {
  /** Upper bound on B·T·V logits held at once (default 2^26 floats, 256 MiB). */
  maxLogits?: number;
  /** Upper bound on B·T tokens per batch (default 8192). */
  maxBatchTokens?: number;
  progress?: (done: number) => void;
}

const MASKED = -1e9;

interface Row {
  input: number[];
  members: { index: number; targets: number[] }[];
}

/** Score each continuation given its context (lm-eval's _loglikelihood_tokens, left-truncated to the context size). */
export async function scoreTokens(model: LanguageModel, requests: readonly TokenRequest[], opts: ScoreOptions = {}): Promise<TokenScore[]> {
  const c = model.config;
  const maxLength = c.max_position_embeddings;
  const V = c.vocab_size;
  const rows = new Map<string, Row>();
  requests.forEach((r, index) => {
    if (!r.context.length) throw new KolmError(`log-likelihood request ${index}: empty context (condition on a prefix token)`);
    if (!r.continuation.length) throw new KolmError(`log-likelihood request ${index}: empty continuation`);
    if (r.continuation.length > maxLength) throw new KolmError(`log-likelihood request ${index}: continuation of ${r.continuation.length} tokens exceeds the context (${maxLength})`);
    const full = [...r.context, ...r.continuation].slice(-(maxLength + 1));
    const input = full.slice(0, -1);
    for (const id of full) if (!Number.isInteger(id) || id < 0 || id >= V) throw new KolmError(`log-likelihood request ${index}: token id ${id} is outside the vocabulary (0..${V - 1})`);
    const key = input.join(',');
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { input, members: [] }));
    row.members.push({ index, targets: [...r.continuation] });
  });
  const sorted = [...rows.values()].sort((a, b) => b.input.length - a.input.length || (a.input.join(',') < b.input.join(',') ? -1 : 1));
  const maxLogits = opts.maxLogits ?? 2 ** 26;
  const maxTokens = opts.maxBatchTokens ?? 8192;
  // Dynamic NTK scaling depends on the sequence length, so rows are only batched with rows of the same length.
  const sameLengthOnly = c.rope_scaling?.rope_type === 'dynamic';
  const out: TokenScore[] = new Array(requests.length);
  const session = await model.sessions.score();
  let done = 0;
  for (let i = 0; i < sorted.length; ) {
    const T = sorted[i]!.input.length;
    let B = 1;
    while (
      i + B < sorted.length &&
      (B + 1) * T * V <= maxLogits &&
      (B + 1) * T <= maxTokens &&
      (!sameLengthOnly || sorted[i + B]!.input.length === T)
    ) B++;
    const batch = sorted.slice(i, i + B);
    i += B;
    const ids = new BigInt64Array(B * T);
    const mask = new Float32Array(B * T * T).fill(MASKED);
    batch.forEach((row, b) => {
      const L = row.input.length;
      row.input.forEach((id, t) => (ids[b * T + t] = BigInt(id)));
      for (let q = 0; q < T; q++) {
        const base = (b * T + q) * T;
        for (let k = 0; k <= q && k < L; k++) mask[base + k] = 0;
        if (q >= L) mask[base + q] = 0;
      }
    });
    const { cos, sin } = ropeTables(ropeFrequencies(c, T), [...Array(T).keys()]);
    const d = c.head_dim;
    const tile = (src: ArrayLike<number>) => {
      const one = Float32Array.from(src);
      const all = new Float32Array(B * T * d);
      for (let b = 0; b < B; b++) all.set(one, b * T * d);
      return new ort.Tensor('float32', all, [B, 1, T, d]);
    };
    const result = await session.run({
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      mask: new ort.Tensor('float32', mask, [B, 1, T, T]),
      cos: tile(cos.data),
      sin: tile(sin.data),
    });
    const logits = result['logits']!.data as Float32Array;
    batch.forEach((row, b) => {
      const L = row.input.length;
      for (const m of row.members) {
        const n = m.targets.length;
        let total = 0;
        let greedy = true;
        const per: number[] = [];
        for (let j = 0; j < n; j++) {
          const pos = L - n + j;
          const off = (b * T + pos) * V;
          let max = -Infinity;
          let arg = 0;
          for (let v = 0; v < V; v++) {
            const x = logits[off + v]!;
            if (x > max) {
              max = x;
              arg = v;
            }
          }
          let sum = 0;
          for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v]! - max);
          const lp = logits[off + m.targets[j]!]! - max - Math.log(sum);
          per.push(lp);
          total += lp;
          if (arg !== m.targets[j]) greedy = false;
        }
        out[m.index] = { logprob: total, isGreedy: greedy, tokenLogprobs: per };
      }
      done += row.members.length;
    });
    opts.progress?.(done);
  }
  return out;
}
