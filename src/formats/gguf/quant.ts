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
