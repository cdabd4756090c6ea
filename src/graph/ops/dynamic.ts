/**
 * Ops over run-time lengths, for graphs whose sequence and cache lengths are symbolic (an exported decoder that takes
 * `past_key_values` of any length): `arange` (0..n-1 along a tensor's axis), `dimSize` (that length as an int64
 * scalar), `concatDynamic` (concatenation along an axis whose length is only known at run time, declared equal to
 * another tensor's) and `sliceDynamic` (a slice of such an axis whose length is declared the same way).
 */
import { ndarray, type NDArray } from '../ndarray.js';
import { defineOp } from '../registry.js';
import { formatShape, normalizeAxis, type Dim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import type { OnnxBuilder } from '../onnx/builder.js';
import { sliceAlong } from './util.js';
import { concatValues } from './layout.js';

/** ONNX: the length of `input`'s axis as a 0-d int64 tensor (Shape → Gather with a scalar index). */
function lengthOf(b: OnnxBuilder, input: string, axis: number, output?: string): string {
  const shape = b.tmp('shape');
  b.node('Shape', [input], [shape]);
  const index = b.initializer(b.tmp('axis'), ndarray('int64', [], [axis]));
  const out = output ?? b.tmp('len');
  b.node('Gather', [shape, index], [out], { axis: 0 });
  return out;
}

const noGradient = (node: Tensor) => node.inputs.map(() => null);

/** int64 [n] = 0, 1, …, n-1 where n = like.shape[axis] (static or symbolic); no gradient. */
defineOp({
  name: 'arange',
  infer: ([like], attrs) => {
    const axis = normalizeAxis(attrs['axis'] as number, like!.rank);
    return { shape: [like!.shape[axis]!], dtype: 'int64' };
  },
  evaluate: ([like], attrs) => {
    const n = like!.shape[normalizeAxis(attrs['axis'] as number, like!.shape.length)]!;
    return ndarray('int64', [n], Array.from({ length: n }, (_, i) => i));
  },
  grad: noGradient,
  onnx: (b, node, [like], out) => {
    const axis = normalizeAxis(node.attrs['axis'] as number, node.inputs[0]!.rank);
    const zero = b.initializer(b.tmp('zero'), ndarray('int64', [], [0]));
    const one = b.initializer(b.tmp('one'), ndarray('int64', [], [1]));
    b.node('Range', [zero, lengthOf(b, like!, axis), one], [out]);
  },
});

/** int64 scalar: the length of like's axis at run time; no gradient. */
defineOp({
  name: 'dimSize',
  infer: ([like], attrs) => {
    normalizeAxis(attrs['axis'] as number, like!.rank);
    return { shape: [], dtype: 'int64' };
  },
  evaluate: ([like], attrs) => ndarray('int64', [], [like!.shape[normalizeAxis(attrs['axis'] as number, like!.shape.length)]!]),
  grad: noGradient,
  onnx: (b, node, [like], out) => {
    lengthOf(b, like!, normalizeAxis(node.attrs['axis'] as number, node.inputs[0]!.rank), out);
  },
});

/**
 * Concatenation along an axis where at least one input's length is symbolic (a KV cache of any length followed by
 * the new tokens). The output's length along the axis is declared by the last input, `like`, at `likeAxis` (e.g. the
 * attention mask, whose length is past + new): the result carries that symbolic dim, so it broadcasts against
 * tensors built from `like`, and evaluation checks the lengths really agree. `like` only lends its length; the ONNX
 * lowering concatenates the other inputs. Inference only: it defines no gradient (that would need run-time slice
 * offsets), so `grad` through it fails with an error naming the op and the line that built it.
 */
defineOp({
  name: 'concatDynamic',
  infer: (all, attrs) => {
    const inputs = all.slice(0, -1);
    const like = all[all.length - 1];
    if (!like || inputs.length < 2) throw new Error('needs at least two inputs and a tensor that gives the output length');
    const first = inputs[0]!;
    const axis = normalizeAxis(attrs['axis'] as number, first.rank);
    const likeAxis = normalizeAxis(attrs['likeAxis'] as number, like.rank);
    for (const t of inputs) {
      if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new Error(`inputs must agree except along axis ${axis}: ${inputs.map((x) => `${formatShape(x.shape)}:${x.dtype}`).join(' vs ')}`);
      }
    }
    if (inputs.every((t) => typeof t.shape[axis] === 'number')) {
      throw new Error(`every input has a static length along axis ${axis}; use concat`);
    }
    const shape: Dim[] = [...first.shape];
    shape[axis] = like.shape[likeAxis]!;
    return { shape, dtype: first.dtype };
  },
  evaluate: (all, attrs, shape) => checkedConcat(all.slice(0, -1), normalizeAxis(attrs['axis'] as number, shape.length), shape),
  onnx: (b, node, ins, out) => b.node('Concat', ins.slice(0, -1), [out], { axis: normalizeAxis(node.attrs['axis'] as number, node.rank) }),
});

function checkedConcat(inputs: readonly NDArray[], axis: number, shape: readonly number[]): NDArray {
  const total = inputs.reduce((n, x) => n + x.shape[axis]!, 0);
  if (total !== shape[axis]) {
    throw new Error(`concatDynamic: inputs add up to ${total} along axis ${axis}, but the length they should match is ${shape[axis]}`);
  }
  return concatValues(inputs, axis, shape);
}

/**
 * Elements [start, end) along an axis of run-time length (negative bounds count from the end; `end` Infinity = to
 * the end), whose count is declared equal to the last input `like` at `likeAxis` (e.g. all but the last of a cache's
 * C + 1 attention scores: `like` is the cache, whose length is C). Evaluation checks the counts really agree.
 * Inference only: no gradient.
 */
defineOp({
  name: 'sliceDynamic',
  infer: ([x, like], attrs) => {
    const axis = normalizeAxis(attrs['axis'] as number, x!.rank);
    const likeAxis = normalizeAxis(attrs['likeAxis'] as number, like!.rank);
    for (const k of ['start', 'end']) {
      const v = attrs[k] as number;
      if (!Number.isInteger(v) && v !== Infinity) throw new Error(`${k} must be an integer or Infinity, got ${v}`);
    }
    const shape: Dim[] = [...x!.shape];
    shape[axis] = like!.shape[likeAxis]!;
    return { shape, dtype: x!.dtype };
  },
  evaluate: ([x], attrs, shape) => {
    const axis = normalizeAxis(attrs['axis'] as number, x!.shape.length);
    const n = x!.shape[axis]!;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const start = clamp(attrs['start'] as number);
    const count = Math.max(clamp(attrs['end'] as number) - start, 0);
    if (count !== shape[axis]) {
      throw new Error(`sliceDynamic: [${attrs['start']}, ${attrs['end']}) of length ${n} along axis ${axis} has ${count} elements, but the length it should match is ${shape[axis]}`);
    }
    return sliceAlong(x!, axis, start, shape);
  },
  onnx: (b, node, [x], out) => {
    const axis = normalizeAxis(node.attrs['axis'] as number, node.rank);
    const end = node.attrs['end'] as number;
    b.node('Slice', [x!, b.int64s([node.attrs['start'] as number]), b.int64s([end === Infinity ? Number.MAX_SAFE_INTEGER : end]), b.int64s([axis])], [out]);
  },
});

/** 0..n-1 along `x`'s axis (int64 [n]). */
export function arange(x: Tensor, axis: number): Tensor {
  return x.graph.apply('arange', [x], { axis });
}

/** `x`'s run-time length along `axis` as an int64 scalar. */
export function dimSize(x: Tensor, axis: number): Tensor {
  return x.graph.apply('dimSize', [x], { axis });
}

/**
 * Concatenate along an axis of run-time length; the result's length along it is that of `length.like` at
 * `length.axis` (the same symbolic dim, checked when evaluated).
 */
export function concatDynamic(tensors: readonly Tensor[], axis: number, length: { like: Tensor; axis: number }): Tensor {
  return length.like.graph.apply('concatDynamic', [...tensors, length.like], { axis, likeAxis: length.axis });
}

/**
 * `x[start:end]` along an axis of run-time length; the result's length along it is that of `length.like` at
 * `length.axis` (the same symbolic dim, checked when evaluated).
 */
export function sliceDynamic(x: Tensor, axis: number, start: number, end: number, length: { like: Tensor; axis: number }): Tensor {
  return x.graph.apply('sliceDynamic', [x, length.like], { axis, start, end, likeAxis: length.axis });
}
