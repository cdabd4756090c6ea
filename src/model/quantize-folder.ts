/**
 * `kolm quantize`: a float model folder → a folder whose linear layers are int8 or int4 (model/quantize.ts) in the
 * compressed-tensors layout (model/compressed-tensors.ts). Embeddings and norms stay float, stored as the source
 * folder stores them (its torch_dtype); `lm_head` (untied models) is quantized only when asked, as llama.cpp's
 * converters leave the output matrix at higher precision by default.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StDType } from '../formats/safetensors.js';
import { KolmError } from '../util/errors.js';
import { folderQuantization, isQuantizedLayer, quantizationConfig, type FolderQuantization } from './compressed-tensors.js';
import type { ModelConfig } from './config.js';
import { loadModelFolder, saveModelFolder, type FolderWeights } from './folder.js';
import { paramSpecs } from './params.js';
import { quantizeMatrix, type QuantBits } from './quantize.js';

export interface QuantizeOptions {
  bits: QuantBits;
  /** Values per scale along each row (default 32, llama.cpp's block). */
  groupSize?: number;
  /** Quantize an untied `lm_head` too (default false). */
  lmHead?: boolean;
}

export interface QuantizeSummary {
  dir: string;
  bits: QuantBits;
  groupSize: number;
  quantizedLayers: number;
  /** Bytes of the quantized layers (packed values and scales) and of the float tensors, as stored. */
  quantizedBytes: number;
  floatBytes: number;
}

const STORED: Record<string, StDType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

export async function quantizeFolder(modelDir: string, outDir: string, opts: QuantizeOptions): Promise<QuantizeSummary> {
  const groupSize = opts.groupSize ?? 32;
  if (groupSize < 16 || (groupSize & (groupSize - 1)) !== 0) throw new KolmError(`group size must be a power of two >= 16 (got ${groupSize})`);
  const model = await loadModelFolder(modelDir);
  const c = model.config;
  const q: FolderQuantization = { bits: opts.bits, groupSize, ignore: opts.lmHead || c.tie_word_embeddings ? [] : ['lm_head'] };
  const stored = STORED[c.torch_dtype ?? 'float32'] ?? 'F32';
  const weights: FolderWeights = {};
  let [quantizedLayers, quantizedBytes, floatBytes] = [0, 0, 0];
  for (const spec of paramSpecs(c)) {
    const w = model.weights[spec.name]!;
    if (!isQuantizedLayer(spec.name, q)) {
      weights[spec.name] = w;
      floatBytes += w.data.length * (stored === 'F32' ? 4 : 2);
      continue;
    }
    const [rows, cols] = spec.shape as [number, number];
    if (cols % groupSize !== 0) throw new KolmError(`${modelDir}: '${spec.name}' has rows of ${cols} values, which do not divide into groups of ${groupSize}`);
    const m = quantizeMatrix(w.data, [rows, cols], opts.bits, groupSize);
    weights[spec.name] = m;
    quantizedLayers++;
    quantizedBytes += m.blocks.length + 2 * m.scales.length;
  }
  const config = { ...c, quantization_config: quantizationConfig(q) } as ModelConfig;
  folderQuantization(config, 'quantize'); // what is written must read back
  const generation = await readFile(join(modelDir, 'generation_config.json'), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
  await saveModelFolder(outDir, config, weights, { dtype: stored, tokenizerDir: modelDir, generationConfig: generation });
  return { dir: outDir, bits: opts.bits, groupSize, quantizedLayers, quantizedBytes, floatBytes };
}
