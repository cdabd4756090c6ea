/**
 * HF-layout model folders: config.json, generation_config.json, model.safetensors and the tokenizer files — the unit
 * every command takes (`--model DIR`) and that transformers, vLLM and kolm all load.
 */
import { copyFile, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type StTensor } from '../formats/safetensors.js';
import { KolmError } from '../util/errors.js';
import { writeFileAtomic, writeFolderAtomic } from '../util/atomic.js';
import { validateConfig, type ModelConfig } from './config.js';
import { paramSpecs } from './params.js';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export type Weights = Record<string, { shape: readonly number[]; data: ArrayLike<number> }>;

export interface SaveOptions {
  dtype?: 'F32' | 'F16';
  /** Copy tokenizer files from this folder. */
  tokenizerDir?: string;
  generationConfig?: Record<string, unknown>;
  /** Extra files written into the folder (name → content), e.g. trainer state. */
  extraFiles?: Record<string, string | Uint8Array>;
  /** Extra safetensors files (name → tensors), e.g. optimizer moments. */
  extraTensors?: Record<string, Weights>;
}

/**
 * Write a whole folder atomically: everything goes to a sibling temp folder that replaces `dir` by rename, so a
 * crash leaves either the old folder or the new one, never a mix.
 */
export async function saveModelFolder(dir: string, config: ModelConfig, weights: Weights, opts: SaveOptions = {}): Promise<void> {
  const missing = paramSpecs(config).filter((p) => !weights[p.name]).map((p) => p.name);
  if (missing.length) throw new KolmError(`saveModelFolder: missing parameters ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` (+${missing.length - 3})` : ''}`);
  await writeFolderAtomic(dir, async (tmp) => {
    await writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    const generation = {
      bos_token_id: config.bos_token_id ?? undefined,
      eos_token_id: config.eos_token_id ?? undefined,
      pad_token_id: config.pad_token_id ?? undefined,
      ...opts.generationConfig,
    };
    await writeFileAtomic(join(tmp, 'generation_config.json'), JSON.stringify(generation, null, 2) + '\n');
    await writeSafetensors(join(tmp, 'model.safetensors'), toStTensors(weights, paramSpecs(config).map((p) => p.name)), {
      dtype: opts.dtype ?? 'F32',
      metadata: { format: 'pt' },
    });
    for (const [name, tensors] of Object.entries(opts.extraTensors ?? {})) await writeSafetensors(join(tmp, name), toStTensors(tensors, Object.keys(tensors)));
    if (opts.tokenizerDir) {
      for (const f of TOKENIZER_FILES) if (existsSync(join(opts.tokenizerDir, f))) await copyFile(join(opts.tokenizerDir, f), join(tmp, f));
    }
    for (const [name, content] of Object.entries(opts.extraFiles ?? {})) await writeFileAtomic(join(tmp, name), content);
  });
}

function toStTensors(weights: Weights, names: string[]): Record<string, StTensor> {
  const out: Record<string, StTensor> = {};
  for (const name of names) {
    const w = weights[name]!;
    out[name] = { shape: [...w.shape], data: w.data instanceof Float32Array ? w.data : Float32Array.from(w.data) };
  }
  return out;
}

export async function loadConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new KolmError(`${path}: not found — is '${dir}' a model folder (config.json + model.safetensors)?`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new KolmError(`${path}: invalid JSON (${(err as Error).message})`);
  }
  return validateConfig(raw, path);
}

export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  weights: Record<string, StTensor>;
}

/** Load config and weights, checking that every parameter the config implies is present with the right shape. */
export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const config = await loadConfig(dir);
  const file = join(dir, 'model.safetensors');
  if (!(await stat(file).catch(() => undefined))) throw new KolmError(`${file}: not found`);
  const specs = paramSpecs(config);
  const { tensors } = await readSafetensors(file);
  const weights: Record<string, StTensor> = {};
  for (const spec of specs) {
    const t = tensors[spec.name];
    if (!t) throw new KolmError(`${file}: missing tensor '${spec.name}' required by config.json`);
    if (t.shape.join('x') !== spec.shape.join('x')) throw new KolmError(`${file}: tensor '${spec.name}' has shape [${t.shape}], config.json implies [${spec.shape}]`);
    weights[spec.name] = t;
  }
  return { dir, config, weights };
}
