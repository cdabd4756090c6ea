/**
 * The training loop of every objective (pretraining, SFT, reward model, DPO, PPO). It owns the stepping — micro-batches
 * gathered for gradient accumulation, the learning-rate schedule, non-finite steps skipped or stopped on — the
 * metrics JSONL and the progress bar, held-out evaluation on a cadence, checkpoints and resume, the plot and the
 * final save. An objective supplies its whole-step trainer, its micro-batches and hooks for its records; PPO groups
 * its optimizer steps into iterations and makes new rollouts whenever its minibatches run out.
 */
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import type { FeedValue } from '../runtime/session.js';
import { writeFileAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';
import { MetricsLog, Progress } from '../util/progress.js';
import { checkpointDir, saveCheckpoint, type TrainerState } from './checkpoint.js';
import { lossChartSvg } from './plot.js';
import { learningRate, type OptimOptions, type Schedule } from './schedule.js';
import { TrainStep, type OptimizerState, type TrainModel } from './step.js';

/** A line of metrics.jsonl: a step's (or a group's mean) loss, lr, gradient norm, tokens so far, the model's metrics, held-out values. */
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

/** Feeds of one micro-batch and the number of trained tokens in it. */
export interface MicroBatch {
  feeds: Record<string, FeedValue>;
  tokens: number;
}

/** Checkpoints in `OUT/checkpoints/step-NNNNNNN/` (model folder, optimizer moments, trainer state; see checkpoint.ts). */
export interface CheckpointSpec {
  config: ModelConfig;
  tokenizer?: string;
  /** The options the run was started with, stored to refuse a mismatched resume. */
  run: Record<string, unknown>;
  /** Save every this many steps (0: never). */
  every: number;
  /** Save after the last step too. */
  last?: boolean;
  /** The data position stored with each checkpoint (default null). */
  data?: () => unknown;
  /** Record fields kept in the stored history (default step, loss and val_loss). */
  fields?: readonly string[];
}

export interface LoopSpec<R extends object = LoopRecord> {
  /** Progress label and plot title. */
  name: string;
  /** Where metrics.jsonl, the plot and checkpoints go; without it nothing is written. */
  out?: string;
  trainer: TrainStep;
  /** Optimizer steps of the whole run. */
  steps: number;
  schedule: Schedule;
  /** The next micro-batch: called `trainer.accumulation` times per step. */
  next: () => MicroBatch | Promise<MicroBatch>;
  /** Optimizer steps per record (PPO: updates per iteration), whose loss and metrics are averaged; default 1. */
  group?: number;
  /** Progress unit (default 'steps'). */
  unit?: string;
  /** The record an objective logs, from the loop's (default: the loop's). */
  record?: (r: LoopRecord) => R;
  /** Progress-bar text of a record (default: loss, two model metrics, two held-out values, lr). */
  describe?: (r: R) => string;
  /** Held-out values, added to the record with `evalPrefix` (default 'val_'). */
  evaluate?: () => Promise<Record<string, number>>;
  evalPrefix?: string;
  /** Evaluate every this many records and after the last one; undefined: never during the run. */
  evalEvery?: number;
  /** Evaluate before the first step: logged as `{[index]: 0, ...values}`, and with 'history' kept as the history's first record. */
  evalBefore?: 'log' | 'history';
  /** Name of that line's number (default 'step'). */
  index?: string;
  checkpoint?: CheckpointSpec;
  /** The trainer state of the checkpoint this run resumes from (its step, tokens and history). */
  resume?: TrainerState;
  /** The plot: a file under OUT and its SVG (default loss.svg with the loss, held-out values and `plotMetrics`). */
  chart?: { file: string; svg: (history: R[]) => string };
  plotMetrics?: string[];
  /** Writes the final model after the last step. */
  final?: (snapshot: Required<OptimizerState>) => Promise<void>;
  onNonFinite?: 'skip' | 'stop';
  quiet?: boolean;
  onRecord?: (r: R) => void;
}

/** The whole-step trainer of a run: AdamW with the run's weight decay (default `weightDecay`) and gradient clip (default 1). */
export function createTrainer(build: () => TrainModel, initial: OptimizerState, o: OptimOptions & { threads?: number; accumulation?: number }, weightDecay = 0): Promise<TrainStep> {
  return TrainStep.create({ build, accumulation: o.accumulation, optimizer: { weightDecay: o.weightDecay ?? weightDecay, maxGradNorm: o.clip ?? 1 }, session: { threads: o.threads } }, initial);
}

/** Runs `spec` to its last step: the records (after a resumed run's earlier ones) and the held-out values before the first step. */
export async function trainLoop<R extends object = LoopRecord>(spec: LoopSpec<R>): Promise<{ history: R[]; before?: Record<string, number> }> {
  const { trainer, steps, out } = spec;
  const group = spec.group ?? 1;
  const metrics = out ? new MetricsLog(join(out, 'metrics.jsonl')) : undefined;
  const history = [...(spec.resume?.history ?? [])] as R[];
  let step = spec.resume?.step ?? 0;
  let tokens = spec.resume?.tokens_seen ?? 0;
  const progress = new Progress(spec.name, (steps - step) / group, spec.unit ?? 'steps', !spec.quiet);
  const chart = spec.chart ?? { file: 'loss.svg', svg: (h: R[]) => lossChart(spec.name, h as unknown as LoopRecord[], spec.plotMetrics ?? []) };
  const plot = async () => {
    if (out) await writeFileAtomic(join(out, chart.file), chart.svg(history));
  };
  const evaluate = async () => Object.fromEntries(Object.entries(await spec.evaluate!()).map(([k, v]) => [(spec.evalPrefix ?? 'val_') + k, v]));
  let before: Record<string, number> | undefined;
  if (spec.evaluate && spec.evalBefore) {
    before = await evaluate();
    metrics?.write({ [spec.index ?? 'step']: 0, ...before });
    if (spec.evalBefore === 'history') history.push({ step: 0, loss: NaN, lr: 0, grad_norm: NaN, tokens: 0, tokens_per_s: 0, ...before } as unknown as R);
  }

  let windowStart = performance.now();
  let windowTokens = 0;
  while (step < steps) {
    let loss = 0;
    let gradNorm = 0;
    let lr = 0;
    let skipped = false;
    const sums: Record<string, number> = {};
    for (let g = 0; g < group; g++) {
      const batches: Record<string, FeedValue>[] = [];
      for (let i = 0; i < trainer.accumulation; i++) {
        const micro = await spec.next();
        batches.push(micro.feeds);
        tokens += micro.tokens;
        windowTokens += micro.tokens;
      }
      lr = learningRate(spec.schedule, step);
      const result = await trainer.run(batches, lr);
      step += 1;
      if (result.skipped) {
        const what = `step ${step}: non-finite ${Number.isFinite(result.loss) ? 'gradient norm' : 'loss'} (loss ${result.loss}, grad norm ${result.gradNorm})`;
        metrics?.write({ step, event: 'non_finite', loss: result.loss, grad_norm: result.gradNorm });
        if ((spec.onNonFinite ?? 'skip') === 'stop') throw new KolmError(`${what}; stopping (weights are from step ${step - 1})`);
        if (!spec.quiet) console.error(`\n${what}; update skipped`);
        skipped = true;
      }
      loss += result.loss;
      gradNorm += result.gradNorm;
      for (const [k, v] of Object.entries(result.metrics)) sums[k] = (sums[k] ?? 0) + v;
    }
    const elapsed = (performance.now() - windowStart) / 1000;
    const mean = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / group]));
    const n = step / group;
    const base: LoopRecord = { step: n, loss: loss / group, lr, grad_norm: gradNorm / group, tokens, tokens_per_s: Math.round(windowTokens / Math.max(elapsed, 1e-9)), ...mean };
    if (skipped) base.skipped = true;
    const record = (spec.record ? spec.record(base) : base) as R & Record<string, unknown>;
    if (spec.evaluate && spec.evalEvery !== undefined && (n % spec.evalEvery === 0 || step === steps)) Object.assign(record, await evaluate());
    history.push(record);
    metrics?.write({ ...record });
    spec.onRecord?.(record);
    progress.tick(1, spec.describe ? spec.describe(record) : describe(base, mean, record));
    if (elapsed > 30) {
      windowStart = performance.now();
      windowTokens = 0;
    }
    const c = spec.checkpoint;
    if (out && c && (step === steps ? c.last : c.every > 0 && step % c.every === 0)) {
      const state: TrainerState = { step: trainer.step, tokens_seen: tokens, data: c.data?.() ?? null, run: c.run, history: stateHistory(history, c.fields) };
      await saveCheckpoint(checkpointDir(out, step), c.config, trainer.snapshot(), state, c.tokenizer);
      await plot();
    }
  }
  progress.finish();
  await plot();
  await spec.final?.(trainer.snapshot());
  return { history, before };
}

/** The records as a checkpoint stores them: the `fields` each has (default step, loss and val_loss). */
export function stateHistory(history: readonly object[], fields: readonly string[] = ['step', 'loss', 'val_loss']): TrainerState['history'] {
  return history.map((h) => Object.fromEntries(fields.filter((f) => (h as Record<string, unknown>)[f] !== undefined).map((f) => [f, (h as Record<string, unknown>)[f]])) as TrainerState['history'][number]);
}

function describe(r: LoopRecord, metrics: Record<string, number>, record: object): string {
  const shown = Object.entries(metrics).slice(0, 2).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ');
  const val = Object.entries(record).filter(([k]) => k.startsWith('val_')).slice(0, 2).map(([k, v]) => `${k} ${(v as number).toFixed(3)}`).join(' ');
  return `loss ${r.loss.toFixed(3)} ${shown}${val ? ` ${val}` : ''} lr ${r.lr.toExponential(1)}`;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** The training loss, the held-out loss and the `extra` metrics (plain and held-out) over the steps. */
function lossChart(name: string, history: readonly LoopRecord[], extra: string[]): string {
  const series = [{ name: 'train loss', color: COLORS[0]!, points: history.filter((h) => Number.isFinite(h.loss)).map((h) => [h.step, h.loss] as [number, number]) }];
  const keys = new Set<string>();
  for (const h of history) for (const k of Object.keys(h)) if (k === 'val_loss' || extra.map((e) => `val_${e}`).includes(k) || extra.includes(k)) keys.add(k);
  [...keys].forEach((k, i) => {
    series.push({ name: k.replace(/_/g, ' '), color: COLORS[(i + 1) % COLORS.length]!, points: history.filter((h) => typeof h[k] === 'number' && Number.isFinite(h[k] as number)).map((h) => [h.step, h[k] as number]) });
  });
  return lossChartSvg(series, `kolm ${name}`);
}
