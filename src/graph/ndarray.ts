/**
 * Concrete tensors. The reference interpreter computes everything in float64 (integers and booleans included, stored
 * exactly as doubles): one storage type keeps the oracle short and makes finite-difference gradient checks precise.
 */
import type { Random } from '../util/random.js';

/** `uint8`: packed quantized weights (MatMulNBits blobs and zero points), never computed on directly. */
export type DType = 'float32' | 'int64' | 'bool' | 'uint8';

export interface NDArray {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function ndarray(dtype: DType, shape: readonly number[], data?: ArrayLike<number> | Iterable<number>): NDArray {
  const n = size(shape);
  const values = data === undefined ? new Float64Array(n) : Float64Array.from(data as ArrayLike<number>);
  if (values.length !== n) throw new Error(`ndarray: ${values.length} values for shape [${shape.join(', ')}] (${n} expected)`);
  return { dtype, shape: [...shape], data: values };
}

export function scalar(value: number, dtype: DType = 'float32'): NDArray {
  return ndarray(dtype, [], [value]);
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Standard normal samples via Box–Muller from a seeded uniform source (util/random's `rng`). */
export function randn(shape: readonly number[], random: Random, std = 1): NDArray {
  const n = size(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(random(), 1e-300);
    const v = random();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return { dtype: 'float32', shape: [...shape], data: out };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
