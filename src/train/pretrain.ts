/**
 * Pretraining: next-token prediction over token shards with the whole-step ORT trainer, warmup + decay schedule,
 * gradient accumulation, periodic validation, atomic checkpoints that resume exactly, JSONL metrics and a loss plot.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TokenLoader, type LoaderState } from '../data/loader.js';
import { readIndex } from '../data/shards.js';
import { Session } from '../runtime/session.js';
import type { ModelConfig, RopeScaling } from '../model/config.js';
import { loadModelFolder, saveModelFolder } from '../model/folder.js';
import { initParams, parameterCount } from '../model/params.js';
import { PRESETS } from '../model/presets.js';
import { KolmError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { MetricsLog, Progress } from '../util/progress.js';
import { checkpointDir, latestCheckpoint, loadCheckpoint, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { buildLmGraph, windowsToBatch } from './lm.js';
import { lossChartSvg } from './plot.js';
import { learningRate, type Schedule } from './schedule.js';
import { TrainStep, type OptimizerState } from './step.js';

export interface PretrainOptions {
  out: string;
  /** Shard folder written by `kolm data build`. */
  data: string;
  /** Start from a model folder, or from a preset initialised with `seed`. */
  model?: string;
  preset?: string;
  tokenizer?: string;
  steps: number;
  batch: number;
  seq: number;
  accumulation?: number;
  lr?: number;
  warmup?: number;
  decay?: Schedule['decay'];
  minLrRatio?: number;
  weightDecay?: number;
  clip?: number;
  evalEvery?: number;
  evalBatches?: number;
  saveEvery?: number;
  seed?: number;
  resume?: boolean;
  onNonFinite?: 'skip' | 'stop';
  threads?: number;
  /** Context extension: RoPE scaling applied to the starting model's config. */
  ropeScaling?: RopeScaling;
  quiet?: boolean;
  onStep?: (record: StepRecord) => void;
}

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  tokens_per_s: number;
  skipped?: boolean;
  val_loss?: number;
}

export interface PretrainResult {
  config: ModelConfig;
  history: TrainerState['history'];
  modelDir: string;
  params: number;
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const accumulation = o.accumulation ?? 1;
  const seed = o.seed ?? 0;
  const runKey = { batch: o.batch, seq: o.seq, accumulation, seed, data: o.data };
  let config: ModelConfig;
  let initial: OptimizerState;
  let state: TrainerState;
  const resumeFrom = o.resume ? await latestCheckpoint(o.out) : undefined;
  if (resumeFrom) {
    const ck = await loadCheckpoint(resumeFrom);
    for (const [k, v] of Object.entries(runKey)) {
      if (JSON.stringify(ck.state.run[k]) !== JSON.stringify(v)) throw new KolmError(`--resume: ${resumeFrom} was trained with ${k}=${JSON.stringify(ck.state.run[k])}, this run asks ${JSON.stringify(v)}`);
    }
    ({ config, optimizer: initial, state } = ck);
    if (!o.quiet) console.error(`resuming from ${resumeFrom} (step ${state.step})`);
  } else {
    ({ config, initial } = await startingPoint(o, seed));
    state = { step: 0, tokens_seen: 0, data: null, run: runKey, history: [] };
  }

  const loader = new TokenLoader(o.data, { split: 'train', seqLen: o.seq, batchSize: o.batch, seed });
  if (loader.index.vocabSize > config.vocab_size) {
    throw new KolmError(`${o.data}: shards use a ${loader.index.vocabSize}-token vocabulary, the model has ${config.vocab_size}`);
  }
  if (state.data) loader.restore(state.data as LoaderState);
  const hasValidation = loader.index.shards.some((s) => s.split === 'validation' && s.tokens > o.seq);
  const evalBatches = o.evalBatches ?? 4;

  const schedule: Schedule = { lr: o.lr ?? 3e-3, warmup: o.warmup ?? Math.min(100, Math.ceil(o.steps / 10)), total: o.steps, decay: o.decay ?? 'cosine', minRatio: o.minLrRatio };
  const trainer = await TrainStep.create(
    { build: () => buildLmGraph(config, o.batch, o.seq), accumulation, optimizer: { weightDecay: o.weightDecay ?? 0.1, maxGradNorm: o.clip ?? 1.0 }, session: { threads: o.threads } },
    initial,
  );
  const validation = hasValidation ? await Session.create({ loss: buildLmGraph(config, o.batch, o.seq).loss }, { graphName: 'validation', threads: o.threads }) : undefined;
  const validate = async (): Promise<number> => {
    const val = new TokenLoader(o.data, { split: 'validation', seqLen: o.seq, batchSize: o.batch, order: 'sequential' });
    try {
      let sum = 0;
      for (let i = 0; i < evalBatches; i++) {
        const out = await validation!.run({ ...trainer.parameterFeeds(), ...windowsToBatch(val.nextBatch(), o.batch, o.seq) });
        sum += (out['loss']!.data as Float32Array)[0]!;
      }
      return sum / evalBatches;
    } finally {
      val.close();
    }
  };

  const metrics = new MetricsLog(join(o.out, 'metrics.jsonl'));
  const tokensPerStep = o.batch * o.seq * accumulation;
  const params = parameterCount(config);
  if (!o.quiet) console.error(`model: ${(params / 1e6).toFixed(2)}M parameters (${config.model_type}); ${tokensPerStep} tokens/step; ${o.steps} steps`);
  const progress = new Progress('pretrain', o.steps - state.step, 'steps', !o.quiet);
  const saveEvery = o.saveEvery ?? Math.max(1, Math.floor(o.steps / 4));
  const save = async () => {
    state.data = loader.state();
    const dir = checkpointDir(o.out, trainer.step);
    await saveCheckpoint(dir, config, trainer.snapshot(), { ...state, step: trainer.step }, o.tokenizer);
    await writeFileAtomic(join(o.out, 'loss.svg'), plot(state.history));
  };

  let windowStart = performance.now();
  let windowTokens = 0;
  try {
    while (state.step < o.steps) {
      const batches = Array.from({ length: accumulation }, () => windowsToBatch(loader.nextBatch(), o.batch, o.seq));
      const lr = learningRate(schedule, state.step);
      const result = await trainer.run(batches, lr);
      if (result.skipped) {
        const what = `step ${state.step + 1}: non-finite ${Number.isFinite(result.loss) ? 'gradient norm' : 'loss'} (loss ${result.loss}, grad norm ${result.gradNorm})`;
        metrics.write({ step: state.step + 1, event: 'non_finite', loss: result.loss, grad_norm: result.gradNorm });
        if ((o.onNonFinite ?? 'skip') === 'stop') throw new KolmError(`${what}; stopping (weights are from step ${state.step})`);
        if (!o.quiet) console.error(`\n${what}; update skipped`);
      }
      state.step += 1;
      state.tokens_seen += tokensPerStep;
      windowTokens += tokensPerStep;
      const elapsed = (performance.now() - windowStart) / 1000;
      const record: StepRecord = { step: state.step, loss: result.loss, lr, grad_norm: result.gradNorm, tokens: state.tokens_seen, tokens_per_s: Math.round(windowTokens / elapsed) };
      if (result.skipped) record.skipped = true;
      if (validation && (state.step % (o.evalEvery ?? 50) === 0 || state.step === o.steps)) record.val_loss = await validate();
      state.history.push({ step: state.step, loss: result.loss, ...(record.val_loss !== undefined ? { val_loss: record.val_loss } : {}) });
      metrics.write({ ...record });
      o.onStep?.(record);
      progress.tick(1, `loss ${result.loss.toFixed(3)}${record.val_loss !== undefined ? ` val ${record.val_loss.toFixed(3)}` : ''} lr ${lr.toExponential(1)} ${record.tokens_per_s} tok/s`);
      if (elapsed > 30) {
        windowStart = performance.now();
        windowTokens = 0;
      }
      if (state.step % saveEvery === 0 || state.step === o.steps) await save();
    }
  } finally {
    loader.close();
  }
  progress.finish();
  const modelDir = join(o.out, 'model');
  const snapshot = trainer.snapshot();
  await saveModelFolder(modelDir, config, snapshot.params, { tokenizerDir: o.tokenizer });
  await writeFileAtomic(join(o.out, 'loss.svg'), plot(state.history));
  return { config, history: state.history, modelDir, params };
}

async function startingPoint(o: PretrainOptions, seed: number): Promise<{ config: ModelConfig; initial: OptimizerState }> {
  let config: ModelConfig;
  let params: OptimizerState['params'];
  if (o.model) {
    const loaded = await loadModelFolder(o.model);
    config = loaded.config;
    params = loaded.weights;
  } else {
    const preset = PRESETS[o.preset ?? 'nano'];
    if (!preset) throw new KolmError(`unknown preset '${o.preset}'; choose one of ${Object.keys(PRESETS).join(', ')}`);
    const vocab = existsSync(join(o.data, 'index.json')) ? readIndex(o.data).vocabSize : preset.config.vocab_size;
    config = { ...preset.config, vocab_size: vocab };
    params = initParams(config, seed);
  }
  if (o.ropeScaling) {
    config = { ...config, rope_scaling: o.ropeScaling, max_position_embeddings: Math.max(o.seq, config.max_position_embeddings) };
  } else if (o.seq > config.max_position_embeddings) {
    throw new KolmError(`--seq ${o.seq} exceeds max_position_embeddings ${config.max_position_embeddings}; extend the context with --rope-scaling`);
  }
  return { config, initial: { step: 0, params } };
}

function plot(history: TrainerState['history']): string {
  return lossChartSvg(
    [
      { name: 'train loss', color: '#1f77b4', points: history.map((h) => [h.step, h.loss]) },
      { name: 'validation loss', color: '#d62728', points: history.filter((h) => h.val_loss !== undefined).map((h) => [h.step, h.val_loss!]) },
    ],
    'kolm pretrain',
  );
}
