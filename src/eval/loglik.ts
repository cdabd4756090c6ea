/**
 * Batched log-likelihood scoring on a kolm model. A scoring graph of its own runs the decoder over a right-padded
 * batch but applies the LM head only at the positions that predict continuation tokens (gathered from the final
 * hidden states), then log-softmax and the targets' log-probabilities inside ORT: the output is [B, K] numbers instead
 * of [B, T, V] logits. For small models with large vocabularies the head is most of the work, so scoring a
 * multiple-choice question costs about one decoder pass over its prompt.
 *
 * Requests that share the scored input (context + continuation minus its last token — e.g. one-token answers
 * " A" / " B" of one question) share one row; rows are sorted longest first and batched under token and attention
 * budgets.
 */
import type { LanguageModel } from '../infer/model.js';
import type { Tensor } from '../graph/tensor.js';
import type { NDArray } from '../graph/ndarray.js';
import type { ModelConfig } from '../model/config.js';
import { lmHead, weightsOf } from '../model/decoder.js';
import { sequenceFeeds } from '../model/feeds.js';
import { loadModelFolder } from '../model/folder.js';
import { declarePrefill } from '../model/graphs.js';
import { configBiases, denseLinear, matrixProduct } from '../model/linear.js';
import { DEFAULT_ACCURACY_LEVEL, expandQuantized, quantizedOutputHead, quantPlanOf, type QuantPlan } from '../model/quantize.js';
import { Session } from '../runtime/session.js';
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
  /** Upper bound on B·T tokens per batch (default 8192). */
  maxBatchTokens?: number;
  /** Upper bound on B·H·T² attention scores per batch (default 2^26). */
  maxAttention?: number;
  /** Rows per batch at most (default 64); 1 scores one request per pass. */
  maxBatch?: number;
  progress?: (done: number) => void;
}

/** The scoring graph: decoder → hidden states at the requested positions → LM head → target log-probs and maxima. */
function scoringGraph(c: ModelConfig, quant: QuantPlan): Record<string, Tensor> {
  const accuracyLevel = DEFAULT_ACCURACY_LEVEL;
  const { graph: g, weights, out } = declarePrefill(c, { name: 'score_positions', quant, accuracyLevel });
  const weight = weightsOf(weights);
  // Positions to score, repeated across the hidden size (gatherElements indexes element-wise).
  const positions = g.input('positions', ['batch', 'tail', c.hidden_size], 'int64');
  const targets = g.input('targets', ['batch', 'tail', 1], 'int64');
  const linear = denseLinear(weight, configBiases(c, weight), matrixProduct(weight, quant, { accuracyLevel }));
  const lp = lmHead(c, weight, out.hidden.gatherElements(positions, 1), linear).logSoftmax(-1);
  return { target_logprob: lp.gatherElements(targets, 2), max_logprob: lp.amax(-1, true) };
}

const sessions = new WeakMap<LanguageModel, Promise<Session>>();

/** The model's scoring session (its weights are read again from the folder once, then held by ORT). */
export function scoringSession(model: LanguageModel, threads?: number): Promise<Session> {
  let s = sessions.get(model);
  if (!s) {
    s = loadModelFolder(model.dir, { quantized: true }).then((folder) => {
      // The same products as generation: a quantized tied model scores through its quantized output head.
      const { config, weights } = quantizedOutputHead(folder.config, folder.weights);
      return Session.create(scoringGraph(config, quantPlanOf(weights)), { initializers: expandQuantized(weights) as unknown as Record<string, NDArray>, graphName: 'score_positions', threads });
    });
    sessions.set(model, s);
  }
  return s;
}

interface Row {
  input: number[];
  /** Positions predicting continuation tokens and the tokens, per member request. */
  members: { index: number; targets: number[] }[];
}

/** Score each continuation given its context (lm-eval's _loglikelihood_tokens, left-truncated to the context size). */
export async function scoreTokens(model: LanguageModel, requests: readonly TokenRequest[], opts: ScoreOptions & { threads?: number } = {}): Promise<TokenScore[]> {
  const c = model.config;
  const maxLength = c.max_position_embeddings;
  const V = c.vocab_size;
  const rows = new Map<string, Row>();
  requests.forEach((r, index) => {
    if (!r.context.length) throw new KolmError(`log-likelihood request ${index}: empty context (condition on a prefix token)`);
    if (!r.continuation.length) throw new KolmError(`log-likelihood request ${index}: empty continuation`);
    if (r.continuation.length > maxLength) throw new KolmError(`log-likelihood request ${index}: continuation of ${r.continuation.length} tokens exceeds the context (${maxLength})`);
    const full = [...r.context, ...r.continuation].slice(-(maxLength + 1));
    for (const id of full) if (!Number.isInteger(id) || id < 0 || id >= V) throw new KolmError(`log-likelihood request ${index}: token id ${id} is outside the vocabulary (0..${V - 1})`);
    const input = full.slice(0, -1);
    const key = input.join(',');
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { input, members: [] }));
    row.members.push({ index, targets: [...r.continuation] });
  });
  const sorted = [...rows.values()].sort((a, b) => b.input.length - a.input.length);
  const maxTokens = opts.maxBatchTokens ?? 8192;
  const maxAttention = opts.maxAttention ?? 2 ** 26;
  const maxBatch = opts.maxBatch ?? 64;
  // Dynamic NTK scaling depends on the sequence length, so rows are only batched with rows of the same length.
  const sameLengthOnly = c.rope_scaling?.rope_type === 'dynamic';
  const out: TokenScore[] = new Array(requests.length);
  const session = await scoringSession(model, opts.threads);
  let done = 0;
  for (let i = 0; i < sorted.length; ) {
    const T = sorted[i]!.input.length;
    let B = 1;
    while (
      i + B < sorted.length && B < maxBatch &&
      (B + 1) * T <= maxTokens && (B + 1) * c.num_attention_heads * T * T <= maxAttention &&
      (!sameLengthOnly || sorted[i + B]!.input.length === T)
    ) B++;
    const batch = sorted.slice(i, i + B);
    i += B;
    // The scored positions of a row: each member's continuation occupies the row's last positions.
    const K = Math.max(...batch.map((r) => Math.max(...r.members.map((m) => m.targets.length)) * r.members.length));
    const positions = new BigInt64Array(B * K * c.hidden_size);
    const targets = new BigInt64Array(B * K);
    const slots: { b: number; k: number; member: Row['members'][number]; j: number }[] = [];
    batch.forEach((row, b) => {
      const L = row.input.length;
      let k = 0;
      for (const m of row.members) {
        const n = m.targets.length;
        for (let j = 0; j < n; j++, k++) {
          const pos = BigInt(L - n + j);
          positions.fill(pos, (b * K + k) * c.hidden_size, (b * K + k + 1) * c.hidden_size);
          targets[b * K + k] = BigInt(m.targets[j]!);
          slots.push({ b, k, member: m, j });
        }
      }
    });
    const result = await session.run({
      ...sequenceFeeds(c, batch.map((row) => [{ ids: row.input, at: 0 }]), T),
      positions: { dtype: 'int64', shape: [B, K, c.hidden_size], data: positions },
      targets: { dtype: 'int64', shape: [B, K, 1], data: targets },
    });
    const lp = result['target_logprob']!.data as Float32Array;
    const mx = result['max_logprob']!.data as Float32Array;
    const partial = new Map<Row['members'][number], { per: number[]; greedy: boolean }>();
    for (const s of slots) {
      let acc = partial.get(s.member);
      if (!acc) partial.set(s.member, (acc = { per: [], greedy: true }));
      const v = lp[s.b * K + s.k]!;
      acc.per[s.j] = v;
      if (v < mx[s.b * K + s.k]!) acc.greedy = false;
    }
    for (const [m, acc] of partial) out[m.index] = { logprob: acc.per.reduce((a, b) => a + b, 0), isGreedy: acc.greedy, tokenLogprobs: acc.per };
    done += batch.reduce((a, r) => a + r.members.length, 0);
    opts.progress?.(done);
  }
  return out;
}
