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
import { lossChartSvg } from './plot.js';
import { learningRate, type Schedule } from './schedule.js';
import type { OptimizerState, TrainStep } from './step.js';

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
