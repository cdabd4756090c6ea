/**
 * A folder's weights as GGUF tensors: HF names and shapes to ggml's, llama's q/k rows permuted to adjacent-pair
 * rotary order, and each tensor's storage type. Quantized layers (int8/int4 with groups of 32) are written as the
 * Q8_0/Q4_0 blocks they already are, without requantizing; float matrices are quantized for a q8_0/q4_0 export with
 * the same reference schemes (model/quantize.ts), so a tied model's token_embd matches what kolm's quantized output
 * head computes.
 */
import { KolmError } from '../util/errors.js';
import type { ModelConfig } from '../model/config.js';
import type { FolderWeights } from '../model/folder.js';
import { paramSpecs } from '../model/params.js';
import { isQuantized, quantizeMatrix, type QuantizedMatrix } from '../model/quantize.js';
import { hfShapeToGguf, hfToGgufName, permuteForGguf, unpermuteFromGguf } from '../formats/gguf/names.js';
import { blocksFromGgml, ggmlFromBlocks, QK8_0 } from '../formats/gguf/quant.js';
import type { GgufWriteType } from '../formats/gguf/types.js';
import type { GgufWriteTensor } from '../formats/gguf/writer.js';

export type GgufExportType = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const GGUF_EXPORT_TYPES: readonly GgufExportType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

/** The export type a quantized folder has (its layers are written as they are), or undefined for a float folder. */
export function quantizedExportType(weights: FolderWeights, source: string): GgufExportType | undefined {
  const q = Object.values(weights).find(isQuantized);
  if (!q) return undefined;
  if (q.blockSize !== QK8_0) throw new KolmError(`${source}: quantization_config group_size is ${q.blockSize}; GGUF's q8_0/q4_0 blocks hold 32 values (quantize with --group-size 32)`);
  return q.bits === 8 ? 'q8_0' : 'q4_0';
}

/** Storage of a float tensor: 1-D ones stay F32 (as llama.cpp's converter keeps norms); blocks need rows of 32. */
function floatType(name: string, shape: readonly number[], type: GgufExportType): GgufWriteType {
  if (shape.length < 2 || type === 'f32') return 'F32';
  if (type === 'f16' || shape[shape.length - 1]! % QK8_0 !== 0) return 'F16';
  // A q4_0 export keeps an untied output matrix at 8 bits, as llama.cpp's Q4_0 files keep it above 4.
  return type === 'q4_0' && name !== 'lm_head.weight' ? 'Q4_0' : 'Q8_0';
}

/** q/k rows of a quantized matrix permuted as `permuteForGguf` (or, `inverse`, `unpermuteFromGguf`) permutes floats. */
export function permuteQuantizedRows(m: QuantizedMatrix, nHead: number, inverse = false): QuantizedMatrix {
  const [rows, cols] = m.shape;
  const index = { shape: [rows], data: Float32Array.from({ length: rows }, (_, i) => i) };
  const order = (inverse ? unpermuteFromGguf : permuteForGguf)(index, nHead).data;
  const rowBytes = m.blocks.length / rows;
  const rowScales = m.scales.length / rows;
  const blocks = new Uint8Array(m.blocks.length);
  const scales = new Float32Array(m.scales.length);
  for (let r = 0; r < rows; r++) {
    const from = order[r]!;
    blocks.set(m.blocks.subarray(from * rowBytes, (from + 1) * rowBytes), r * rowBytes);
    scales.set(m.scales.subarray(from * rowScales, (from + 1) * rowScales), r * rowScales);
  }
  return { ...m, shape: [rows, cols], blocks, scales };
}

export function ggufTensors(c: ModelConfig, weights: FolderWeights, type: GgufExportType, permute: boolean): GgufWriteTensor[] {
  return paramSpecs(c).map((spec) => {
    const w = weights[spec.name]!;
    const heads = /\.self_attn\.q_proj\.(weight|bias)$/.test(spec.name) ? c.num_attention_heads : /\.self_attn\.k_proj\.(weight|bias)$/.test(spec.name) ? c.num_key_value_heads : 0;
    const name = hfToGgufName(spec.name);
    const shape = hfShapeToGguf(spec.shape);
    if (isQuantized(w)) {
      const m = permute && heads ? permuteQuantizedRows(w, heads) : w;
      return { name, shape, type: m.bits === 8 ? 'Q8_0' : 'Q4_0', encoded: ggmlFromBlocks(m.bits, m.blocks, m.scales) };
    }
    let dense = { shape: [...spec.shape], data: w.data instanceof Float32Array ? w.data : Float32Array.from(w.data) };
    if (permute && heads) dense = permuteForGguf(dense, heads);
    const storage = floatType(spec.name, dense.shape, type);
    if (storage !== 'Q4_0') return { name, shape, type: storage, data: dense.data };
    const q = quantizeMatrix(dense.data, dense.shape as [number, number], 4, QK8_0);
    return { name, shape, type: storage, encoded: ggmlFromBlocks(4, q.blocks, q.scales) };
  });
}

/** Linear layers (and an untied output) as stored: kept quantized on import when they all share one of these types. */
export const KEPT_QUANTIZED = ['Q8_0', 'Q4_0'] as const;

/**
 * The quantized layer a Q8_0/Q4_0 GGUF tensor is: its blocks moved into MatMulNBits' layout bit for bit, llama's q/k
 * rows back in HF's order (`heads` > 0).
 */
export function quantizedFromGgml(type: (typeof KEPT_QUANTIZED)[number], bytes: Uint8Array, shape: readonly [number, number], heads: number): QuantizedMatrix {
  const { bits, blocks, scales } = blocksFromGgml(type, bytes, shape[0] * shape[1]);
  const m: QuantizedMatrix = { kind: 'nbits', bits, blockSize: 32, shape: [shape[0], shape[1]], blocks, scales };
  return heads ? permuteQuantizedRows(m, heads, true) : m;
}
