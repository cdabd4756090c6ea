/**
 * Weight-only, block-wise symmetric quantization of linear layers into the layout ONNX Runtime's MatMulNBits runs
 * (graph/ops/quantized.ts): per row, blocks of `blockSize` values share one scale; a value is (q − 2^(bits−1))·scale.
 * The two schemes are llama.cpp's reference quantizers generalised to any block size, so with blocks of 32 a kolm
 * int8 weight is exactly llama.cpp's Q8_0 and an int4 weight exactly its Q4_0 (scales rounded to binary16 as ggml
 * stores them), and GGUF export and import move between the two without requantizing:
 *   8-bit: d = amax/127, q = roundf(x/d) + 128;
 *   4-bit: d = m/−8 where m is the value of largest magnitude, q = min(15, trunc(x/d + 8.5)).
 */
import { f16BitsToF32, f32ToF16Bits } from '../formats/half.js';
import { KolmError } from '../util/errors.js';

export type QuantBits = 4 | 8;

/** A block-quantized matrix [rows, cols] in MatMulNBits' layout. */
export interface QuantizedMatrix {
  readonly kind: 'nbits';
  readonly bits: QuantBits;
  readonly blockSize: number;
  /** [rows, cols] of the float matrix it stands for (HF's [out, in]). */
  readonly shape: readonly [number, number];
  /** uint8 [rows, cols/blockSize, blockSize·bits/8]; 4-bit values two to a byte, low nibble first. */
  readonly blocks: Uint8Array;
  /** float32 [rows · cols/blockSize], each a binary16 value. */
  readonly scales: Float32Array;
}

export function isQuantized(w: unknown): w is QuantizedMatrix {
  return typeof w === 'object' && w !== null && (w as { kind?: unknown }).kind === 'nbits';
}

export const BLOCK_SIZES = [32, 64, 128] as const;

/**
 * MatMulNBits' accuracy_level kolm runs quantized weights at: 4 quantizes activations to int8 per block (as llama.cpp
 * does for its quantized types on CPU), the fast path of ONNX Runtime's kernels.
 */
export const DEFAULT_ACCURACY_LEVEL = 4;

/** Round to the nearest binary16 value (how ggml stores a block's scale). */
const toF16 = (x: number): number => f16BitsToF32(f32ToF16Bits(x));
const fround = Math.fround;
/** C's roundf: halves go away from zero. */
const roundf = (x: number): number => (x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5));

/** Quantize a float matrix [rows, cols] (row-major) with blocks of `blockSize` along each row. */
export function quantizeMatrix(values: ArrayLike<number>, shape: readonly [number, number], bits: QuantBits, blockSize: number): QuantizedMatrix {
  const [rows, cols] = shape;
  if (cols % blockSize !== 0) throw new KolmError(`quantize: rows of ${cols} values do not divide into blocks of ${blockSize}`);
  const kBlocks = cols / blockSize;
  const blob = (blockSize * bits) / 8;
  const blocks = new Uint8Array(rows * kBlocks * blob);
  const scales = new Float32Array(rows * kBlocks);
  for (let b = 0; b < rows * kBlocks; b++) {
    const base = b * blockSize;
    const out = b * blob;
    if (bits === 8) {
      let amax = 0;
      for (let j = 0; j < blockSize; j++) amax = Math.max(amax, Math.abs(values[base + j]!));
      const d = fround(amax / 127);
      const id = d !== 0 ? fround(1 / d) : 0;
      scales[b] = toF16(d);
      for (let j = 0; j < blockSize; j++) blocks[out + j] = roundf(fround(values[base + j]! * id)) + 128;
    } else {
      let amax = 0;
      let max = 0;
      for (let j = 0; j < blockSize; j++) {
        const v = values[base + j]!;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = fround(max / -8);
      const id = d !== 0 ? fround(1 / d) : 0;
      scales[b] = toF16(d);
      for (let j = 0; j < blockSize; j += 2) {
        const q0 = Math.min(15, Math.trunc(fround(fround(values[base + j]! * id) + 8.5)));
        const q1 = Math.min(15, Math.trunc(fround(fround(values[base + j + 1]! * id) + 8.5)));
        blocks[out + j / 2] = q0 | (q1 << 4);
      }
    }
  }
  return { kind: 'nbits', bits, blockSize, shape: [rows, cols], blocks, scales };
}

/** The float matrix a quantized one stands for, row-major [rows, cols]. */
export function dequantizeMatrix(m: QuantizedMatrix): Float32Array {
  const [rows, cols] = m.shape;
  const kBlocks = cols / m.blockSize;
  const blob = (m.blockSize * m.bits) / 8;
  const zero = 1 << (m.bits - 1);
  const out = new Float32Array(rows * cols);
  for (let b = 0; b < rows * kBlocks; b++) {
    const d = m.scales[b]!;
    const at = b * blob;
    for (let j = 0; j < m.blockSize; j++) {
      const q = m.bits === 8 ? m.blocks[at + j]! : (m.blocks[at + (j >> 1)]! >> ((j & 1) * 4)) & 15;
      out[b * m.blockSize + j] = (q - zero) * d;
    }
  }
  return out;
}

/** Rows of several quantized matrices (same bits, block size and columns) stacked, scales multiplied by `scale[i]`. */
export function stackQuantized(members: readonly QuantizedMatrix[], scale: readonly number[] = members.map(() => 1)): QuantizedMatrix {
  const first = members[0]!;
  for (const m of members) {
    if (m.bits !== first.bits || m.blockSize !== first.blockSize || m.shape[1] !== first.shape[1]) {
      throw new KolmError(`quantize: cannot stack ${m.bits}-bit/${m.blockSize} [${m.shape}] with ${first.bits}-bit/${first.blockSize} [${first.shape}]`);
    }
  }
  const rows = members.reduce((n, m) => n + m.shape[0], 0);
  const blocks = new Uint8Array(members.reduce((n, m) => n + m.blocks.length, 0));
  const scales = new Float32Array(members.reduce((n, m) => n + m.scales.length, 0));
  let [bo, so] = [0, 0];
  members.forEach((m, i) => {
    blocks.set(m.blocks, bo);
    for (let k = 0; k < m.scales.length; k++) scales[so + k] = m.scales[k]! * scale[i]!;
    bo += m.blocks.length;
    so += m.scales.length;
  });
  return { kind: 'nbits', bits: first.bits, blockSize: first.blockSize, shape: [rows, first.shape[1]], blocks, scales };
}

/** What a graph needs to know of a quantized matrix. */
export type QuantInfo = Pick<QuantizedMatrix, 'bits' | 'blockSize' | 'shape'>;
/** The quantized matrices of a weight set, by HF name. */
export type QuantPlan = ReadonlyMap<string, QuantInfo>;
export const NO_QUANTIZATION: QuantPlan = new Map();

export function quantPlanOf(weights: Record<string, unknown>): QuantPlan {
  const plan = new Map<string, QuantInfo>();
  for (const [name, w] of Object.entries(weights)) if (isQuantized(w)) plan.set(name, { bits: w.bits, blockSize: w.blockSize, shape: w.shape });
  return plan;
}

/** Graph input names of a quantized matrix's parts. */
export const blocksName = (name: string) => `${name}.blocks`;
export const scalesName = (name: string) => `${name}.scales`;

/** Shapes of the parts: blocks uint8 [rows, cols/block, block·bits/8], scales [rows·cols/block]. */
export function quantizedPartShapes(q: QuantInfo): { blocks: number[]; scales: number[] } {
  const [rows, cols] = q.shape;
  const kBlocks = cols / q.blockSize;
  return { blocks: [rows, kBlocks, (q.blockSize * q.bits) / 8], scales: [rows * kBlocks] };
}

/** Weights as session initializers: each quantized matrix becomes its blocks and scales. */
export function expandQuantized<W>(weights: Record<string, W | QuantizedMatrix>): Record<string, W | { dtype: 'uint8' | 'float32'; shape: number[]; data: Uint8Array | Float32Array }> {
  const out: Record<string, W | { dtype: 'uint8' | 'float32'; shape: number[]; data: Uint8Array | Float32Array }> = {};
  for (const [name, w] of Object.entries(weights)) {
    if (!isQuantized(w)) {
      out[name] = w;
      continue;
    }
    const shapes = quantizedPartShapes(w);
    out[blocksName(name)] = { dtype: 'uint8', shape: shapes.blocks, data: w.blocks };
    out[scalesName(name)] = { dtype: 'float32', shape: shapes.scales, data: w.scales };
  }
  return out;
}

/**
 * How a quantized model with tied embeddings runs: the output product on a quantized copy of the embedding (as
 * llama.cpp's quantized token_embd serves both), since it is the largest product of a decode step; the lookup keeps
 * the float rows. Float models and untied ones are returned as they are.
 */
export function quantizedOutputHead<C extends { tie_word_embeddings: boolean; vocab_size: number; hidden_size: number }, W>(
  c: C,
  weights: Record<string, W | QuantizedMatrix>,
): { config: C; weights: Record<string, W | QuantizedMatrix> } {
  const scheme = Object.values(weights).find(isQuantized);
  const embed = weights['model.embed_tokens.weight'] as { data: ArrayLike<number> } | undefined;
  if (!c.tie_word_embeddings || !scheme || !embed || c.hidden_size % scheme.blockSize !== 0) return { config: c, weights };
  const head = quantizeMatrix(embed.data, [c.vocab_size, c.hidden_size], scheme.bits, scheme.blockSize);
  return { config: { ...c, tie_word_embeddings: false }, weights: { ...weights, 'lm_head.weight': head } };
}
