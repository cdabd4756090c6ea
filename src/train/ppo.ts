/**
 * PPO for a chat policy (Ouyang et al. 2022; HyperCLOVA X uses KL coefficient 0.04 to the SFT policy and a value
 * network initialised from the reward model). Each iteration:
 *   1. rollouts: the current policy samples answers to a batch of prompts (KV-cache generation on its live weights);
 *   2. scoring: old-policy and reference log-probs of every answer token, values from the value network, and a
 *      sequence score — the reward model's (normalised and clipped) or a verifiable function's;
 *   3. per-token rewards −β·(log π_old − log π_ref), plus the score on the last token; GAE(γ, λ) advantages
 *      (whitened) and returns;
 *   4. several epochs of minibatch updates of the clipped policy loss and the clipped value loss, policy and value
 *      networks in one graph (value parameters under the `value.` prefix), one ORT call per update.
 */
import { join } from 'node:path';
import { rng } from '../util/random.js';
import type { ModelConfig } from '../model/config.js';
import { loadModelFolder, type Weights } from '../model/folder.js';
import { generateIds } from '../infer/generate.js';
import { toOrt, type FeedValue, type ort } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';
import { MetricsLog, Progress } from '../util/progress.js';
import { writeFileAtomic } from '../util/atomic.js';
import { endTokenIds, loadChatModel, positiveInt, savePolicy, writeSummary, type OptimOptions } from './align-common.js';
import { declareBatch, declareNetwork, forward, SCORE_WEIGHT, scoreAll, tokenLogProbs, validMask, weightedMean } from './align-graphs.js';
import { encodePrompt, readPromptFile, type PromptExample } from './chat-data.js';
import { LogprobScorer } from './logprobs.js';
import { buildBatch, type TokenSequence } from './packing.js';
import { lossChartSvg } from './plot.js';
import { policyRuntime } from './policy-runtime.js';
import { RewardModel, SequenceScorer, loadRewardModel, saveRewardModel, scoreModelSpecs } from './reward.js';
import { learningRate } from './schedule.js';
import { TrainStep, type TrainModel } from './step.js';
import { Graph } from '../graph/tensor.js';

export const VALUE_PREFIX = 'value.';

export interface PpoHyper {
  /** Per-token KL penalty coefficient β (default 0.04). */
  klCoef?: number;
  gamma?: number;
  lam?: number;
  /** Policy ratio clip ε (default 0.2). */
  clipRange?: number;
  /** Value clip around the rollout's values (default 0.2). */
  clipRangeValue?: number;
  /** Weight of the value loss (default 0.1). */
  vfCoef?: number;
}

/** The PPO update graph over B rollout rows of T tokens: policy (HF names) and value network (`value.` names). */
export function buildPpoGraph(c: ModelConfig, batch: number, seq: number, h: PpoHyper = {}): TrainModel {
  const eps = h.clipRange ?? 0.2;
  const epsV = h.clipRangeValue ?? 0.2;
  const graph = new Graph('ppo');
  const policy = declareNetwork(graph, c, '', 'lm');
  const value = declareNetwork(graph, c, VALUE_PREFIX, 'score');
  const inputs = declareBatch(graph, c, batch, seq);
  const logp = tokenLogProbs(forward(c, policy, inputs).logits, inputs.labels);
  const values = scoreAll(forward(c, value, inputs).hidden, value.weights[SCORE_WEIGHT]!);
  const oldLogp = graph.input('old_logps', [batch, seq]);
  const adv = graph.input('advantages', [batch, seq]);
  const returns = graph.input('returns', [batch, seq]);
  const oldValues = graph.input('old_values', [batch, seq]);
  const m = validMask(inputs.labels);
  const logRatio = logp.sub(oldLogp);
  const ratio = logRatio.exp();
  const pg1 = adv.neg().mul(ratio);
  const pg2 = adv.neg().mul(ratio.maximum(1 - eps).minimum(1 + eps));
  const pgLoss = weightedMean(pg1.maximum(pg2), m);
  const vClipped = oldValues.add(values.sub(oldValues).maximum(-epsV).minimum(epsV));
  const vfLoss = weightedMean(values.sub(returns).square().maximum(vClipped.sub(returns).square()), m).mul(0.5);
  return {
    graph,
    loss: pgLoss.add(vfLoss.mul(h.vfCoef ?? 0.1)),
    params: [...policy.params, ...value.params],
    metrics: {
      pg_loss: pgLoss,
      vf_loss: vfLoss,
      clipfrac: weightedMean(pg2.gt(pg1).cast('float32'), m),
      approx_kl: weightedMean(logRatio.square(), m).mul(0.5),
    },
  };
}

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

export interface Rollout {
  prompt: number[];
  response: number[];
  finishReason: string;
  meta: Record<string, unknown>;
}

/** Scores for finished rollouts (one number per rollout). */
export type ScoreFn = (rollouts: readonly Rollout[]) => Promise<number[]>;

export interface PpoCoreOptions extends PpoHyper, OptimOptions {
  config: ModelConfig;
  padId: number;
  /** Starting policy, reference (default: the starting policy) and value network (backbone + score.weight). */
  policy: Weights;
  ref?: Weights;
  value: Weights;
  prompts: readonly { ids: number[]; meta: Record<string, unknown> }[];
  score: ScoreFn;
  stopTokenIds: readonly number[];
  iterations: number;
  /** Rollouts per iteration (default 16) and rows per update (default 8). */
  rolloutBatch?: number;
  minibatch?: number;
  ppoEpochs?: number;
  maxNewTokens?: number;
  /** Sampling temperature of rollouts (default 1: samples from the policy itself). */
  temperature?: number;
  /** Added to the score of rollouts that hit maxNewTokens without an end token. */
  missingEosPenalty?: number;
  seed?: number;
  threads?: number;
  out?: string;
  quiet?: boolean;
  /** Held-out prompts scored with greedy decoding every `evalEvery` iterations (and before/after). */
  evalPrompts?: readonly { ids: number[]; meta: Record<string, unknown> }[];
  evalEvery?: number;
  onIteration?: (r: PpoRecord) => void;
}

export interface PpoRecord {
  iteration: number;
  score: number;
  reward: number;
  kl: number;
  response_length: number;
  eos_rate: number;
  lr: number;
  loss: number;
  pg_loss: number;
  vf_loss: number;
  clipfrac: number;
  approx_kl: number;
  eval_score?: number;
  [k: string]: number | undefined;
}

export interface PpoCoreResult {
  policy: Record<string, { shape: readonly number[]; data: Float32Array }>;
  value: Record<string, { shape: readonly number[]; data: Float32Array }>;
  history: PpoRecord[];
  evalBefore?: number;
  evalAfter?: number;
}

const f32 = (shape: number[], data: Float32Array) => ({ dtype: 'float32' as const, shape, data });

/** The PPO loop over token ids (tokenizer-free: the text-level `ppo` and the tests drive it). */
export async function ppoCore(o: PpoCoreOptions): Promise<PpoCoreResult> {
  const c = o.config;
  const R = positiveInt('rolloutBatch', o.rolloutBatch, 16);
  const B = positiveInt('minibatch', o.minibatch, Math.min(8, R));
  if (R % B !== 0) throw new KolmError(`rollout batch ${R} must be a multiple of the minibatch ${B}`);
  const epochs = positiveInt('ppoEpochs', o.ppoEpochs, 4);
  const maxNew = positiveInt('maxNewTokens', o.maxNewTokens, 64);
  const beta = o.klCoef ?? 0.04;
  const gamma = o.gamma ?? 1;
  const lam = o.lam ?? 0.95;
  const seed = o.seed ?? 0;
  if (!o.prompts.length) throw new KolmError('ppo: no prompts');
  const maxPrompt = Math.max(...o.prompts.map((p) => p.ids.length), ...(o.evalPrompts ?? []).map((p) => p.ids.length));
  const T = maxPrompt + maxNew;
  if (T > c.max_position_embeddings) throw new KolmError(`ppo: prompts of ${maxPrompt} tokens + ${maxNew} new tokens exceed max_position_embeddings ${c.max_position_embeddings}`);

  const asF32 = (v: { shape: readonly number[]; data: ArrayLike<number> }) => ({ shape: v.shape, data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) });
  const initial: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(o.policy)) initial[k] = asF32(v);
  for (const s of scoreModelSpecs(c)) {
    const v = o.value[s.name];
    if (!v) throw new KolmError(`ppo: value network is missing '${s.name}'`);
    initial[VALUE_PREFIX + s.name] = asF32(v);
  }
  const updatesPerIteration = epochs * (R / B);
  const totalUpdates = o.iterations * updatesPerIteration;
  const schedule = { lr: o.lr ?? 1e-5, warmup: o.warmup ?? 0, total: totalUpdates, decay: o.decay ?? 'constant', minRatio: o.minLrRatio ?? 0.1 } as const;
  const trainer = await TrainStep.create(
    { build: () => buildPpoGraph(c, B, T, o), optimizer: { weightDecay: o.weightDecay ?? 0, maxGradNorm: o.clip ?? 1 }, session: { threads: o.threads } },
    { step: 0, params: initial },
  );
  const refSource = o.ref ?? o.policy;
  const refFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(refSource)) refFeeds[k] = toOrt({ shape: v.shape, data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data) }, 'float32', k);
  const logprobs = await LogprobScorer.create(c, o.padId, { threads: o.threads });
  const valueScorer = await SequenceScorer.create(c, o.padId, { threads: o.threads, prefix: VALUE_PREFIX });
  const runtime = await policyRuntime(c, () => trainer.parameterFeeds(), { threads: o.threads });
  const metrics = o.out ? new MetricsLog(join(o.out, 'metrics.jsonl')) : undefined;
  const progress = new Progress('ppo', o.iterations, 'iterations', !o.quiet);
  const history: PpoRecord[] = [];

  const evaluate = async (): Promise<number | undefined> => {
    if (!o.evalPrompts?.length) return undefined;
    const out = await generateIds(runtime, o.evalPrompts.map((p) => p.ids), { maxNewTokens: maxNew, stopTokenIds: o.stopTokenIds, temperature: 0 });
    const scores = await o.score(out.map((g, i) => ({ prompt: o.evalPrompts![i]!.ids, response: g.ids, finishReason: g.finishReason, meta: o.evalPrompts![i]!.meta })));
    return scores.reduce((a, b) => a + b, 0) / scores.length;
  };
  const evalBefore = await evaluate();
  if (evalBefore !== undefined) metrics?.write({ iteration: 0, eval_score: evalBefore });

  const random = rng(seed);
  let order: number[] = [];
  let update = 0;
  for (let it = 1; it <= o.iterations; it++) {
    // 1. Rollouts.
    const picked: number[] = [];
    while (picked.length < R) {
      if (!order.length) order = shuffled(o.prompts.length, random);
      picked.push(order.pop()!);
    }
    const prompts = picked.map((i) => o.prompts[i]!);
    const gens = await generateIds(runtime, prompts.map((p) => p.ids), { maxNewTokens: maxNew, stopTokenIds: o.stopTokenIds, temperature: o.temperature ?? 1, seed: seed * 100_003 + it * R });
    const rollouts: Rollout[] = gens.map((g, i) => ({ prompt: prompts[i]!.ids, response: g.ids, finishReason: g.finishReason, meta: prompts[i]!.meta }));
    const seqs: TokenSequence[] = rollouts.map((r) => {
      const ids = [...r.prompt, ...r.response];
      return { ids, labels: ids.map((_, t) => (t >= r.prompt.length - 1 && t + 1 < ids.length ? ids[t + 1]! : -100)) };
    });

    // 2. Scoring.
    const scores = await o.score(rollouts);
    if (scores.length !== R || scores.some((s) => !Number.isFinite(s))) throw new KolmError(`ppo: the score function returned ${scores.length} values for ${R} rollouts (all must be finite)`);
    const adjusted = scores.map((s, i) => (rollouts[i]!.finishReason === 'length' && o.missingEosPenalty ? s + o.missingEosPenalty : s));
    const feeds = trainer.parameterFeeds();
    const oldLogps = await logprobs.tokenLogps(seqs, feeds);
    const refLogps = await logprobs.tokenLogps(seqs, refFeeds);
    const values = await valueScorer.values(seqs.map((s) => s.ids), feeds);

    // 3. Rewards, advantages, returns (per action position t: the state before response token t+1).
    const perSeq = seqs.map((s, i) => {
      const start = rollouts[i]!.prompt.length - 1;
      const n = rollouts[i]!.response.length;
      const pos = Array.from({ length: n }, (_, k) => start + k);
      const kl = pos.map((t) => oldLogps[i]![t]! - refLogps[i]![t]!);
      const rewards = kl.map((k) => -beta * k);
      if (n) rewards[n - 1]! += adjusted[i]!;
      const v = pos.map((t) => values[i]![t]!);
      return { pos, kl, v, ...gae(rewards, v, gamma, lam) };
    });
    const allAdv = perSeq.flatMap((p) => p.advantages);
    const mean = allAdv.reduce((a, b) => a + b, 0) / Math.max(allAdv.length, 1);
    const std = Math.sqrt(allAdv.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(allAdv.length - 1, 1)) || 1;

    // 4. Updates.
    const sums = { loss: 0, pg_loss: 0, vf_loss: 0, clipfrac: 0, approx_kl: 0 };
    let lr = 0;
    for (let e = 0; e < epochs; e++) {
      const perm = shuffled(R, random);
      for (let mb = 0; mb < R; mb += B) {
        const idx = perm.slice(mb, mb + B);
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
        lr = learningRate(schedule, update++);
        const res = await trainer.run([{ ...batch, old_logps: f32([B, T], old), advantages: f32([B, T], adv), returns: f32([B, T], ret), old_values: f32([B, T], oldV) } as Record<string, FeedValue>], lr);
        sums.loss += res.loss;
        for (const k of ['pg_loss', 'vf_loss', 'clipfrac', 'approx_kl'] as const) sums[k] += res.metrics[k] ?? 0;
      }
    }
    const nUpdates = epochs * (R / B);
    const record: PpoRecord = {
      iteration: it,
      score: avg(scores),
      reward: avg(perSeq.map((p, i) => adjusted[i]! - beta * p.kl.reduce((a, b) => a + b, 0))),
      kl: avg(perSeq.map((p) => p.kl.reduce((a, b) => a + b, 0))),
      response_length: avg(rollouts.map((r) => r.response.length)),
      eos_rate: rollouts.filter((r) => r.finishReason === 'stop').length / R,
      lr,
      loss: sums.loss / nUpdates,
      pg_loss: sums.pg_loss / nUpdates,
      vf_loss: sums.vf_loss / nUpdates,
      clipfrac: sums.clipfrac / nUpdates,
      approx_kl: sums.approx_kl / nUpdates,
    };
    if (o.evalEvery && (it % o.evalEvery === 0 || it === o.iterations)) record.eval_score = await evaluate();
    history.push(record);
    metrics?.write({ ...record });
    o.onIteration?.(record);
    progress.tick(1, `score ${record.score.toFixed(3)} kl ${record.kl.toFixed(3)} len ${record.response_length.toFixed(1)}${record.eval_score !== undefined ? ` eval ${record.eval_score.toFixed(3)}` : ''}`);
  }
  progress.finish();
  const evalAfter = o.evalEvery ? history.at(-1)?.eval_score : await evaluate();
  const snap = trainer.snapshot().params;
  const policy: PpoCoreResult['policy'] = {};
  const value: PpoCoreResult['value'] = {};
  for (const [k, v] of Object.entries(snap) as [string, { shape: readonly number[]; data: Float32Array }][]) {
    if (k.startsWith(VALUE_PREFIX)) value[k.slice(VALUE_PREFIX.length)] = v;
    else policy[k] = v;
  }
  if (o.out) await writeFileAtomic(join(o.out, 'ppo.svg'), ppoChart(history));
  return { policy, value, history, evalBefore, evalAfter };
}

function avg(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function shuffled(n: number, random: () => number): number[] {
  const a = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function ppoChart(history: readonly PpoRecord[]): string {
  return lossChartSvg(
    [
      { name: 'score', color: '#1f77b4', points: history.map((h) => [h.iteration, h.score]) },
      { name: 'KL to reference', color: '#d62728', points: history.map((h) => [h.iteration, h.kl]) },
      { name: 'held-out score', color: '#2ca02c', points: history.filter((h) => h.eval_score !== undefined).map((h) => [h.iteration, h.eval_score!]) },
    ],
    'kolm ppo',
  );
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

export interface PpoOptions extends PpoHyper, OptimOptions {
  /** The SFT policy (also the reference unless `ref` is given). */
  model: string;
  ref?: string;
  /** Reward model folder (kolm rm); or a verifiable reward. */
  rewardModel?: string;
  reward?: 'exact-match';
  /** Value network initialisation (a score-head folder); default: the reward model. */
  valueModel?: string;
  prompts: string[];
  evalPrompts?: string;
  out: string;
  iterations: number;
  rolloutBatch?: number;
  minibatch?: number;
  ppoEpochs?: number;
  maxNewTokens?: number;
  maxPromptTokens?: number;
  temperature?: number;
  missingEosPenalty?: number;
  seed?: number;
  threads?: number;
  evalEvery?: number;
  quiet?: boolean;
  onIteration?: (r: PpoRecord) => void;
}

export async function ppo(o: PpoOptions): Promise<{ modelDir: string; history: PpoRecord[]; summary: Record<string, unknown> }> {
  const m = await loadChatModel(o.model);
  if (!o.rewardModel && !o.reward) throw new KolmError('ppo needs a reward: --reward-model DIR or --reward exact-match');
  let rm: RewardModel | undefined;
  if (o.rewardModel) {
    rm = await RewardModel.load(o.rewardModel, { threads: o.threads });
    if (rm.tokenizer.hash !== m.tokenizer.hash) throw new KolmError(`${o.rewardModel}: the reward model's tokenizer differs from the policy's (${o.model})`);
  }
  const valueDir = o.valueModel ?? o.rewardModel;
  let value: Weights;
  if (valueDir) {
    const v = await loadRewardModel(valueDir);
    if (v.config.hidden_size !== m.config.hidden_size || v.config.num_hidden_layers !== m.config.num_hidden_layers || v.config.vocab_size !== m.config.vocab_size) {
      throw new KolmError(`${valueDir}: the value model must have the policy's shape (this implementation keeps both in one graph)`);
    }
    value = v.weights;
  } else {
    // No reward model: the value network starts as the policy's decoder with a zero head.
    value = { ...m.weights };
    delete (value as Record<string, unknown>)['lm_head.weight'];
    value[SCORE_WEIGHT] = { shape: [1, m.config.hidden_size], data: new Float32Array(m.config.hidden_size) };
  }
  let ref: Weights | undefined;
  if (o.ref) ref = (await loadModelFolder(o.ref)).weights;
  const maxPromptTokens = o.maxPromptTokens ?? 192;
  let cut = 0;
  const encode = (examples: PromptExample[]) => examples.map((ex) => {
    let ids = encodePrompt(m.tokenizer, ex.prompt, ex.where);
    if (ids.length > maxPromptTokens) {
      cut++;
      ids = ids.slice(ids.length - maxPromptTokens);
    }
    return { ids, meta: { ...ex.meta, where: ex.where } };
  });
  const prompts = encode((await Promise.all(o.prompts.map((f) => readPromptFile(f)))).flat());
  const evalPrompts = o.evalPrompts ? encode(await readPromptFile(o.evalPrompts)) : undefined;
  const stops = endTokenIds(m.tokenizer, m.config);
  const imEnd = m.tokenizer.tokenId('<|im_end|>');
  const score: ScoreFn = async (rollouts) => {
    if (o.reward === 'exact-match') {
      return rollouts.map((r) => exactMatchReward(m.tokenizer.decode(r.response, { skipSpecial: true }), r.meta));
    }
    // The reward model scores the conversation up to the answer's first end-of-turn token (added when missing).
    const seqs = rollouts.map((r) => {
      const end = r.response.findIndex((id) => stops.includes(id));
      const answer = end >= 0 ? r.response.slice(0, end + 1) : [...r.response, imEnd ?? stops[0]!];
      return [...r.prompt, ...answer];
    });
    const raw = await rm!.score(seqs);
    return Array.from(raw, (x) => rm!.normalize(x));
  };
  if (!o.quiet) console.error(`ppo: ${prompts.length} prompts (${cut} cut to ${maxPromptTokens} tokens); reward ${o.rewardModel ?? o.reward}; value from ${valueDir ?? 'the policy (zero head)'}; KL coefficient ${o.klCoef ?? 0.04}`);
  const result = await ppoCore({
    ...o,
    config: m.config,
    padId: m.padId,
    policy: m.weights,
    ref,
    value,
    prompts,
    evalPrompts,
    score,
    stopTokenIds: stops,
    out: o.out,
  });
  const modelDir = join(o.out, 'model');
  await savePolicy(modelDir, m, result.policy);
  await saveRewardModel(join(o.out, 'value'), m.config, result.value, { tokenizerDir: m.dir, padTokenId: m.padId });
  const h = result.history;
  const summary = {
    command: 'ppo', model: o.model, reward: o.rewardModel ?? o.reward, prompts: prompts.length, iterations: o.iterations, kl_coef: o.klCoef ?? 0.04,
    rollout_batch: o.rolloutBatch ?? 16, max_new_tokens: o.maxNewTokens ?? 64,
    score_first: h[0]?.score ?? null, score_last: h.at(-1)?.score ?? null,
    score_first5: avg(h.slice(0, 5).map((r) => r.score)), score_last5: avg(h.slice(-5).map((r) => r.score)),
    kl_last: h.at(-1)?.kl ?? null, eval_score_before: result.evalBefore ?? null, eval_score_after: result.evalAfter ?? null,
  };
  await writeSummary(o.out, summary);
  return { modelDir, history: h, summary };
}
