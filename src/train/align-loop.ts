/**
 * The optimisation loop shared by SFT, reward-model training and DPO: the whole-step ORT trainer driven by a
 * warmup + decay schedule, JSONL metrics, a progress bar, periodic evaluation and checkpoints, and a loss plot —
 * the same conventions as `kolm pretrain`.
 */
import { join } from 'node:path';
import type { FeedValue } from '../runtime/session.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { MetricsLog, Progress } from '../util/progress.js';
import { loadChatModel, positiveInt, type ChatModel, type OptimOptions } from './align-common.js';
import { lossChartSvg } from './plot.js';
import type { PackPlan } from './packing.js';
import { learningRate, type Schedule } from './schedule.js';
import { TrainStep, type OptimizerState, type TrainModel } from './step.js';

export interface LoopRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens: number;
  tokens_per_s: number;
  skipped?: boolean;
  [metric: string]: number | boolean | undefined;
}

export interface LoopSpec {
  /** Shown on the progress bar and the plot. */
  name: string;
  out: string;
  trainer: TrainStep;
  steps: number;
  schedule: Schedule;
  /** Micro-batches of the next step and the number of trained tokens in them. */
  nextStep: (step: number) => { batches: Record<string, FeedValue>[]; tokens: number };
  /** Held-out metrics (prefixed `val_` in the log). */
  evaluate?: () => Promise<Record<string, number>>;
  evalEvery?: number;
  saveEvery?: number;
  /** Writes a checkpoint folder for the current state. */
  checkpoint?: (dir: string, snapshot: Required<OptimizerState>, history: LoopRecord[]) => Promise<void>;
  onNonFinite?: 'skip' | 'stop';
  quiet?: boolean;
  onStep?: (record: LoopRecord) => void;
  /** Metric names drawn on the plot next to the loss (e.g. accuracy). */
  plotMetrics?: string[];
}

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

/** Feeds of one micro-batch and the number of trained tokens in it. */
export interface MicroBatch {
  feeds: Record<string, FeedValue>;
  tokens: number;
}

export interface EpochSteps {
  /** The plan of the first epoch. */
  first: PackPlan;
  /** `steps` if given, else `epochs` (default 1) passes over the first plan's batches. */
  steps: number;
  /** The next step's `accumulation` micro-batches (LoopSpec.nextStep). */
  nextStep: () => { batches: Record<string, FeedValue>[]; tokens: number };
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
  const nextBatch = () => {
    if (cursor >= current.batches.length) {
      current = plan(++epoch);
      cursor = 0;
    }
    return make(current.batches[cursor++]!);
  };
  const nextStep = () => {
    const parts = Array.from({ length: o.accumulation }, nextBatch);
    return { batches: parts.map((p) => p.feeds), tokens: parts.reduce((n, p) => n + p.tokens, 0) };
  };
  return { first, steps, nextStep };
}

/** The pairs of an unpacked batch of `size` rows, short batches filled with copies of the first; `real` are the planned ones. */
export function batchPairs(batch: readonly number[][], size: number): { pairs: number[]; real: number } {
  const real = batch.filter((r) => r.length).map((r) => r[0]!);
  return { pairs: [...real, ...Array<number>(size - real.length).fill(real[0] ?? 0)], real: real.length };
}

/** The whole-step trainer of an alignment run: AdamW (weight decay default 0, gradient clip default 1). */
export function alignTrainer(build: () => TrainModel, initial: OptimizerState, o: { weightDecay?: number; clip?: number; threads?: number; accumulation?: number }): Promise<TrainStep> {
  return TrainStep.create({ build, accumulation: o.accumulation, optimizer: { weightDecay: o.weightDecay ?? 0, maxGradNorm: o.clip ?? 1 }, session: { threads: o.threads } }, initial);
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export async function trainLoop(spec: LoopSpec): Promise<LoopRecord[]> {
  const metrics = new MetricsLog(join(spec.out, 'metrics.jsonl'));
  const history: LoopRecord[] = [];
  const progress = new Progress(spec.name, spec.steps, 'steps', !spec.quiet);
  const evalEvery = spec.evalEvery ?? Math.max(1, Math.floor(spec.steps / 5));
  const saveEvery = spec.saveEvery ?? 0;
  let tokens = 0;
  let windowStart = performance.now();
  let windowTokens = 0;
  const plot = () => writeFileAtomic(join(spec.out, 'loss.svg'), chart(spec.name, history, spec.plotMetrics ?? []));
  if (spec.evaluate) {
    const before = await spec.evaluate();
    const record: Record<string, number> = { step: 0 };
    for (const [k, v] of Object.entries(before)) record[`val_${k}`] = v;
    metrics.write(record);
    history.push({ step: 0, loss: NaN, lr: 0, grad_norm: NaN, tokens: 0, tokens_per_s: 0, ...Object.fromEntries(Object.entries(record).filter(([k]) => k !== 'step')) });
  }
  for (let step = 1; step <= spec.steps; step++) {
    const { batches, tokens: stepTokens } = spec.nextStep(step);
    const lr = learningRate(spec.schedule, step - 1);
    const result = await spec.trainer.run(batches, lr);
    if (result.skipped) {
      const what = `step ${step}: non-finite ${Number.isFinite(result.loss) ? 'gradient norm' : 'loss'} (loss ${result.loss}, grad norm ${result.gradNorm})`;
      metrics.write({ step, event: 'non_finite', loss: result.loss, grad_norm: result.gradNorm });
      if ((spec.onNonFinite ?? 'skip') === 'stop') throw new KolmError(`${what}; stopping (weights are from step ${step - 1})`);
      if (!spec.quiet) console.error(`\n${what}; update skipped`);
    }
    tokens += stepTokens;
    windowTokens += stepTokens;
    const elapsed = (performance.now() - windowStart) / 1000;
    const record: LoopRecord = { step, loss: result.loss, lr, grad_norm: result.gradNorm, tokens, tokens_per_s: Math.round(windowTokens / Math.max(elapsed, 1e-9)), ...result.metrics };
    if (result.skipped) record.skipped = true;
    if (spec.evaluate && (step % evalEvery === 0 || step === spec.steps)) {
      for (const [k, v] of Object.entries(await spec.evaluate())) record[`val_${k}`] = v;
    }
    history.push(record);
    metrics.write({ ...record });
    spec.onStep?.(record);
    const shown = Object.entries(result.metrics).slice(0, 2).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ');
    const val = Object.entries(record).filter(([k]) => k.startsWith('val_')).slice(0, 2).map(([k, v]) => `${k} ${(v as number).toFixed(3)}`).join(' ');
    progress.tick(1, `loss ${result.loss.toFixed(3)} ${shown}${val ? ` ${val}` : ''} lr ${lr.toExponential(1)}`);
    if (elapsed > 30) {
      windowStart = performance.now();
      windowTokens = 0;
    }
    if (spec.checkpoint && saveEvery > 0 && step % saveEvery === 0 && step < spec.steps) {
      await spec.checkpoint(join(spec.out, 'checkpoints', `step-${String(step).padStart(7, '0')}`), spec.trainer.snapshot(), history);
      await plot();
    }
  }
  progress.finish();
  await plot();
  return history;
}

function chart(name: string, history: LoopRecord[], extra: string[]): string {
  const series = [{ name: 'train loss', color: COLORS[0]!, points: history.filter((h) => Number.isFinite(h.loss)).map((h) => [h.step, h.loss] as [number, number]) }];
  const valKeys = new Set<string>();
  for (const h of history) for (const k of Object.keys(h)) if (k === 'val_loss' || extra.map((e) => `val_${e}`).includes(k) || extra.includes(k)) valKeys.add(k);
  [...valKeys].forEach((k, i) => {
    series.push({ name: k.replace(/_/g, ' '), color: COLORS[(i + 1) % COLORS.length]!, points: history.filter((h) => typeof h[k] === 'number' && Number.isFinite(h[k] as number)).map((h) => [h.step, h[k] as number]) });
  });
  return lossChartSvg(series, `kolm ${name}`);
}
