/**
 * Evaluates a training run's checkpoints as they appear, in its own process so training never waits: validation
 * loss on held-out shards and a few quick tasks, one JSON line per checkpoint in `checkpoint-evals.jsonl`.
 * Checkpoints are written by rename, so a folder that exists is complete.
 */
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { validationLoss } from '../train/validate.js';
import { readJsonl } from './records.js';

export interface WatchOptions {
  /** The training run's folder (holds `checkpoints/step-NNNNNNN`). */
  dir: string;
  /** Token shards for validation loss (omit for none). */
  data?: string;
  seq?: number;
  batch?: number;
  batches?: number;
  tasks?: string[];
  limit?: number;
  dataDir?: string;
  /** A folder of more task definitions. */
  includePath?: string;
  /** A run log to append `checkpoint-eval` events to. */
  events?: string;
  stage?: string;
  /** Resolves when the training has finished: evaluate what is left, then return. */
  finished: Promise<void>;
  pollMs?: number;
  log?: (line: string) => void;
}

export interface CheckpointEval {
  step: number;
  checkpoint: string;
  val_loss?: number;
  tasks?: Record<string, Record<string, number>>;
  seconds: number;
}

export const EVALS_FILE = 'checkpoint-evals.jsonl';

export async function watchCheckpoints(o: WatchOptions): Promise<CheckpointEval[]> {
  const log = o.log ?? ((l: string) => console.log(l));
  const outFile = join(o.dir, EVALS_FILE);
  const seen = new Set<number>(readEvals(o.dir).map((e) => e.step));
  const results: CheckpointEval[] = [];
  let finished = false;
  void o.finished.then(() => (finished = true));
  for (;;) {
    const last = finished;
    for (const { step, name } of listCheckpoints(o.dir)) {
      if (seen.has(step)) continue;
      seen.add(step);
      const path = join(o.dir, 'checkpoints', name);
      if (!existsSync(path)) continue;
      const r = await evaluateCheckpoint(path, step, o);
      if (!r) continue;
      results.push(r);
      appendFileSync(outFile, JSON.stringify(r) + '\n');
      if (o.events) appendFileSync(o.events, JSON.stringify({ time: new Date().toISOString(), stage: o.stage, event: 'checkpoint-eval', ...r }) + '\n');
      log(`step ${step}: ${describe(r)}`);
    }
    if (last) return results;
    await Promise.race([new Promise((r) => setTimeout(r, o.pollMs ?? 2000)), o.finished]);
  }
}

async function evaluateCheckpoint(path: string, step: number, o: WatchOptions): Promise<CheckpointEval | undefined> {
  const t0 = Date.now();
  const r: CheckpointEval = { step, checkpoint: `checkpoints/${path.split('/').at(-1)}`, seconds: 0 };
  try {
    if (o.data && o.seq) r.val_loss = +(await validationLoss({ model: path, data: o.data, seq: o.seq, batch: o.batch, batches: o.batches, threads: 1 })).loss.toFixed(5);
    if (o.tasks?.length) r.tasks = await quickTasks(path, o);
  } catch (err) {
    // A checkpoint removed while being read (or a broken one) is reported and skipped; training goes on.
    (o.log ?? console.log)(`step ${step}: not evaluated (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  r.seconds = +((Date.now() - t0) / 1000).toFixed(1);
  return r;
}

async function quickTasks(model: string, o: WatchOptions): Promise<Record<string, Record<string, number>>> {
  const { evaluate, KolmBackend, TaskIndex, builtinTaskDir } = await import('../eval/index.js');
  const { tasks, groups } = new TaskIndex([builtinTaskDir(), ...(o.includePath ? [resolve(o.includePath)] : [])]).resolve(o.tasks!);
  const backend = await KolmBackend.load(model, { threads: 1 });
  const res = await evaluate({ backend, tasks, groups, dataDir: resolve(o.dataDir ?? '../shared/data/external'), limit: o.limit, bootstrapIters: 0, progress: false });
  const out: Record<string, Record<string, number>> = {};
  for (const [task, metrics] of Object.entries({ ...res.results, ...res.groups })) {
    for (const [k, v] of Object.entries(metrics)) {
      if (typeof v === 'number' && !k.includes('_stderr')) (out[task] ??= {})[k.replace(/,none$/, '')] = +v.toFixed(5);
    }
  }
  return out;
}

function listCheckpoints(dir: string): { step: number; name: string }[] {
  const root = join(dir, 'checkpoints');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d))
    .map((name) => ({ step: Number(name.slice(5)), name }))
    .sort((a, b) => a.step - b.step);
}

export function readEvals(dir: string): CheckpointEval[] {
  return readJsonl(join(dir, EVALS_FILE)) as unknown as CheckpointEval[];
}

function describe(r: CheckpointEval): string {
  const parts: string[] = [];
  if (r.val_loss !== undefined) parts.push(`validation loss ${r.val_loss.toFixed(4)}`);
  for (const [task, m] of Object.entries(r.tasks ?? {})) {
    const [k, v] = Object.entries(m)[0] ?? [];
    if (k) parts.push(`${task} ${k} ${v!.toFixed(4)}`);
  }
  return `${parts.join(', ') || 'nothing measured'} (${r.seconds} s)`;
}
