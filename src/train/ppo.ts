/**
 * PPO for a chat policy (Ouyang et al. 2022; HyperCLOVA X uses KL coefficient 0.04 to the SFT policy and a value
 * network initialised from the reward model). Each iteration makes rollouts from the live policy and scores them
 * (ppo-rollouts.ts), then runs several epochs of minibatch updates of the clipped policy loss and the clipped value
 * loss, policy and value networks in one graph (value parameters under the `value.` prefix), one ORT call per update.
 */
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import { loadModelFolder, type Weights } from '../model/folder.js';
import { generateIds } from '../infer/generate.js';
import { KolmError } from '../util/errors.js';
import { loadChatModel, positiveInt, savePolicy, writeSummary } from './align-common.js';
import { declareBatch, declareNetwork, forward, SCORE_WEIGHT, scoreAll, tokenLogProbs, validMask, weightedMean } from './align-graphs.js';
import { encodePrompt, readPromptFile, type PromptExample } from './chat-data.js';
import { createTrainer, trainLoop } from './loop.js';
import { lossChartSvg } from './plot.js';
import { policyRuntime } from './policy-runtime.js';
import { asF32, avg, exactMatchReward, rolloutBuffer, splitValue, VALUE_PREFIX, type F32, type ScoreFn } from './ppo-rollouts.js';
import { RewardModel, loadRewardModel, saveRewardModel, scoreModelSpecs } from './reward.js';
import { scheduleFor, type OptimOptions } from './schedule.js';
import type { TrainModel } from './step.js';
import { Graph } from '../graph/tensor.js';

export { exactMatchReward, gae, lastNumber, VALUE_PREFIX, type Rollout, type ScoreFn } from './ppo-rollouts.js';

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
  /** Writes the final policy and value network (after the last iteration). */
  save?: (trained: { policy: Record<string, F32>; value: Record<string, F32> }) => Promise<void>;
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
  policy: Record<string, F32>;
  value: Record<string, F32>;
  history: PpoRecord[];
  evalBefore?: number;
  evalAfter?: number;
}

/**
 * PPO over token ids (tokenizer-free: the text-level `ppo` and the tests drive it), through the training loop: one
 * record per iteration of `ppoEpochs × rolloutBatch / minibatch` updates; new rollouts are made whenever the
 * previous ones' minibatches are used up.
 */
export async function ppoCore(o: PpoCoreOptions): Promise<PpoCoreResult> {
  const c = o.config;
  const R = positiveInt('rolloutBatch', o.rolloutBatch, 16);
  const B = positiveInt('minibatch', o.minibatch, Math.min(8, R));
  if (R % B !== 0) throw new KolmError(`rollout batch ${R} must be a multiple of the minibatch ${B}`);
  const epochs = positiveInt('ppoEpochs', o.ppoEpochs, 4);
  const maxNew = positiveInt('maxNewTokens', o.maxNewTokens, 64);
  if (!o.prompts.length) throw new KolmError('ppo: no prompts');
  const maxPrompt = Math.max(...o.prompts.map((p) => p.ids.length), ...(o.evalPrompts ?? []).map((p) => p.ids.length));
  const T = maxPrompt + maxNew;
  if (T > c.max_position_embeddings) throw new KolmError(`ppo: prompts of ${maxPrompt} tokens + ${maxNew} new tokens exceed max_position_embeddings ${c.max_position_embeddings}`);

  const initial: Record<string, F32> = {};
  for (const [k, v] of Object.entries(o.policy)) initial[k] = asF32(v);
  for (const s of scoreModelSpecs(c)) {
    const v = o.value[s.name];
    if (!v) throw new KolmError(`ppo: value network is missing '${s.name}'`);
    initial[VALUE_PREFIX + s.name] = asF32(v);
  }
  const trainer = await createTrainer(() => buildPpoGraph(c, B, T, o), { step: 0, params: initial }, o);
  const runtime = await policyRuntime(c, () => trainer.parameterFeeds(), { threads: o.threads });
  const rollouts = await rolloutBuffer(o, { rollouts: R, minibatch: B, epochs, seq: T, maxNew }, runtime, () => trainer.parameterFeeds());
  const evalScore = async () => {
    const prompts = o.evalPrompts!;
    const out = await generateIds(runtime, prompts.map((p) => p.ids), { maxNewTokens: maxNew, stopTokenIds: o.stopTokenIds, temperature: 0 });
    return avg(await o.score(out.map((g, i) => ({ prompt: prompts[i]!.ids, response: g.ids, finishReason: g.finishReason, meta: prompts[i]!.meta }))));
  };

  const updates = epochs * (R / B);
  const { history, before } = await trainLoop<PpoRecord>({
    name: 'ppo',
    out: o.out,
    trainer,
    steps: o.iterations * updates,
    group: updates,
    unit: 'iterations',
    schedule: scheduleFor(o, o.iterations * updates, { lr: 1e-5, warmup: 0, decay: 'constant' }),
    next: () => rollouts.next(),
    record: (r) => ({ iteration: r.step, ...rollouts.stats(), lr: r.lr, loss: r.loss, pg_loss: r['pg_loss'] as number, vf_loss: r['vf_loss'] as number, clipfrac: r['clipfrac'] as number, approx_kl: r['approx_kl'] as number }),
    describe: (r) => `score ${r.score.toFixed(3)} kl ${r.kl.toFixed(3)} len ${r.response_length.toFixed(1)}${r.eval_score !== undefined ? ` eval ${r.eval_score.toFixed(3)}` : ''}`,
    evaluate: o.evalPrompts?.length ? async () => ({ eval_score: await evalScore() }) : undefined,
    evalPrefix: '',
    evalEvery: o.evalEvery || undefined,
    evalBefore: 'log',
    index: 'iteration',
    chart: { file: 'ppo.svg', svg: ppoChart },
    final: o.save && ((snapshot) => o.save!(splitValue(snapshot.params as Record<string, F32>))),
    quiet: o.quiet,
    onRecord: o.onIteration,
  });
  const evalAfter = o.evalEvery ? history.at(-1)?.eval_score : o.evalPrompts?.length ? await evalScore() : undefined;
  return { ...splitValue(trainer.snapshot().params as Record<string, F32>), history, evalBefore: before?.['eval_score'], evalAfter };
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

/** The text-level run: folders and files instead of weights and token ids (the rest as in PpoCoreOptions). */
export interface PpoOptions extends Omit<PpoCoreOptions, 'config' | 'padId' | 'policy' | 'ref' | 'value' | 'prompts' | 'score' | 'stopTokenIds' | 'evalPrompts' | 'save'> {
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
  maxPromptTokens?: number;
  /** Chat template keyword arguments for rendering the prompts. */
  chatTemplateKwargs?: Readonly<Record<string, unknown>>;
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
    let ids = encodePrompt(m.tokenizer, ex.prompt, ex.where, { tools: ex.tools, chatTemplateKwargs: o.chatTemplateKwargs });
    if (ids.length > maxPromptTokens) {
      cut++;
      ids = ids.slice(ids.length - maxPromptTokens);
    }
    return { ids, meta: { ...ex.meta, where: ex.where } };
  });
  const prompts = encode((await Promise.all(o.prompts.map((f) => readPromptFile(f)))).flat());
  const evalPrompts = o.evalPrompts ? encode(await readPromptFile(o.evalPrompts)) : undefined;
  const stops = m.endIds;
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
  const modelDir = join(o.out, 'model');
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
    save: async ({ policy, value }) => {
      await savePolicy(modelDir, m, policy);
      await saveRewardModel(join(o.out, 'value'), m.config, value, { tokenizerDir: m.dir, padTokenId: m.padId });
    },
  });
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
