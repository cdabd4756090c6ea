/**
 * Reward model: the SFT model's decoder with a scalar head (`score.weight` [1, hidden]) read at the last token of a
 * conversation, trained with the Bradley–Terry loss −log σ(r_chosen − r_rejected) on preference pairs. The folder is
 * HF's `LlamaForSequenceClassification` layout (`num_labels: 1`, `model.*` + `score.weight`, pad token id set), so
 * transformers loads it; `config.json` also carries `reward_normalization` {mean, std, clip}: the rewards' statistics
 * over the training pairs, used to normalise and clip rewards for PPO.
 */
import { copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randn } from '../graph/ndarray.js';
import { rng } from '../util/random.js';
import { Graph, type Tensor } from '../graph/tensor.js';
import type { Dim } from '../graph/shape.js';
import { readSafetensors, writeSafetensors, type StTensor } from '../formats/safetensors.js';
import { loadConfig, TOKENIZER_FILES } from '../model/folder.js';
import { paramSpecs } from '../model/params.js';
import { ARCHITECTURES, type ModelConfig } from '../model/config.js';
import { Session, type FeedValue } from '../runtime/session.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic, writeFolderAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { chunks, type ChatModel } from './align-common.js';
import { declareBatch, declareNetwork, feedsFor, forward, logSigmoid, scoreAll, SCORE_WEIGHT, weightedMean } from './align-graphs.js';
import { alignLoop, batchPairs, epochSteps, startRun, type AlignRunOptions, type AlignRunResult } from './align-loop.js';
import { encodePreference, readPreferenceFile, rewardSequence, type ChatRenderOptions, type PreferenceExample } from './chat-data.js';
import { createTrainer } from './loop.js';
import { buildBatch, planBatches } from './packing.js';
import type { OptimizerState, TrainModel } from './step.js';

export interface RewardNormalization {
  mean: number;
  std: number;
  /** Normalised rewards are clipped to [−clip, clip]. */
  clip: number;
}

/** (r − mean) / std, clipped to ±clip. */
export function normalizeReward(r: number, n: RewardNormalization): number {
  const z = (r - n.mean) / (n.std > 1e-8 ? n.std : 1);
  return Math.max(-n.clip, Math.min(n.clip, z));
}

/** Rewards at the `last` one-hot position of each row ([B, 1, T] → [B]) and values at every position ([B, T]). */
export function scalarHead(hidden: Tensor, scoreWeight: Tensor, last: Tensor) {
  const [b] = hidden.shape;
  const rewards = last.matmul(hidden).matmul(scoreWeight, { transB: true }).reshape([b!]);
  return { rewards, values: scoreAll(hidden, scoreWeight) };
}

function declareLast(graph: Graph, batch: Dim, seq: Dim): Tensor {
  return graph.input('last', [batch, 1, seq]);
}

/** One-hot [B, 1, T] at each row's last token (all zeros for an empty row). */
export function lastOneHot(lengths: readonly number[], seq: number): { dtype: 'float32'; shape: number[]; data: Float32Array } {
  const data = new Float32Array(lengths.length * seq);
  lengths.forEach((n, b) => {
    if (n > 0) data[b * seq + n - 1] = 1;
  });
  return { dtype: 'float32', shape: [lengths.length, 1, seq], data };
}

/** Bradley–Terry training graph over P pairs: rows 0..P-1 chosen, P..2P-1 rejected. */
export function buildRewardGraph(c: ModelConfig, pairs: number, seq: number, opts: { centerCoefficient?: number } = {}): TrainModel & { rewards: Tensor } {
  const graph = new Graph('reward_model');
  const net = declareNetwork(graph, c, '', 'score');
  const inputs = declareBatch(graph, c, 2 * pairs, seq);
  const { hidden } = forward(c, net, inputs);
  const { rewards } = scalarHead(hidden, net.weights[SCORE_WEIGHT]!, declareLast(graph, 2 * pairs, seq));
  const w = graph.input('pair_weight', [pairs]);
  const chosen = rewards.slice(0, 0, pairs);
  const rejected = rewards.slice(0, pairs, 2 * pairs);
  const z = chosen.sub(rejected);
  let loss = weightedMean(logSigmoid(z), w).neg();
  if (opts.centerCoefficient) loss = loss.add(weightedMean(chosen.add(rejected).square(), w).mul(opts.centerCoefficient));
  return {
    graph, loss, params: net.params, rewards,
    metrics: { accuracy: weightedMean(z.gt(0).cast('float32'), w), margin: weightedMean(z, w) },
  };
}

/** Inference graph with symbolic batch and length: rewards at `last`, values everywhere. */
export function buildScoreGraph(c: ModelConfig, prefix = '') {
  const graph = new Graph('score');
  const net = declareNetwork(graph, c, prefix, 'score');
  const inputs = declareBatch(graph, c, 'batch', 'seq');
  const { hidden } = forward(c, net, inputs);
  return scalarHead(hidden, net.weights[SCORE_WEIGHT]!, declareLast(graph, 'batch', 'seq'));
}

export interface RewardModelFolder {
  dir: string;
  config: ModelConfig;
  /** Backbone `model.*` tensors and `score.weight`. */
  weights: Record<string, StTensor>;
  normalization?: RewardNormalization;
}

/** Names a scalar-head model folder holds: the decoder without its LM head, plus score.weight. */
export function scoreModelSpecs(c: ModelConfig): { name: string; shape: number[] }[] {
  return [...paramSpecs(c).filter((s) => s.name !== 'lm_head.weight'), { name: SCORE_WEIGHT, shape: [1, c.hidden_size] }];
}

/** Write an HF `LlamaForSequenceClassification` folder atomically (temp folder renamed into place). */
export async function saveRewardModel(
  dir: string,
  config: ModelConfig,
  weights: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>,
  opts: { tokenizerDir?: string; normalization?: RewardNormalization; padTokenId?: number; extraFiles?: Record<string, string> } = {},
): Promise<void> {
  const specs = scoreModelSpecs(config);
  const tensors: Record<string, StTensor> = {};
  for (const s of specs) {
    const w = weights[s.name];
    if (!w) throw new KolmError(`saveRewardModel: missing tensor '${s.name}'`);
    if (w.shape.join('x') !== s.shape.join('x')) throw new KolmError(`saveRewardModel: tensor '${s.name}' has shape [${w.shape}], expected [${s.shape}]`);
    tensors[s.name] = { shape: [...s.shape], data: w.data instanceof Float32Array ? w.data : Float32Array.from(w.data) };
  }
  const cfg: Record<string, unknown> = {
    ...config,
    // The family's sequence-classification class (LlamaForSequenceClassification, Qwen2For…, …).
    architectures: [ARCHITECTURES[config.model_type].replace(/ForCausalLM$/, 'ForSequenceClassification')],
    num_labels: 1,
    id2label: { '0': 'LABEL_0' },
    label2id: { LABEL_0: 0 },
    pad_token_id: opts.padTokenId ?? config.pad_token_id ?? 0,
  };
  if (opts.normalization) cfg['reward_normalization'] = opts.normalization;
  await writeFolderAtomic(dir, async (tmp) => {
    await writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
    await writeSafetensors(join(tmp, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
    if (opts.tokenizerDir) for (const f of TOKENIZER_FILES) if (existsSync(join(opts.tokenizerDir, f))) await copyFile(join(opts.tokenizerDir, f), join(tmp, f));
    for (const [name, content] of Object.entries(opts.extraFiles ?? {})) await writeFileAtomic(join(tmp, name), content);
  });
}

/** Load a scalar-head folder, checking every tensor (name and shape) and the normalisation fields. */
export async function loadRewardModel(dir: string): Promise<RewardModelFolder> {
  const config = await loadConfig(dir);
  const raw = config as unknown as Record<string, unknown>;
  const cfgPath = join(dir, 'config.json');
  if (raw['num_labels'] !== undefined && raw['num_labels'] !== 1) throw new KolmError(`${cfgPath}: field 'num_labels' must be 1 for a reward model (got ${JSON.stringify(raw['num_labels'])})`);
  const file = join(dir, 'model.safetensors');
  if (!existsSync(file)) throw new KolmError(`${file}: not found`);
  const { tensors } = await readSafetensors(file);
  const weights: Record<string, StTensor> = {};
  for (const s of scoreModelSpecs(config)) {
    const t = tensors[s.name];
    if (!t) throw new KolmError(`${file}: missing tensor '${s.name}'${s.name === SCORE_WEIGHT ? ' — is this a reward model folder (kolm rm)?' : ''}`);
    if (t.shape.join('x') !== s.shape.join('x')) throw new KolmError(`${file}: tensor '${s.name}' has shape [${t.shape}], config.json implies [${s.shape}]`);
    weights[s.name] = t;
  }
  let normalization: RewardNormalization | undefined;
  const n = raw['reward_normalization'];
  if (n !== undefined) {
    const o = n as Record<string, unknown>;
    for (const k of ['mean', 'std', 'clip']) {
      if (typeof o[k] !== 'number' || !Number.isFinite(o[k] as number)) throw new KolmError(`${cfgPath}: field 'reward_normalization.${k}' must be a finite number (got ${JSON.stringify(o[k])})`);
    }
    if ((o['std'] as number) <= 0 || (o['clip'] as number) <= 0) throw new KolmError(`${cfgPath}: field 'reward_normalization' needs std > 0 and clip > 0`);
    normalization = { mean: o['mean'] as number, std: o['std'] as number, clip: o['clip'] as number };
  }
  return { dir, config, weights, normalization };
}

/** Scores token sequences with a scalar-head network (weights as feeds, so a trainer's live tensors can be used). */
export class SequenceScorer {
  private constructor(private readonly session: Session, private readonly config: ModelConfig, private readonly padId: number, private readonly prefix: string) {}

  static async create(config: ModelConfig, padId: number, opts: { threads?: number; prefix?: string } = {}): Promise<SequenceScorer> {
    const g = buildScoreGraph(config, opts.prefix ?? '');
    const session = await Session.create({ rewards: g.rewards, values: g.values }, { graphName: 'score', threads: opts.threads });
    return new SequenceScorer(session, config, padId, opts.prefix ?? '');
  }

  /** Reward (head at the last token) of each sequence; batches of `batch` sequences padded to their longest. */
  async rewards(seqs: readonly (readonly number[])[], weights: Record<string, FeedValue>, batch = 8): Promise<Float64Array> {
    const out = new Float64Array(seqs.length);
    let k = 0;
    for (const group of chunks(seqs, batch)) {
      const T = Math.max(...group.map((s) => s.length));
      const feeds = this.feeds(group, T);
      const r = await this.session.run(feedsFor(this.session.inputNames, { ...feeds, ...weights }), ['rewards']);
      for (const v of r['rewards']!.data as Float32Array) out[k++] = v;
    }
    return out;
  }

  /** Values at every position of each sequence ([seq.length] each). */
  async values(seqs: readonly (readonly number[])[], weights: Record<string, FeedValue>, batch = 8): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const group of chunks(seqs, batch)) {
      const T = Math.max(...group.map((s) => s.length));
      const r = await this.session.run(feedsFor(this.session.inputNames, { ...this.feeds(group, T), ...weights }), ['values']);
      const data = r['values']!.data as Float32Array;
      group.forEach((s, b) => out.push(data.slice(b * T, b * T + s.length)));
    }
    return out;
  }

  private feeds(group: readonly (readonly number[])[], T: number): Record<string, FeedValue> {
    const { rows: _r, labels: _l, ...feeds } = buildBatch(this.config, group.map((ids) => [{ ids, labels: ids.map(() => -100) }]), T, this.padId);
    return { ...feeds, last: lastOneHot(group.map((s) => s.length), T) };
  }

  get weightPrefix(): string {
    return this.prefix;
  }
}

export interface EncodedPairs {
  chosen: number[][];
  rejected: number[][];
  truncated: number;
}

/** Reward sequences of preference pairs, cut from the left to at most `seq` tokens (the end is what is scored). */
export function encodeRewardPairs(tok: Tokenizer, examples: readonly PreferenceExample[], seq: number, render: ChatRenderOptions = {}): EncodedPairs {
  const out: EncodedPairs = { chosen: [], rejected: [], truncated: 0 };
  for (const ex of examples) {
    const e = encodePreference(tok, ex, render);
    const cut = (ids: number[]) => {
      if (ids.length <= seq) return ids;
      out.truncated++;
      return ids.slice(ids.length - seq);
    };
    out.chosen.push(cut(rewardSequence(e.chosen)));
    out.rejected.push(cut(rewardSequence(e.rejected)));
  }
  return out;
}

/** `model` is the SFT model folder the reward model starts from; `batch` is pairs per micro-batch (2 × rows). */
export interface RewardTrainOptions extends AlignRunOptions {
  /** Adds coefficient × mean((r_c + r_r)²) to keep rewards centred (TRL's center_rewards_coefficient). */
  centerCoefficient?: number;
  /** Clip of the normalised reward stored with the model (default 5). */
  rewardClip?: number;
}

export type RewardTrainResult = AlignRunResult;

/** Score-head weights for a fresh reward model from a causal LM: its decoder plus score.weight ~ N(0, initializer_range²). */
export function rewardInit(m: ChatModel, seed: number): Record<string, { shape: readonly number[]; data: Float32Array }> {
  const weights: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const s of scoreModelSpecs(m.config)) if (s.name !== SCORE_WEIGHT) weights[s.name] = m.weights[s.name]!;
  weights[SCORE_WEIGHT] = { shape: [1, m.config.hidden_size], data: Float32Array.from(randn([1, m.config.hidden_size], rng(seed), m.config.initializer_range).data) };
  return weights;
}

export async function trainRewardModel(o: RewardTrainOptions): Promise<RewardTrainResult> {
  const { m, batch: P, seq: T, accumulation, seed } = await startRun(o, 4);
  const examples = (await Promise.all(o.data.map((f) => readPreferenceFile(f)))).flat();
  const render = { chatTemplateKwargs: o.chatTemplateKwargs, endTokenIds: m.endIds };
  const train = encodeRewardPairs(m.tokenizer, examples, T, render);
  const pairLengths = train.chosen.map((c, i) => Math.max(c.length, train.rejected[i]!.length));
  const plan = (epoch: number) => planBatches(pairLengths, { seq: T, rows: P, seed: seed + epoch, pack: false });
  const { first, steps, next } = epochSteps(plan, { steps: o.steps, epochs: o.epochs, accumulation }, (batch) => {
    const { pairs, real } = batchPairs(batch, P);
    const rows = [...pairs.map((i) => train.chosen[i]!), ...pairs.map((i) => train.rejected[i]!)];
    const { rows: _r, labels: _l, ...feeds } = buildBatch(m.config, rows.map((ids) => [{ ids, labels: ids.map(() => -100) }]), T, m.padId);
    const weight = new Float32Array(P).fill(1).fill(0, real);
    return {
      feeds: { ...feeds, last: lastOneHot(rows.map((r) => r.length), T), pair_weight: { dtype: 'float32' as const, shape: [P], data: weight } },
      tokens: pairs.slice(0, real).reduce((n, i) => n + train.chosen[i]!.length + train.rejected[i]!.length, 0),
    };
  });
  if (!o.quiet) console.error(`rm: ${examples.length} pairs (${train.truncated} sequences cut to ${T} tokens); ${first.batches.length} batches of ${P} pairs per epoch; ${steps} steps`);

  const initial: OptimizerState = { step: 0, params: rewardInit(m, seed) };
  const trainer = await createTrainer(() => buildRewardGraph(m.config, P, T, { centerCoefficient: o.centerCoefficient }), initial, { ...o, accumulation });
  const scorer = await SequenceScorer.create(m.config, m.padId, { threads: o.threads });
  const accuracyOf = async (set: EncodedPairs): Promise<{ accuracy: number; margin: number }> => {
    const weights = trainer.parameterFeeds();
    const rc = await scorer.rewards(set.chosen, weights);
    const rr = await scorer.rewards(set.rejected, weights);
    let right = 0;
    let margin = 0;
    rc.forEach((c, i) => {
      if (c > rr[i]!) right++;
      margin += c - rr[i]!;
    });
    return { accuracy: right / rc.length, margin: margin / rc.length };
  };
  let valid: EncodedPairs | undefined;
  if (o.valid) valid = encodeRewardPairs(m.tokenizer, await readPreferenceFile(o.valid), T, render);

  const saved: { normalization?: RewardNormalization } = {};
  return alignLoop(o, {
    name: 'rm', m, trainer, steps, next, lr: 1e-4, evaluate: valid ? () => accuracyOf(valid!) : undefined, plotMetrics: ['accuracy'],
    final: async (snapshot) => {
      // Normalisation statistics over the training pairs' rewards (both sides).
      const rewards = await scorer.rewards([...train.chosen, ...train.rejected], trainer.parameterFeeds());
      const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
      const std = Math.sqrt(rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, rewards.length - 1)) || 1;
      saved.normalization = { mean, std, clip: o.rewardClip ?? 5 };
      await saveRewardModel(join(o.out, 'model'), m.config, snapshot.params, { tokenizerDir: m.dir, normalization: saved.normalization, padTokenId: m.padId });
    },
    summary: async (history) => ({
      command: 'rm', model: o.model, data: o.data, valid: o.valid ?? null, pairs: examples.length, valid_pairs: valid?.chosen.length ?? 0, steps, batch_pairs: P, seq: T,
      train_accuracy: (await accuracyOf(train)).accuracy, val_accuracy_before: history[0]?.['val_accuracy'] ?? null, val_accuracy_after: history.at(-1)?.['val_accuracy'] ?? null,
      val_margin_after: history.at(-1)?.['val_margin'] ?? null, reward_normalization: saved.normalization,
    }),
  });
}

/** A loaded reward model ready to score conversations: raw and normalised rewards. */
export class RewardModel {
  private constructor(readonly folder: RewardModelFolder, readonly tokenizer: Tokenizer, private readonly scorer: SequenceScorer, readonly padId: number) {}

  static async load(dir: string, opts: { threads?: number } = {}): Promise<RewardModel> {
    const folder = await loadRewardModel(dir);
    const tokenizer = await Tokenizer.load(dir);
    const padId = (folder.config.pad_token_id as number | undefined) ?? tokenizer.tokenId(tokenizer.config.padToken) ?? 0;
    return new RewardModel(folder, tokenizer, await SequenceScorer.create(folder.config, padId, opts), padId);
  }

  /** Raw rewards of token sequences (each ending where the scored answer ends). */
  score(seqs: readonly (readonly number[])[], batch = 8): Promise<Float64Array> {
    return this.scorer.rewards(seqs, this.folder.weights, batch);
  }

  normalize(r: number): number {
    return this.folder.normalization ? normalizeReward(r, this.folder.normalization) : r;
  }
}
