/**
 * What SFT, reward-model training and DPO share: their options, the starting model, epochs of planned batches, and
 * their use of the training loop (loop.ts) — evaluation before the first step and on a cadence, policy checkpoints,
 * the final folder — with the same conventions as `kolm pretrain`.
 */
import { join } from 'node:path';
import { KolmError } from '../util/errors.js';
import { loadChatModel, positiveInt, savePolicy, writeSummary, type ChatModel } from './align-common.js';
import { trainLoop, type LoopRecord, type MicroBatch } from './loop.js';
import type { PackPlan } from './packing.js';
import { scheduleFor, type OptimOptions } from './schedule.js';
import type { OptimizerState, TrainStep } from './step.js';

/** Options common to `kolm sft`, `kolm rm` and `kolm dpo`. */
export interface AlignRunOptions extends OptimOptions {
  /** Starting model folder (weights, config, tokenizer with chat template). */
  model: string;
  /** Training JSONL files. */
  data: string[];
  /** Held-out JSONL for the before/after evaluation. */
  valid?: string;
  out: string;
  /** Optimizer steps; default: `epochs` (default 1) passes over the data. */
  steps?: number;
  epochs?: number;
  /** Micro-batch size (rows for SFT, pairs for the reward model and DPO) and row length in tokens. */
  batch?: number;
  seq?: number;
  accumulation?: number;
  seed?: number;
  threads?: number;
  evalEvery?: number;
  quiet?: boolean;
  onStep?: (r: LoopRecord) => void;
  /** Chat template keyword arguments for rendering every record (`--chat-template-kwargs`), e.g. `{"force_reasoning": true}`. */
  chatTemplateKwargs?: Readonly<Record<string, unknown>>;
}

/** What an alignment run leaves: the final model folder, the per-step records and the summary written to OUT. */
export interface AlignRunResult {
  modelDir: string;
  history: LoopRecord[];
  summary: Record<string, unknown>;
}

/** The starting model and the run's shape: micro-batch size, row length (default and limit: the model's positions, at most 512 by default), accumulation and seed. */
export async function startRun(o: AlignRunOptions, defaultBatch: number): Promise<{ m: ChatModel; batch: number; seq: number; accumulation: number; seed: number }> {
  const m = await loadChatModel(o.model);
  const batch = positiveInt('batch', o.batch, defaultBatch);
  const seq = positiveInt('seq', o.seq, Math.min(512, m.config.max_position_embeddings));
  if (seq > m.config.max_position_embeddings) throw new KolmError(`--seq ${seq} exceeds the model's max_position_embeddings ${m.config.max_position_embeddings}`);
  return { m, batch, seq, accumulation: positiveInt('accumulation', o.accumulation, 1), seed: o.seed ?? 0 };
}

export interface EpochSteps {
  /** The plan of the first epoch. */
  first: PackPlan;
  /** `steps` if given, else `epochs` (default 1) passes over the first plan's batches. */
  steps: number;
  /** The next micro-batch (LoopSpec.next). */
  next: () => MicroBatch;
}

/**
 * Steps over planned batches: `plan(epoch)` is drawn again (reshuffled by its seed) whenever an epoch runs out, and
 * each planned batch (rows of sequence indices) becomes a micro-batch through `make`.
 */
export function epochSteps(plan: (epoch: number) => PackPlan, o: { steps?: number; epochs?: number; accumulation: number }, make: (batch: number[][]) => MicroBatch): EpochSteps {
  const first = plan(0);
  const steps = o.steps ?? Math.max(1, Math.ceil(((o.epochs ?? 1) * first.batches.length) / o.accumulation));
  let epoch = 0;
  let current = first;
  let cursor = 0;
  const next = () => {
    if (cursor >= current.batches.length) {
      current = plan(++epoch);
      cursor = 0;
    }
    return make(current.batches[cursor++]!);
  };
  return { first, steps, next };
}

/** The pairs of an unpacked batch of `size` rows, short batches filled with copies of the first; `real` are the planned ones. */
export function batchPairs(batch: readonly number[][], size: number): { pairs: number[]; real: number } {
  const real = batch.filter((r) => r.length).map((r) => r[0]!);
  return { pairs: [...real, ...Array<number>(size - real.length).fill(real[0] ?? 0)], real: real.length };
}

/** An objective's part of an alignment run. */
export interface AlignObjective {
  name: string;
  m: ChatModel;
  trainer: TrainStep;
  steps: number;
  next: () => MicroBatch;
  /** Learning rate when `--lr` is not given. */
  lr: number;
  /** Held-out values (logged with a `val_` prefix). */
  evaluate?: () => Promise<Record<string, number>>;
  /** The run's options stored with policy checkpoints; none: no checkpoints. */
  run?: Record<string, unknown>;
  /** Metrics drawn on the plot next to the loss (e.g. accuracy). */
  plotMetrics?: string[];
  /** Writes OUT/model; default: the policy with its tokenizer. */
  final?: (snapshot: Required<OptimizerState>) => Promise<void>;
  /** OUT/summary.json from the records. */
  summary: (history: LoopRecord[]) => Record<string, unknown> | Promise<Record<string, unknown>>;
}

/**
 * An alignment run's loop: warmup (default 10% of steps up to 50) and cosine decay, evaluation before the first step
 * and every `evalEvery` steps (default: five times a run), policy checkpoints every `saveEvery` steps, OUT/model and
 * OUT/summary.json.
 */
export async function alignLoop(o: AlignRunOptions & { saveEvery?: number; onNonFinite?: 'skip' | 'stop' }, a: AlignObjective): Promise<AlignRunResult> {
  const { m, steps } = a;
  const { history } = await trainLoop({
    name: a.name,
    out: o.out,
    trainer: a.trainer,
    steps,
    schedule: scheduleFor(o, steps, { lr: a.lr, warmup: Math.min(50, Math.ceil(steps / 10)) }),
    next: a.next,
    evaluate: a.evaluate,
    evalEvery: o.evalEvery ?? Math.max(1, Math.floor(steps / 5)),
    evalBefore: 'history',
    checkpoint: a.run && { config: { ...m.config, pad_token_id: m.padId }, tokenizer: m.dir, run: a.run, every: o.saveEvery ?? 0, fields: ['step', 'loss'] },
    plotMetrics: a.plotMetrics,
    final: a.final ?? ((snapshot) => savePolicy(join(o.out, 'model'), m, snapshot.params)),
    onNonFinite: o.onNonFinite,
    quiet: o.quiet,
    onRecord: o.onStep,
  });
  const summary = await a.summary(history);
  await writeSummary(o.out, summary);
  return { modelDir: join(o.out, 'model'), history, summary };
}
