/**
 * Direct Preference Optimization (Rafailov et al.): the sigmoid loss
 *   −log σ(β[(log π(y_c|x) − log π_ref(y_c|x)) − (log π(y_r|x) − log π_ref(y_r|x))])
 * with summed completion log-probs as TRL computes them, optional label smoothing (conservative DPO), reference
 * log-probs precomputed once in ONNX Runtime, and the whole update in one ORT call per step.
 */
import type { Tensor } from '../graph/tensor.js';
import type { ModelConfig } from '../model/config.js';
import { loadModelFolder } from '../model/folder.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { KolmError } from '../util/errors.js';
import { forward, logSigmoid, startGraph, tokenLogProbs, validMask, weightedMean } from './align-graphs.js';
import { alignLoop, batchPairs, epochSteps, startRun, type AlignRunOptions, type AlignRunResult } from './align-loop.js';
import { encodePreference, nextTokenLabels, readPreferenceFile, type ChatRenderOptions, type PreferenceExample } from './chat-data.js';
import { LogprobScorer } from './logprobs.js';
import { createTrainer } from './loop.js';
import { buildBatch, planBatches, type TokenSequence } from './packing.js';
import type { TrainModel } from './step.js';

export interface DpoLossOptions {
  beta?: number;
  /** Probability that a preference label is flipped (cDPO); 0 = plain sigmoid loss. */
  labelSmoothing?: number;
  /**
   * Weight of the chosen answers' token-mean negative log-likelihood added to the loss (TRL's `rpo_alpha`, Pang et
   * al. 2024): keeps the chosen answers likely while the margin grows. 0 (default) = plain DPO.
   */
  rpoAlpha?: number;
}

/**
 * The DPO loss from summed log-probs: policy and reference, chosen and rejected, each [P]; `weight` [P] masks
 * padding pairs. Returns the loss and the implicit rewards β(log π − log π_ref).
 */
export function dpoLoss(policyChosen: Tensor, policyRejected: Tensor, refChosen: Tensor, refRejected: Tensor, weight: Tensor, o: DpoLossOptions = {}) {
  const beta = o.beta ?? 0.1;
  const ls = o.labelSmoothing ?? 0;
  const chosenReward = policyChosen.sub(refChosen).mul(beta);
  const rejectedReward = policyRejected.sub(refRejected).mul(beta);
  const z = chosenReward.sub(rejectedReward);
  let perPair = logSigmoid(z).mul(1 - ls);
  if (ls > 0) perPair = perPair.add(logSigmoid(z.neg()).mul(ls));
  return {
    loss: weightedMean(perPair, weight).neg(),
    chosenReward,
    rejectedReward,
    metrics: {
      accuracy: weightedMean(z.gt(0).cast('float32'), weight),
      margin: weightedMean(z, weight),
      reward_chosen: weightedMean(chosenReward, weight),
      reward_rejected: weightedMean(rejectedReward, weight),
    },
  };
}

/** Training graph over P pairs: rows 0..P-1 chosen, P..2P-1 rejected; `ref_logps` [2P] and `pair_weight` [P] fed. */
export function buildDpoGraph(c: ModelConfig, pairs: number, seq: number, o: DpoLossOptions = {}): TrainModel {
  const { graph, net, inputs } = startGraph('dpo', c, 2 * pairs, seq);
  const { logits } = forward(c, net, inputs);
  const tokenLogps = tokenLogProbs(logits, inputs.labels);
  const logps = tokenLogps.sum(1);
  const ref = graph.input('ref_logps', [2 * pairs]);
  const w = graph.input('pair_weight', [pairs]);
  const r = dpoLoss(logps.slice(0, 0, pairs), logps.slice(0, pairs, 2 * pairs), ref.slice(0, 0, pairs), ref.slice(0, pairs, 2 * pairs), w, o);
  const metrics: Record<string, Tensor> = { ...r.metrics };
  let loss = r.loss;
  if (o.rpoAlpha) {
    // Token-mean NLL of the (real) chosen answers.
    const chosenTokens = validMask(inputs.labels).sum(1).slice(0, 0, pairs);
    const nll = logps.slice(0, 0, pairs).mul(w).sum().neg().div(chosenTokens.mul(w).sum().maximum(1));
    loss = loss.add(nll.mul(o.rpoAlpha));
    metrics['chosen_nll'] = nll;
  }
  return { graph, loss, params: net.params, metrics };
}

export interface PairSequences {
  chosen: TokenSequence[];
  rejected: TokenSequence[];
  truncated: number;
}

/** Labelled chosen/rejected sequences (completion tokens only); longer than `seq` → the prompt is cut from the left. */
export function encodePairs(tok: Tokenizer, examples: readonly PreferenceExample[], seq: number, render: ChatRenderOptions = {}): PairSequences {
  const out: PairSequences = { chosen: [], rejected: [], truncated: 0 };
  for (const ex of examples) {
    const e = encodePreference(tok, ex, render);
    const seqOf = (x: { ids: number[]; targets: Uint8Array }): TokenSequence => {
      let ids = x.ids;
      let labels = nextTokenLabels(x.ids, x.targets);
      if (ids.length > seq) {
        out.truncated++;
        ids = ids.slice(ids.length - seq);
        labels = labels.slice(labels.length - seq);
      }
      return { ids, labels };
    };
    out.chosen.push(seqOf(e.chosen));
    out.rejected.push(seqOf(e.rejected));
  }
  return out;
}

/** `model` is the SFT policy to start from, also the reference unless `ref` is given; `batch` is pairs per micro-batch. */
export interface DpoOptions extends AlignRunOptions, DpoLossOptions {
  ref?: string;
  saveEvery?: number;
}

export type DpoResult = AlignRunResult;

export async function dpo(o: DpoOptions): Promise<DpoResult> {
  const { m, batch: P, seq: T, accumulation, seed } = await startRun(o, 4);
  const beta = o.beta ?? 0.1;
  if (!(beta > 0)) throw new KolmError(`beta must be positive, got ${beta}`);
  if (!(o.labelSmoothing === undefined || (o.labelSmoothing >= 0 && o.labelSmoothing < 0.5))) throw new KolmError(`label smoothing must be in [0, 0.5), got ${o.labelSmoothing}`);
  let refWeights = m.weights as Record<string, { shape: readonly number[]; data: Float32Array }>;
  if (o.ref) {
    const ref = await loadModelFolder(o.ref);
    if (JSON.stringify(ref.config) !== JSON.stringify(m.config)) throw new KolmError(`${o.ref}: the reference model's config differs from ${o.model}'s`);
    refWeights = ref.weights;
  }
  const examples = (await Promise.all(o.data.map((f) => readPreferenceFile(f)))).flat();
  const render = { chatTemplateKwargs: o.chatTemplateKwargs, endTokenIds: m.endIds };
  const train = encodePairs(m.tokenizer, examples, T, render);
  const scorer = await LogprobScorer.create(m.config, m.padId, { threads: o.threads });
  if (!o.quiet) console.error(`dpo: ${examples.length} pairs (${train.truncated} sequences cut to ${T} tokens); computing reference log-probs…`);
  const refChosen = await scorer.sequenceLogps(train.chosen, refWeights);
  const refRejected = await scorer.sequenceLogps(train.rejected, refWeights);

  const pairLengths = train.chosen.map((c, i) => Math.max(c.ids.length, train.rejected[i]!.ids.length));
  const plan = (epoch: number) => planBatches(pairLengths, { seq: T, rows: P, seed: seed + epoch, pack: false });
  const { first, steps, next } = epochSteps(plan, { steps: o.steps, epochs: o.epochs, accumulation }, (batch) => {
    const { pairs, real } = batchPairs(batch, P);
    const rows = [...pairs.map((i) => [train.chosen[i]!]), ...pairs.map((i) => [train.rejected[i]!])];
    const { rows: _r, ...feeds } = buildBatch(m.config, rows, T, m.padId);
    const weight = new Float32Array(P).fill(1).fill(0, real);
    const ref = Float32Array.from([...pairs.map((i) => refChosen[i]!), ...pairs.map((i) => refRejected[i]!)]);
    const tokens = rows.flat().reduce((n, s) => n + s.ids.length, 0);
    return { feeds: { ...feeds, ref_logps: { dtype: 'float32' as const, shape: [2 * P], data: ref }, pair_weight: { dtype: 'float32' as const, shape: [P], data: weight } }, tokens };
  });
  if (!o.quiet) console.error(`dpo: ${first.batches.length} batches of ${P} pairs per epoch; ${steps} steps; beta ${beta}${o.rpoAlpha ? `; rpo alpha ${o.rpoAlpha}` : ''}`);

  const trainer = await createTrainer(() => buildDpoGraph(m.config, P, T, o), { step: 0, params: m.weights }, { ...o, accumulation });

  let evaluate: (() => Promise<Record<string, number>>) | undefined;
  let validCount = 0;
  if (o.valid) {
    const valid = encodePairs(m.tokenizer, await readPreferenceFile(o.valid), T, render);
    validCount = valid.chosen.length;
    const vRefC = await scorer.sequenceLogps(valid.chosen, refWeights);
    const vRefR = await scorer.sequenceLogps(valid.rejected, refWeights);
    evaluate = async () => {
      const w = trainer.parameterFeeds();
      const pc = await scorer.sequenceLogps(valid.chosen, w);
      const pr = await scorer.sequenceLogps(valid.rejected, w);
      let right = 0;
      let loss = 0;
      let margin = 0;
      let logpRight = 0;
      for (let i = 0; i < pc.length; i++) {
        const z = beta * (pc[i]! - vRefC[i]! - (pr[i]! - vRefR[i]!));
        if (z > 0) right++;
        margin += z;
        loss += Math.log1p(Math.exp(-Math.abs(z))) - Math.min(z, 0);
        // Plain likelihood preference (length-normalised): does the policy itself find the chosen answer likelier?
        const nc = valid.chosen[i]!.labels.filter((l) => l !== -100).length;
        const nr = valid.rejected[i]!.labels.filter((l) => l !== -100).length;
        if (pc[i]! / Math.max(nc, 1) > pr[i]! / Math.max(nr, 1)) logpRight++;
      }
      const n = Math.max(pc.length, 1);
      return { loss: loss / n, accuracy: right / n, margin: margin / n, logp_accuracy: logpRight / n };
    };
  }

  const run = { batch: P, seq: T, accumulation, seed, beta, rpoAlpha: o.rpoAlpha ?? 0, data: o.data };
  return alignLoop(o, {
    name: 'dpo', m, trainer, steps, next, lr: 1e-5, evaluate, run, plotMetrics: ['accuracy'],
    summary: (history) => ({
      command: 'dpo', model: o.model, ref: o.ref ?? o.model, data: o.data, valid: o.valid ?? null, pairs: examples.length, valid_pairs: validCount, steps, batch_pairs: P, seq: T,
      beta, label_smoothing: o.labelSmoothing ?? 0, rpo_alpha: o.rpoAlpha ?? 0,
      val_accuracy_before: history[0]?.['val_accuracy'] ?? null, val_accuracy_after: history.at(-1)?.['val_accuracy'] ?? null,
      val_logp_accuracy_before: history[0]?.['val_logp_accuracy'] ?? null, val_logp_accuracy_after: history.at(-1)?.['val_logp_accuracy'] ?? null,
    }),
  });
}
