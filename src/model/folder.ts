/**
 * HF-layout model folders: config.json, generation_config.json, model.safetensors (or shards listed by
 * model.safetensors.index.json, as published checkpoints come) and the tokenizer files — the unit every command takes
 * (`--model DIR`) and that transformers, vLLM and kolm all load. Quantized folders keep their linear layers in the
 * compressed-tensors layout (model/compressed-tensors.ts) and load as QuantizedMatrix values.
 */
import { copyFile, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, readSafetensorsHeader, readSafetensorsRaw, writeSafetensors, type StDType, type StRawTensor, type StTensor } from '../formats/safetensors.js';
import { KolmError } from '../util/errors.js';
import { writeFileAtomic, writeFolderAtomic } from '../util/atomic.js';
import { validateConfig, type ModelConfig } from './config.js';
import { paramSpecs } from './params.js';
import { folderQuantization, fromPackedTensors, isQuantizedLayer, packedTensorNames, toPackedTensors } from './compressed-tensors.js';
import { isQuantized, type QuantizedMatrix } from './quantize.js';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

export type Weights = Record<string, { shape: readonly number[]; data: ArrayLike<number> }>;
/** What a folder stores: float tensors and, in a quantized folder, quantized linear layers. */
export type FolderWeights = Record<string, Weights[string] | QuantizedMatrix>;

export interface SaveOptions {
  dtype?: StDType;
  /** Split the weights into `model-0000i-of-0000n.safetensors` shards of at most about this many bytes each, listed by
   * model.safetensors.index.json (the published layout); default: one model.safetensors. */
  maxShardBytes?: number;
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
export async function saveModelFolder(dir: string, config: ModelConfig, weights: FolderWeights, opts: SaveOptions = {}): Promise<void> {
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
    await writeWeights(tmp, weights, paramSpecs(config).map((p) => p.name), opts);
    for (const [name, tensors] of Object.entries(opts.extraTensors ?? {})) await writeSafetensors(join(tmp, name), toStTensors(tensors, Object.keys(tensors)));
    if (opts.tokenizerDir) {
      for (const f of TOKENIZER_FILES) if (existsSync(join(opts.tokenizerDir, f))) await copyFile(join(opts.tokenizerDir, f), join(tmp, f));
    }
    for (const [name, content] of Object.entries(opts.extraFiles ?? {})) await writeFileAtomic(join(tmp, name), content);
  });
}

export const INDEX_FILE = 'model.safetensors.index.json';

/** Items in order, cut into shards of at most `maxBytes` each (an item larger than that gets a shard of its own). */
export function planShards<T>(items: readonly T[], bytes: (item: T) => number, maxBytes: number): T[][] {
  const shards: T[][] = [[]];
  let size = 0;
  for (const item of items) {
    if (size > 0 && size + bytes(item) > maxBytes) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(item);
    size += bytes(item);
  }
  return shards;
}

/** The published name of shard i of n: model-0000{i+1}-of-0000{n}.safetensors. */
export const shardFileName = (i: number, n: number) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

async function writeWeights(dir: string, weights: FolderWeights, names: string[], opts: SaveOptions): Promise<void> {
  const dtype = opts.dtype ?? 'F32';
  const write = (file: string, part: string[]) => writeSafetensors(join(dir, file), toStTensors(weights, part), { dtype, metadata: { format: 'pt' } });
  if (opts.maxShardBytes === undefined) return write('model.safetensors', names);
  const bytes = (name: string) => {
    const w = weights[name]!;
    return isQuantized(w) ? w.blocks.length + w.scales.length * 2 + 16 : w.data.length * (dtype === 'F32' ? 4 : 2);
  };
  const shards = planShards(names, bytes, opts.maxShardBytes);
  const weightMap: Record<string, string> = {};
  for (const [i, part] of shards.entries()) {
    const file = shardFileName(i, shards.length);
    await write(file, part);
    for (const name of part) {
      const w = weights[name]!;
      for (const stored of isQuantized(w) ? Object.values(packedTensorNames(name)) : [name]) weightMap[stored] = file;
    }
  }
  const totalSize = names.reduce((n, name) => n + bytes(name), 0);
  await writeFileAtomic(join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + '\n');
}

function toStTensors(weights: FolderWeights, names: string[]): Record<string, StTensor | StRawTensor> {
  const out: Record<string, StTensor | StRawTensor> = {};
  for (const name of names) {
    const w = weights[name]!;
    if (isQuantized(w)) Object.assign(out, toPackedTensors(name, w));
    else out[name] = { shape: [...w.shape], data: w.data instanceof Float32Array ? w.data : Float32Array.from(w.data) };
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

/** A folder that may be quantized: its linear layers then load as QuantizedMatrix values. */
export interface LoadedFolder {
  dir: string;
  config: ModelConfig;
  weights: Record<string, StTensor | QuantizedMatrix>;
}

/** Where the weights are: model.safetensors, or the shards model.safetensors.index.json maps tensor names to. */
async function weightFiles(dir: string): Promise<{ where: string; shardOf?: (name: string) => string | undefined }> {
  const single = join(dir, 'model.safetensors');
  if (await stat(single).catch(() => undefined)) return { where: single };
  const indexPath = join(dir, INDEX_FILE);
  const text = await readFile(indexPath, 'utf8').catch(() => undefined);
  if (text === undefined) throw new KolmError(`${single}: not found (nor ${INDEX_FILE} listing shards)`);
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(text) as { weight_map?: unknown };
  } catch (err) {
    throw new KolmError(`${indexPath}: invalid JSON (${(err as Error).message})`);
  }
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new KolmError(`${indexPath}: 'weight_map' must be an object of tensor name → shard file`);
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file.startsWith('.')) throw new KolmError(`${indexPath}: weight_map['${name}'] must be a shard file name in the folder (got ${JSON.stringify(file)})`);
  }
  const byName = map as Record<string, string>;
  return { where: indexPath, shardOf: (name) => (Object.hasOwn(byName, name) ? byName[name] : undefined) };
}

/**
 * Load config and weights, checking that every parameter the config implies is present with the right shape. Weights
 * of any stored float type (F32, F16, BF16) are read tensor by tensor, chunk by chunk, straight into their final
 * Float32Arrays, from one file or from shards, so loading holds one f32 copy of the model and a small buffer; tensors
 * the config does not use (e.g. a tied checkpoint's duplicate lm_head) are never read.
 */
export async function loadModelFolder(dir: string): Promise<LoadedModel>;
export async function loadModelFolder(dir: string, opts: { quantized: true }): Promise<LoadedFolder>;
export async function loadModelFolder(dir: string, opts: { quantized?: boolean } = {}): Promise<LoadedFolder> {
  const config = await loadConfig(dir);
  const quant = folderQuantization(config, join(dir, 'config.json'));
  if (quant && !opts.quantized) {
    throw new KolmError(`${dir}: the folder is quantized (config.json quantization_config: int${quant.bits}, groups of ${quant.groupSize}); this command needs float weights — use the unquantized folder`);
  }
  const specs = paramSpecs(config);
  const specByName = new Map(specs.map((s) => [s.name, s]));
  const { where, shardOf } = await weightFiles(dir);
  // Stored tensors by file: a float parameter is one tensor; a quantized layer is packed values, scales and shape.
  const byFile = new Map<string, { floats: string[]; quantized: string[] }>();
  const fileOf = (stored: string) => {
    const file = shardOf ? shardOf(stored) : where;
    if (file === undefined) throw new KolmError(`${where}: missing tensor '${stored}' required by config.json`);
    const path = shardOf ? join(dir, file) : file;
    if (!byFile.has(path)) byFile.set(path, { floats: [], quantized: [] });
    return byFile.get(path)!;
  };
  for (const spec of specs) {
    if (quant && isQuantizedLayer(spec.name, quant)) {
      const parts = packedTensorNames(spec.name);
      const file = fileOf(parts.packed);
      if (fileOf(parts.scale) !== file || fileOf(parts.shape) !== file) throw new KolmError(`${where}: the parts of quantized '${spec.name}' must be in one shard`);
      file.quantized.push(spec.name);
    } else {
      fileOf(spec.name).floats.push(spec.name);
    }
  }
  const weights: Record<string, StTensor | QuantizedMatrix> = {};
  for (const [file, { floats, quantized }] of byFile) {
    const header = await readSafetensorsHeader(file);
    for (const name of floats) {
      const spec = specByName.get(name)!;
      const t = header.tensors[name];
      if (!t) throw new KolmError(`${file}: missing tensor '${name}' required by config.json`);
      if (t.shape.join('x') !== spec.shape.join('x')) throw new KolmError(`${file}: tensor '${name}' has shape [${t.shape}], config.json implies [${spec.shape}]`);
    }
    const scales = quantized.map((n) => packedTensorNames(n).scale);
    const missing = [...scales, ...quantized.flatMap((n) => [packedTensorNames(n).packed, packedTensorNames(n).shape])].find((n) => !header.tensors[n]);
    if (missing) throw new KolmError(`${file}: missing tensor '${missing}' required by config.json's quantization_config`);
    Object.assign(weights, (await readSafetensors(file, { names: floats })).tensors);
    if (quantized.length) {
      const floatParts = (await readSafetensors(file, { names: scales })).tensors;
      const raw = await readSafetensorsRaw(file, quantized.flatMap((n) => [packedTensorNames(n).packed, packedTensorNames(n).shape]), ['I32', 'I64']);
      for (const name of quantized) {
        const p = packedTensorNames(name);
        weights[name] = fromPackedTensors(name, specByName.get(name)!.shape, { packed: raw[p.packed]!, scale: floatParts[p.scale]!, shape: raw[p.shape]! }, quant!, file);
      }
    }
  }
  const ordered: Record<string, StTensor | QuantizedMatrix> = {};
  for (const spec of specs) ordered[spec.name] = weights[spec.name]!;
  return { dir, config, weights: ordered };
}
