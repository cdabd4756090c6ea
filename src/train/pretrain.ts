/**
 * Pretraining: next-token prediction over token shards with the whole-step ORT trainer, driven by the training loop
 * (loop.ts): warmup + decay schedule, gradient accumulation, periodic validation, atomic checkpoints that resume
 * exactly (with the data loader's position), JSONL metrics and a loss plot.
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
import { resumeCheckpoint, type TrainerState } from './checkpoint.js';
import { buildLmGraph, windowsToBatch } from './lm.js';
import { createTrainer, stateHistory, trainLoop, type LoopRecord } from './loop.js';
import { scheduleFor, type OptimOptions } from './schedule.js';
import type { OptimizerState } from './step.js';
import { meanLoss } from './validate.js';

export interface PretrainOptions extends OptimOptions {
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

/** A step's metrics: step, loss, lr, grad_norm, tokens, tokens_per_s, skipped and val_loss when set. */
export type StepRecord = LoopRecord;

export interface PretrainResult {
  config: ModelConfig;
  history: TrainerState['history'];
  modelDir: string;
  params: number;
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const accumulation = o.accumulation ?? 1;
  const seed = o.seed ?? 0;
  const run = { batch: o.batch, seq: o.seq, accumulation, seed, data: o.data };
  const ck = o.resume ? await resumeCheckpoint(o.out, run) : undefined;
  if (ck && !o.quiet) console.error(`resuming from ${ck.dir} (step ${ck.state.step})`);
  const { config, initial } = ck ? { config: ck.config, initial: ck.optimizer } : await startingPoint(o, seed);

  const loader = new TokenLoader(o.data, { split: 'train', seqLen: o.seq, batchSize: o.batch, seed });
  if (loader.index.vocabSize > config.vocab_size) {
    throw new KolmError(`${o.data}: shards use a ${loader.index.vocabSize}-token vocabulary, the model has ${config.vocab_size}`);
  }
  if (ck?.state.data) loader.restore(ck.state.data as LoaderState);
  const hasValidation = loader.index.shards.some((s) => s.split === 'validation' && s.tokens > o.seq);
  const trainer = await createTrainer(() => buildLmGraph(config, o.batch, o.seq), initial, { ...o, accumulation }, 0.1);
  const validation = hasValidation ? await Session.create({ loss: buildLmGraph(config, o.batch, o.seq).loss }, { graphName: 'validation', threads: o.threads }) : undefined;
  const evaluate = async () => {
    const val = new TokenLoader(o.data, { split: 'validation', seqLen: o.seq, batchSize: o.batch, order: 'sequential' });
    try {
      return { loss: await meanLoss(validation!, trainer.parameterFeeds(), val, o.evalBatches ?? 4) };
    } finally {
      val.close();
    }
  };

  const params = parameterCount(config);
  if (!o.quiet) console.error(`model: ${(params / 1e6).toFixed(2)}M parameters (${config.model_type}); ${o.batch * o.seq * accumulation} tokens/step; ${o.steps} steps`);
  const modelDir = join(o.out, 'model');
  try {
    const { history } = await trainLoop({
      name: 'pretrain',
      out: o.out,
      trainer,
      steps: o.steps,
      schedule: scheduleFor(o, o.steps, { lr: 3e-3, warmup: Math.min(100, Math.ceil(o.steps / 10)) }),
      next: () => ({ feeds: windowsToBatch(loader.nextBatch(), o.batch, o.seq), tokens: o.batch * o.seq }),
      evaluate: validation && evaluate,
      evalEvery: o.evalEvery ?? 50,
      checkpoint: { config, tokenizer: o.tokenizer, run: ck?.state.run ?? run, every: o.saveEvery ?? Math.max(1, Math.floor(o.steps / 4)), last: true, data: () => loader.state() },
      resume: ck?.state,
      describe: (r) => `loss ${r.loss.toFixed(3)}${r['val_loss'] !== undefined ? ` val ${(r['val_loss'] as number).toFixed(3)}` : ''} lr ${r.lr.toExponential(1)} ${r.tokens_per_s} tok/s`,
      final: (snapshot) => saveModelFolder(modelDir, config, snapshot.params, { tokenizerDir: o.tokenizer }),
      onNonFinite: o.onNonFinite,
      quiet: o.quiet,
      onRecord: o.onStep,
    });
    return { config, history: stateHistory(history), modelDir, params };
  } finally {
    loader.close();
  }
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
