/**
 * Training checkpoints: an HF-layout model folder plus `optimizer.safetensors` (AdamW moments) and
 * `trainer_state.json` (step, data position, schedule, metrics so far). Written atomically as one folder.
 */
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../formats/safetensors.js';
import type { ModelConfig } from '../model/config.js';
import { loadModelFolder, saveModelFolder, type Weights } from '../model/folder.js';
import { KolmError } from '../util/errors.js';
import type { OptimizerState } from './step.js';

export interface TrainerState {
  step: number;
  tokens_seen: number;
  /** Opaque data-loader position (restored exactly on resume). */
  data: unknown;
  /** Options the run was started with, to detect an incompatible resume. */
  run: Record<string, unknown>;
  history: { step: number; loss: number; val_loss?: number }[];
}

const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer_state.json';

export function checkpointDir(out: string, step: number): string {
  return join(out, 'checkpoints', `step-${String(step).padStart(7, '0')}`);
}

export async function saveCheckpoint(dir: string, config: ModelConfig, snapshot: Required<OptimizerState>, state: TrainerState, tokenizerDir?: string): Promise<void> {
  const moments: Weights = {};
  for (const [name, t] of Object.entries(snapshot.exp_avg)) moments[`exp_avg.${name}`] = t;
  for (const [name, t] of Object.entries(snapshot.exp_avg_sq)) moments[`exp_avg_sq.${name}`] = t;
  await saveModelFolder(dir, config, snapshot.params as Weights, {
    tokenizerDir,
    extraTensors: { [OPTIMIZER_FILE]: moments },
    extraFiles: { [STATE_FILE]: JSON.stringify(state, null, 1) + '\n' },
  });
}

/** The newest complete checkpoint under `out`, if any. */
export async function latestCheckpoint(out: string): Promise<string | undefined> {
  const root = join(out, 'checkpoints');
  if (!existsSync(root)) return undefined;
  const dirs = (await readdir(root)).filter((d) => /^step-\d+$/.test(d)).sort();
  for (let i = dirs.length - 1; i >= 0; i--) if (existsSync(join(root, dirs[i]!, STATE_FILE))) return join(root, dirs[i]!);
  return undefined;
}

/** The newest checkpoint under `out` (undefined if none), refused when it was trained with other `run` options. */
export async function resumeCheckpoint(out: string, run: Record<string, unknown>): Promise<(Awaited<ReturnType<typeof loadCheckpoint>> & { dir: string }) | undefined> {
  const dir = await latestCheckpoint(out);
  if (!dir) return undefined;
  const ck = await loadCheckpoint(dir);
  for (const [k, v] of Object.entries(run)) {
    if (JSON.stringify(ck.state.run[k]) !== JSON.stringify(v)) throw new KolmError(`--resume: ${dir} was trained with ${k}=${JSON.stringify(ck.state.run[k])}, this run asks ${JSON.stringify(v)}`);
  }
  return { ...ck, dir };
}

export async function loadCheckpoint(dir: string): Promise<{ config: ModelConfig; optimizer: OptimizerState; state: TrainerState }> {
  const model = await loadModelFolder(dir);
  const statePath = join(dir, STATE_FILE);
  let state: TrainerState;
  try {
    state = JSON.parse(await readFile(statePath, 'utf8')) as TrainerState;
  } catch (err) {
    throw new KolmError(`${statePath}: unreadable trainer state (${(err as Error).message})`);
  }
  if (!Number.isInteger(state.step) || state.step < 0) throw new KolmError(`${statePath}: field 'step' must be a non-negative integer`);
  const { tensors } = await readSafetensors(join(dir, OPTIMIZER_FILE));
  const pick = (prefix: string) => {
    const out: NonNullable<OptimizerState['exp_avg']> = {};
    for (const name of Object.keys(model.weights)) {
      const t = tensors[`${prefix}.${name}`];
      if (!t) throw new KolmError(`${join(dir, OPTIMIZER_FILE)}: missing '${prefix}.${name}'`);
      out[name] = t;
    }
    return out;
  };
  return { config: model.config, optimizer: { step: state.step, params: model.weights, exp_avg: pick('exp_avg'), exp_avg_sq: pick('exp_avg_sq') }, state };
}
