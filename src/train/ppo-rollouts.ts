/**
 * PPO's rollouts as the training loop's micro-batches. When its minibatches are used up, the buffer
 *   1. samples answers to the next prompts from the live policy (KV-cache generation on its live weights);
 *   2. scores them: old-policy and reference log-probs of every answer token, values from the value network, and a
 *      sequence score — the reward model's (normalised and clipped) or a verifiable function's;
 *   3. computes per-token rewards −β·(log π_old − log π_ref), plus the score on the last token, and GAE(γ, λ)
 *      advantages (whitened) and returns;
 *   4. queues `epochs` shuffled passes of minibatches over them.
 * Also the verifiable exact-match reward.
 */
import { rng, shuffleInPlace } from '../util/random.js';
import { generateIds, type InferenceRuntime } from '../infer/generate.js';
import type { FeedValue } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';
import { LogprobScorer } from './logprobs.js';
import type { MicroBatch } from './loop.js';
import type { PpoCoreOptions } from './ppo.js';
import { buildBatch, type TokenSequence } from './packing.js';
import { SequenceScorer } from './reward.js';

/** Name prefix of the value network's parameters in the PPO graph. */
export const VALUE_PREFIX = 'value.';

export interface Rollout {
  prompt: number[];
  response: number[];
  finishReason: string;
  meta: Record<string, unknown>;
}

/** Scores for finished rollouts (one number per rollout). */
export type ScoreFn = (rollouts: readonly Rollout[]) => Promise<number[]>;

export type F32 = { shape: readonly number[]; data: Float32Array };
export const asF32 = (v: { shape: readonly number[]; data: ArrayLike<number> }): F32 => ({ shape: v.shape, data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) });
const f32 = (shape: number[], data: Float32Array) => ({ dtype: 'float32' as const, shape, data });

/** GAE over one sequence's action positions (rewards and values per action, in order). */
export function gae(rewards: readonly number[], values: readonly number[], gamma: number, lam: number): { advantages: number[]; returns: number[] } {
  const n = rewards.length;
  const advantages = new Array<number>(n).fill(0);
  let next = 0;
  let nextValue = 0;
  for (let t = n - 1; t >= 0; t--) {
    const delta = rewards[t]! + gamma * nextValue - values[t]!;
    next = delta + gamma * lam * next;
    advantages[t] = next;
    nextValue = values[t]!;
  }
  return { advantages, returns: advantages.map((a, t) => a + values[t]!) };
}

/**
 * The micro-batch source of a PPO run (`next`) and the statistics of its current rollouts. `shape`: rollouts per
 * iteration, rows per minibatch, passes over each iteration's rollouts, row length, new tokens per answer.
 */
export async function rolloutBuffer(o: PpoCoreOptions, shape: { rollouts: number; minibatch: number; epochs: number; seq: number; maxNew: number }, runtime: InferenceRuntime, weights: () => Record<string, FeedValue>) {
  const c = o.config;
  const { rollouts: R, minibatch: B, seq: T } = shape;
  const beta = o.klCoef ?? 0.04;
  const seed = o.seed ?? 0;
  const refFeeds = Object.fromEntries(Object.entries(o.ref ?? o.policy).map(([k, v]) => [k, asF32(v)]));
  const logprobs = await LogprobScorer.create(c, o.padId, { threads: o.threads });
  const valueScorer = await SequenceScorer.create(c, o.padId, { threads: o.threads, prefix: VALUE_PREFIX });
  const random = rng(seed);
  let order: number[] = [];
  let iteration = 0;
  const queue: number[][] = [];
  let current: Awaited<ReturnType<typeof rollout>>;

  async function rollout() {
    iteration++;
    const picked: number[] = [];
    while (picked.length < R) {
      if (!order.length) order = shuffleInPlace([...Array(o.prompts.length).keys()], random);
      picked.push(order.pop()!);
    }
    const prompts = picked.map((i) => o.prompts[i]!);
    const gens = await generateIds(runtime, prompts.map((p) => p.ids), { maxNewTokens: shape.maxNew, stopTokenIds: o.stopTokenIds, temperature: o.temperature ?? 1, seed: seed * 100_003 + iteration * R });
    const rollouts: Rollout[] = gens.map((g, i) => ({ prompt: prompts[i]!.ids, response: g.ids, finishReason: g.finishReason, meta: prompts[i]!.meta }));
    const seqs: TokenSequence[] = rollouts.map((r) => {
      const ids = [...r.prompt, ...r.response];
      return { ids, labels: ids.map((_, t) => (t >= r.prompt.length - 1 && t + 1 < ids.length ? ids[t + 1]! : -100)) };
    });

    const scores = await o.score(rollouts);
    if (scores.length !== R || scores.some((s) => !Number.isFinite(s))) throw new KolmError(`ppo: the score function returned ${scores.length} values for ${R} rollouts (all must be finite)`);
    const adjusted = scores.map((s, i) => (rollouts[i]!.finishReason === 'length' && o.missingEosPenalty ? s + o.missingEosPenalty : s));
    const live = weights();
    const oldLogps = await logprobs.tokenLogps(seqs, live);
    const refLogps = await logprobs.tokenLogps(seqs, refFeeds);
    const values = await valueScorer.values(seqs.map((s) => s.ids), live);

    // Rewards, advantages, returns (per action position t: the state before response token t+1).
    const perSeq = seqs.map((_, i) => {
      const start = rollouts[i]!.prompt.length - 1;
      const n = rollouts[i]!.response.length;
      const pos = Array.from({ length: n }, (_, k) => start + k);
      const kl = pos.map((t) => oldLogps[i]![t]! - refLogps[i]![t]!);
      const rewards = kl.map((k) => -beta * k);
      if (n) rewards[n - 1]! += adjusted[i]!;
      const v = pos.map((t) => values[i]![t]!);
      return { pos, kl, v, ...gae(rewards, v, o.gamma ?? 1, o.lam ?? 0.95) };
    });
    const allAdv = perSeq.flatMap((p) => p.advantages);
    const mean = allAdv.reduce((a, b) => a + b, 0) / Math.max(allAdv.length, 1);
    const std = Math.sqrt(allAdv.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(allAdv.length - 1, 1)) || 1;
    const stats = {
      score: avg(scores),
      reward: avg(perSeq.map((p, i) => adjusted[i]! - beta * p.kl.reduce((a, b) => a + b, 0))),
      kl: avg(perSeq.map((p) => p.kl.reduce((a, b) => a + b, 0))),
      response_length: avg(rollouts.map((r) => r.response.length)),
      eos_rate: rollouts.filter((r) => r.finishReason === 'stop').length / R,
    };
    return { seqs, oldLogps, perSeq, mean, std, stats };
  }

  const minibatch = (idx: number[]): Record<string, FeedValue> => {
    const { seqs, oldLogps, perSeq, mean, std } = current;
    const { rows: _r, ...batch } = buildBatch(c, idx.map((i) => [seqs[i]!]), T, o.padId);
    const old = new Float32Array(B * T);
    const adv = new Float32Array(B * T);
    const ret = new Float32Array(B * T);
    const oldV = new Float32Array(B * T);
    idx.forEach((i, b) => {
      const p = perSeq[i]!;
      p.pos.forEach((t, k) => {
        old[b * T + t] = oldLogps[i]![t]!;
        adv[b * T + t] = (p.advantages[k]! - mean) / std;
        ret[b * T + t] = p.returns[k]!;
        oldV[b * T + t] = p.v[k]!;
      });
    });
    return { ...batch, old_logps: f32([B, T], old), advantages: f32([B, T], adv), returns: f32([B, T], ret), old_values: f32([B, T], oldV) } as Record<string, FeedValue>;
  };

  const next = async (): Promise<MicroBatch> => {
    if (!queue.length) {
      current = await rollout();
      for (let e = 0; e < shape.epochs; e++) {
        const perm = shuffleInPlace([...Array(R).keys()], random);
        for (let mb = 0; mb < R; mb += B) queue.push(perm.slice(mb, mb + B));
      }
    }
    return { feeds: minibatch(queue.shift()!), tokens: 0 };
  };
  return { next, stats: () => current.stats };
}

/** The PPO trainer's parameters split into the policy's and the value network's (without their prefix). */
export function splitValue(params: Record<string, F32>): { policy: Record<string, F32>; value: Record<string, F32> } {
  const policy: Record<string, F32> = {};
  const value: Record<string, F32> = {};
  for (const [k, v] of Object.entries(params)) {
    if (k.startsWith(VALUE_PREFIX)) value[k.slice(VALUE_PREFIX.length)] = v;
    else policy[k] = v;
  }
  return { policy, value };
}

export function avg(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/** The last number in a text (digits with optional sign, thousands separators and decimals), or undefined. */
export function lastNumber(text: string): number | undefined {
  const matches = text.match(/-?\d[\d,]*(?:\.\d+)?/g);
  if (!matches) return undefined;
  const v = Number(matches[matches.length - 1]!.replace(/,/g, ''));
  return Number.isFinite(v) ? v : undefined;
}

/** Verifiable reward: 1 when the answer's last number equals the record's `answer`, else 0. */
export function exactMatchReward(text: string, meta: Record<string, unknown>): number {
  const expected = typeof meta['answer'] === 'number' ? meta['answer'] : typeof meta['answer'] === 'string' ? lastNumber(meta['answer']) : undefined;
  if (expected === undefined) throw new KolmError(`exact-match reward: prompt ${String(meta['where'] ?? '')} has no numeric 'answer' field`);
  const got = lastNumber(text);
  return got !== undefined && Math.abs(got - expected) < 1e-9 ? 1 : 0;
}
