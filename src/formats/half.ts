/**
 * IEEE 754 binary16 (F16) and bfloat16 (BF16) conversions, shared by safetensors and GGUF.
 * Node 20 has no Float16Array, so conversions go through the float32 bit pattern.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * float32 → binary16 bits with round-to-nearest, ties-to-even (the IEEE default and what numpy/torch do), including
 * subnormal results, overflow to ±inf, and NaN kept NaN (quiet bit set so a payload can never truncate to inf).
 */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // binary16 biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal (or zero) result. Below 2^-25 everything rounds to zero; exactly 2^-25 is a tie that goes to even 0.
    if (e < -10) return sign;
    mant |= 0x800000; // make the implicit leading bit explicit
    const shift = 14 - e; // 24-bit significand → units of 2^-24
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++; // may carry into the smallest normal: correct
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may round up to inf: correct
  return sign | half;
}

/** binary16 bits → value (exact: every binary16 value is representable in float32). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

let f16Table: Float32Array | undefined;
/** All 65536 binary16 values decoded once (256 KiB), so bulk decoding is one lookup per element. */
function table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** Decode `out.length` little-endian binary16 values from `bytes` (byte length 2 × out.length) into `out`. */
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  const t = table();
  for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = t[bytes[j]! | (bytes[j + 1]! << 8)]!;
}

/** Decode little-endian bfloat16 values: bf16 is the top half of a float32, so this is a shift. */
export function decodeBF16(bytes: Uint8Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  if (hostLittleEndian) {
    for (let i = 0, j = 0; i < out.length; i++, j += 2) bits[i] = ((bytes[j]! | (bytes[j + 1]! << 8)) << 16) >>> 0;
  } else {
    for (let i = 0, j = 0; i < out.length; i++, j += 2) out[i] = bf16BitsToF32(bytes[j]! | (bytes[j + 1]! << 8));
  }
}

function bf16BitsToF32(h: number): number {
  u32[0] = (h << 16) >>> 0;
  return f32[0]!;
}

/** Encode values as little-endian binary16 into `out` (byte length 2 × values.length). */
export function encodeF16(values: Float32Array, out: Uint8Array): void {
  for (let i = 0, j = 0; i < values.length; i++, j += 2) {
    const h = f32ToF16Bits(values[i]!);
    out[j] = h & 0xff;
    out[j + 1] = h >>> 8;
  }
}

/** Encode values as little-endian bfloat16 (round to nearest even; NaN stays NaN) into `out` (2 × values.length). */
export function encodeBF16(values: Float32Array, out: Uint8Array): void {
  for (let i = 0, j = 0; i < values.length; i++, j += 2) {
    f32[0] = values[i]!;
    const bits = u32[0]!;
    const h = Number.isNaN(values[i]!) ? (bits >>> 16) | 0x40 : ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
    out[j] = h & 0xff;
    out[j + 1] = h >>> 8;
  }
}

/** Decode little-endian float32 bytes (any alignment) into `out`. */
export function decodeF32(bytes: Uint8Array, out: Float32Array): void {
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes.subarray(0, out.byteLength));
  if (!hostLittleEndian) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, out.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(4 * i, true);
  }
}

/** Files store little-endian; typed arrays use host order, so on (rare) big-endian hosts we go through DataView. */
export const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Little-endian float32 bytes of `values` — a view without copying on little-endian hosts. */
export function f32Bytes(values: Float32Array): Uint8Array {
  if (hostLittleEndian) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(4 * i, values[i]!, true);
  return out;
}
