/** Learning rate at a step: linear warmup, then cosine or linear decay to `minLr`, or constant. */
export interface Schedule {
  lr: number;
  warmup: number;
  total: number;
  decay: 'cosine' | 'linear' | 'constant';
  /** Floor as a fraction of lr (default 0.1). */
  minRatio?: number;
}

/** The optimizer options every training command takes (`--lr`, `--warmup`, `--decay`, `--min-lr-ratio`, `--weight-decay`, `--clip`). */
export interface OptimOptions {
  lr?: number;
  warmup?: number;
  decay?: Schedule['decay'];
  minLrRatio?: number;
  weightDecay?: number;
  clip?: number;
}

/** The schedule of a run of `total` steps: the options given, else the objective's defaults (decay default cosine). */
export function scheduleFor(o: OptimOptions, total: number, defaults: { lr: number; warmup: number; decay?: Schedule['decay'] }): Schedule {
  return { lr: o.lr ?? defaults.lr, warmup: o.warmup ?? defaults.warmup, total, decay: o.decay ?? defaults.decay ?? 'cosine', minRatio: o.minLrRatio ?? 0.1 };
}

export function learningRate(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (s.decay === 'constant') return s.lr;
  const min = s.lr * (s.minRatio ?? 0.1);
  const progress = Math.min(1, (step - s.warmup) / Math.max(1, s.total - s.warmup));
  const shape = s.decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return min + (s.lr - min) * shape;
}
