import { ndarray, size, stridesOf, type DType, type NDArray } from '../ndarray.js';
import { broadcastAxes, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';

/** Evaluate `fn` elementwise over inputs broadcast to `outShape` (reference semantics, not speed). */
export function broadcastMap(
  inputs: readonly NDArray[],
  outShape: readonly number[],
  dtype: DType,
  fn: (...xs: number[]) => number,
): NDArray {
  const rank = outShape.length;
  const n = size(outShape);
  const out = ndarray(dtype, outShape);
  const inStrides = inputs.map((x) => {
    const own = stridesOf(x.shape);
    const lead = rank - x.shape.length;
    return outShape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : own[i - lead]!));
  });
  const index = new Array<number>(rank).fill(0);
  const offsets = new Array<number>(inputs.length).fill(0);
  const args = new Array<number>(inputs.length);
  for (let flat = 0; flat < n; flat++) {
    for (let k = 0; k < inputs.length; k++) args[k] = inputs[k]!.data[offsets[k]!]!;
    out.data[flat] = fn(...args);
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      for (let k = 0; k < inputs.length; k++) offsets[k]! += inStrides[k]![axis]!;
      if (index[axis]! < outShape[axis]!) break;
      for (let k = 0; k < inputs.length; k++) offsets[k]! -= inStrides[k]![axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
  return out;
}

/** Sum a gradient over the axes along which an operand of shape `shape` was broadcast. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  const axes = broadcastAxes(shape, g.shape);
  if (axes.length === 0) return g;
  const summed = g.sum(axes, true);
  return summed.rank === shape.length ? summed : summed.reshape(shape);
}

/** Iterate every index of `shape`, calling fn with the multi-index (shared array; copy if kept). */
export function forEachIndex(shape: readonly number[], fn: (index: number[], flat: number) => void): void {
  const n = size(shape);
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    fn(index, flat);
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      if (++index[axis]! < shape[axis]!) break;
      index[axis] = 0;
    }
  }
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32';
}

export function requireFloat(t: Tensor, what = 'input'): void {
  if (!isFloat(t.dtype)) throw new Error(`${what} must be float32, got ${t.dtype}`);
}

/** The elements of `x` from `start` along `axis` that fill `shape` (the reference evaluation of slices). */
export function sliceAlong(x: NDArray, axis: number, start: number, shape: readonly number[]): NDArray {
  const inStrides = stridesOf(x.shape);
  const out = ndarray(x.dtype, shape);
  forEachIndex(shape, (index, flat) => {
    let o = start * inStrides[axis]!;
    for (let i = 0; i < index.length; i++) o += index[i]! * inStrides[i]!;
    out.data[flat] = x.data[o]!;
  });
  return out;
}
