/**
 * ggml Q8_0: blocks of 32 values stored as a binary16 scale `d` followed by 32 int8 `q`, value ≈ q·d.
 * Quantization reproduces ggml's `quantize_row_q8_0_ref` step for step in float32 arithmetic (d = amax/127,
 * id = 1/d, q = roundf(x·id), i.e. round half away from zero), so kolm's Q8_0 files are byte-identical to what
 * llama.cpp's reference quantizer makes from the same float32 weights.
 */
import { f16BitsToF32, f32ToF16Bits } from '../half.js';

export const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 2 + QK8_0;

const fround = Math.fround;

/** C's roundf: halves go away from zero (Math.round would send -2.5 to -2). Exact for float32 inputs. */
const roundf = (x: number): number => (x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5));

/** Quantize `values` (length a multiple of 32, all finite) into `out` (34 bytes per block). */
export function quantizeQ8_0(values: Float32Array, out: Uint8Array): void {
  const blocks = values.length / QK8_0;
  for (let b = 0; b < blocks; b++) {
    const base = b * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(values[base + j]!));
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const h = f32ToF16Bits(d);
    const o = b * Q8_0_BLOCK_BYTES;
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < QK8_0; j++) out[o + 2 + j] = roundf(fround(values[base + j]! * id)) & 0xff;
  }
}

/** Dequantize whole Q8_0 blocks from `bytes` into `out` (32 values per 34 bytes), as ggml's dequantize_row_q8_0. */
export function dequantizeQ8_0(bytes: Uint8Array, out: Float32Array): void {
  const blocks = out.length / QK8_0;
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
    const base = b * QK8_0;
    for (let j = 0; j < QK8_0; j++) out[base + j] = ((bytes[o + 2 + j]! << 24) >> 24) * d;
  }
}

/**
 * ggml Q4_0: blocks of 32 values stored as a binary16 scale `d` followed by 16 bytes; byte j holds value j in its low
 * nibble and value j + 16 in its high nibble, value = (nibble − 8)·d.
 */
export const QK4_0 = 32;
export const Q4_0_BLOCK_BYTES = 2 + QK4_0 / 2;

/** Dequantize whole Q4_0 blocks from `bytes` into `out` (32 values per 18 bytes), as ggml's dequantize_row_q4_0. */
export function dequantizeQ4_0(bytes: Uint8Array, out: Float32Array): void {
  const blocks = out.length / QK4_0;
  for (let b = 0; b < blocks; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
    const base = b * QK4_0;
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 2 + j]!;
      out[base + j] = ((q & 15) - 8) * d;
      out[base + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/**
 * Blocks of 32 in ONNX Runtime MatMulNBits' layout (uint8 values offset by 2^(bits−1); 4-bit ones two to a byte, low
 * nibble first) with one scale each → ggml Q8_0 (8 bits) or Q4_0 (4 bits) bytes. Scales that are binary16 values,
 * as kolm's quantizer makes them, convert exactly.
 */
export function ggmlFromBlocks(bits: 4 | 8, blocks: Uint8Array, scales: Float32Array): Uint8Array {
  const blockBytes = bits === 8 ? Q8_0_BLOCK_BYTES : Q4_0_BLOCK_BYTES;
  const blob = (32 * bits) / 8;
  const out = new Uint8Array(scales.length * blockBytes);
  for (let b = 0; b < scales.length; b++) {
    const o = b * blockBytes;
    const h = f32ToF16Bits(scales[b]!);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    const at = b * blob;
    if (bits === 8) {
      for (let j = 0; j < 32; j++) out[o + 2 + j] = (blocks[at + j]! - 128) & 0xff;
    } else {
      const nibble = (j: number) => (blocks[at + (j >> 1)]! >> ((j & 1) * 4)) & 15;
      for (let j = 0; j < 16; j++) out[o + 2 + j] = nibble(j) | (nibble(j + 16) << 4);
    }
  }
  return out;
}

/** The inverse of `ggmlFromBlocks`: Q8_0 or Q4_0 bytes of `numel` values → MatMulNBits blocks of 32 and scales. */
export function blocksFromGgml(type: 'Q8_0' | 'Q4_0', bytes: Uint8Array, numel: number): { bits: 4 | 8; blocks: Uint8Array; scales: Float32Array } {
  const bits = type === 'Q8_0' ? 8 : 4;
  const blockBytes = bits === 8 ? Q8_0_BLOCK_BYTES : Q4_0_BLOCK_BYTES;
  const count = numel / 32;
  const blob = (32 * bits) / 8;
  const blocks = new Uint8Array(count * blob);
  const scales = new Float32Array(count);
  for (let b = 0; b < count; b++) {
    const o = b * blockBytes;
    scales[b] = f16BitsToF32(bytes[o]! | (bytes[o + 1]! << 8));
    const at = b * blob;
    if (bits === 8) {
      for (let j = 0; j < 32; j++) blocks[at + j] = (((bytes[o + 2 + j]! << 24) >> 24) + 128) & 0xff;
    } else {
      for (let j = 0; j < 16; j++) {
        const q = bytes[o + 2 + j]!;
        const set = (k: number, v: number) => (blocks[at + (k >> 1)] |= v << ((k & 1) * 4));
        set(j, q & 15);
        set(j + 16, q >> 4);
      }
    }
  }
  return { bits, blocks, scales };
}
