import { ndarray, size, stridesOf, type NDArray } from '../ndarray.js';
import { defineOp } from '../registry.js';
import { broadcastShapes, formatShape, normalizeAxis, type Dim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastMap, forEachIndex, sliceAlong, unbroadcast } from './util.js';

/** Resolve a reshape target: at most one -1; symbolic dims must carry over unchanged (same name, same count). */
function resolveReshape(from: readonly Dim[], target: readonly Dim[]): Dim[] {
  const numeric = (s: readonly Dim[]) => s.reduce<number>((n, d) => (typeof d === 'number' && d !== -1 ? n * d : n), 1);
  const symbols = (s: readonly Dim[]) => s.filter((d): d is string => typeof d === 'string').sort().join(',');
  if (symbols(from) !== symbols(target)) throw new Error(`symbolic dims must carry over unchanged: ${formatShape(from)} -> ${formatShape(target)}`);
  const holes = target.filter((d) => d === -1).length;
  if (holes > 1) throw new Error(`at most one -1 allowed in ${formatShape(target)}`);
  const have = numeric(from);
  const want = numeric(target);
  if (holes === 1) {
    if (want === 0 || have % want !== 0) throw new Error(`cannot infer -1 in ${formatShape(target)} from ${formatShape(from)}`);
    return target.map((d) => (d === -1 ? have / want : d));
  }
  if (have !== want) throw new Error(`cannot reshape ${formatShape(from)} (${have} elements) to ${formatShape(target)} (${want})`);
  return [...target];
}

defineOp({
  name: 'reshape',
  infer: ([x], attrs) => ({ shape: resolveReshape(x!.shape, attrs['shape'] as Dim[]), dtype: x!.dtype }),
  evaluate: ([x], _a, shape) => ndarray(x!.dtype, shape, x!.data),
  grad: (node, g) => [g.reshape(node.inputs[0]!.shape)],
  onnx: (b, node, [x], out) => {
    const from = node.inputs[0]!.shape;
    // ONNX Reshape copies a dim given as 0 from the same input axis: symbolic dims that stay put cost nothing.
    if (node.shape.every((d, i) => typeof d === 'number' || from[i] === d)) {
      b.node('Reshape', [x!, b.int64s(node.shape.map((d) => (typeof d === 'number' ? d : 0)))], [out]);
      return;
    }
    // One symbolic dim that moves can be left for ONNX to infer (-1) while the others are copied (0).
    const moved = node.shape.filter((d, i) => typeof d !== 'number' && from[i] !== d);
    if (moved.length === 1) {
      b.node('Reshape', [x!, b.int64s(node.shape.map((d, i) => (typeof d === 'number' ? d : from[i] === d ? 0 : -1)))], [out]);
      return;
    }
    // Several symbolic dims move: assemble the target shape at run time from the input's shape.
    const shape = b.tmp('shape');
    b.node('Shape', [x!], [shape]);
    const pieces = node.shape.map((d) => {
      if (typeof d === 'number') return b.int64s([d]);
      const piece = b.tmp('dim');
      b.node('Gather', [shape, b.int64s([from.indexOf(d)])], [piece], { axis: 0 });
      return piece;
    });
    const target = b.tmp('target');
    b.node('Concat', pieces, [target], { axis: 0 });
    b.node('Reshape', [x!, target], [out]);
  },
});

defineOp({
  name: 'transpose',
  infer: ([x], attrs) => {
    const perm = attrs['perm'] as number[];
    const sorted = [...perm].sort((a, b) => a - b);
    if (perm.length !== x!.rank || sorted.some((p, i) => p !== i)) throw new Error(`perm [${perm}] is not a permutation of rank ${x!.rank}`);
    return { shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
  },
  evaluate: ([x], attrs, shape) => {
    const perm = attrs['perm'] as number[];
    const inStrides = stridesOf(x!.shape);
    const out = ndarray(x!.dtype, shape);
    forEachIndex(shape, (index, flat) => {
      let o = 0;
      for (let i = 0; i < perm.length; i++) o += index[i]! * inStrides[perm[i]!]!;
      out.data[flat] = x!.data[o]!;
    });
    return out;
  },
  grad: (node, g) => {
    const perm = node.attrs['perm'] as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(inverse)];
  },
  onnx: (b, node, ins, out) => b.node('Transpose', ins, [out], { perm: node.attrs['perm'] as number[] }),
});

defineOp({
  name: 'expand',
  infer: ([x], attrs) => {
    const target = attrs['shape'] as Dim[];
    const shape = broadcastShapes(x!.shape, target);
    if (!shape || shape.length !== target.length || shape.some((d, i) => d !== target[i])) {
      throw new Error(`cannot expand ${formatShape(x!.shape)} to ${formatShape(target)}`);
    }
    return { shape, dtype: x!.dtype };
  },
  evaluate: ([x], _a, shape) => broadcastMap([x!], shape, x!.dtype, (v) => v),
  grad: (node, g) => [unbroadcast(g, node.inputs[0]!.shape)],
  onnx: (b, node, [x], out) => {
    // Expand broadcasts, so a 1 keeps a (possibly symbolic) input dim as it is.
    const from = node.inputs[0]!.shape;
    const lead = node.rank - from.length;
    const target = node.shape.map((d, i) => {
      if (typeof d === 'number') return d;
      if (from[i - lead] === d) return 1;
      throw new Error(`expand to symbolic dim '${d}' is not exportable`);
    });
    b.node('Expand', [x!, b.int64s(target)], [out]);
  },
});

function sliceBounds(node: { attrs: Record<string, unknown> }, shape: readonly Dim[]): { axis: number; start: number; end: number } {
  const axis = normalizeAxis(node.attrs['axis'] as number, shape.length);
  let dim = shape[axis]!;
  if (typeof dim !== 'number') {
    // A symbolic axis can still be sliced from the end: the last k elements have a static size.
    const start = node.attrs['start'] as number;
    if (!(start < 0 && (node.attrs['end'] as number) >= Number.MAX_SAFE_INTEGER)) {
      throw new Error(`slicing symbolic axis '${dim}' is only supported as slice(axis, -k, Infinity)`);
    }
    dim = -start;
  }
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
  const start = clamp(node.attrs['start'] as number);
  const end = Math.max(clamp(node.attrs['end'] as number), start);
  return { axis, start, end };
}

defineOp({
  name: 'slice',
  infer: ([x], attrs) => {
    const { axis, start, end } = sliceBounds({ attrs }, x!.shape);
    const shape = [...x!.shape];
    shape[axis] = end - start;
    return { shape, dtype: x!.dtype };
  },
  evaluate: ([x], attrs, shape) => {
    const { axis, start } = sliceBounds({ attrs }, x!.shape);
    return sliceAlong(x!, axis, start, shape);
  },
  grad: (node, g) => {
    const x = node.inputs[0]!;
    const { axis, start, end } = sliceBounds(node, x.shape);
    return [g.graph.apply('pad', [g], { axis, before: start, after: (x.shape[axis] as number) - end })];
  },
  onnx: (b, node, [x], out) => {
    const shape = node.inputs[0]!.shape;
    const axis = normalizeAxis(node.attrs['axis'] as number, shape.length);
    const { start, end } = typeof shape[axis] === 'number' ? sliceBounds(node, shape) : { start: node.attrs['start'] as number, end: Number.MAX_SAFE_INTEGER };
    b.node('Slice', [x!, b.int64s([start]), b.int64s([end]), b.int64s([axis])], [out]);
  },
});

/** Zero padding along one axis: the gradient of slice. */
defineOp({
  name: 'pad',
  infer: ([x], attrs) => {
    const axis = normalizeAxis(attrs['axis'] as number, x!.shape.length);
    const dim = x!.shape[axis]!;
    if (typeof dim !== 'number') throw new Error(`padding symbolic axis '${dim}' is not supported`);
    const shape = [...x!.shape];
    shape[axis] = dim + (attrs['before'] as number) + (attrs['after'] as number);
    return { shape, dtype: x!.dtype };
  },
  evaluate: ([x], attrs, shape) => {
    const axis = normalizeAxis(attrs['axis'] as number, x!.shape.length);
    const before = attrs['before'] as number;
    const outStrides = stridesOf(shape);
    const out = ndarray(x!.dtype, shape);
    forEachIndex(x!.shape, (index, flat) => {
      let o = before * outStrides[axis]!;
      for (let i = 0; i < index.length; i++) o += index[i]! * outStrides[i]!;
      out.data[o] = x!.data[flat]!;
    });
    return out;
  },
  grad: (node, g) => {
    const axis = node.attrs['axis'] as number;
    const before = node.attrs['before'] as number;
    return [g.slice(axis, before, before + (node.inputs[0]!.shape[normalizeAxis(axis, g.rank)] as number))];
  },
  onnx: (b, node, [x], out) => {
    const rank = node.rank;
    const axis = normalizeAxis(node.attrs['axis'] as number, rank);
    const pads = new Array<number>(2 * rank).fill(0);
    pads[axis] = node.attrs['before'] as number;
    pads[rank + axis] = node.attrs['after'] as number;
    b.node('Pad', [x!, b.int64s(pads)], [out]);
  },
});

defineOp({
  name: 'concat',
  infer: (inputs, attrs) => {
    if (inputs.length === 0) throw new Error('needs at least one input');
    const first = inputs[0]!;
    const axis = normalizeAxis(attrs['axis'] as number, first.rank);
    let total = 0;
    for (const t of inputs) {
      if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new Error(`inputs must agree except along axis ${axis}: ${inputs.map((x) => formatShape(x.shape)).join(' vs ')}`);
      }
      const d = t.shape[axis]!;
      if (typeof d !== 'number') throw new Error(`concat along symbolic axis '${d}' is not supported`);
      total += d;
    }
    const shape = [...first.shape];
    shape[axis] = total;
    return { shape, dtype: first.dtype };
  },
  evaluate: (inputs, attrs, shape) => concatValues(inputs, normalizeAxis(attrs['axis'] as number, shape.length), shape),
  grad: (node, g) => {
    const axis = normalizeAxis(node.attrs['axis'] as number, node.rank);
    let offset = 0;
    return node.inputs.map((x) => {
      const d = x.shape[axis] as number;
      const piece = g.slice(axis, offset, offset + d);
      offset += d;
      return piece;
    });
  },
  onnx: (b, node, ins, out) => b.node('Concat', ins, [out], { axis: normalizeAxis(node.attrs['axis'] as number, node.rank) }),
});

function requireIndices(t: Tensor): void {
  if (t.dtype !== 'int64') throw new Error(`indices must be int64, got ${t.dtype}`);
}

function checkIndex(i: number, dim: number, op: string): number {
  const j = i < 0 ? i + dim : i;
  if (!(j >= 0 && j < dim)) throw new RangeError(`${op}: index ${i} out of range for dimension ${dim}`);
  return j;
}

/** Embedding lookup: rows of `table` (axis 0) at `indices`. */
defineOp({
  name: 'gather',
  infer: ([table, idx]) => {
    requireIndices(idx!);
    if (table!.rank < 1) throw new Error('table must have rank >= 1');
    return { shape: [...idx!.shape, ...table!.shape.slice(1)], dtype: table!.dtype };
  },
  evaluate: ([table, idx], _a, shape) => {
    const row = size(table!.shape.slice(1));
    const out = ndarray(table!.dtype, shape);
    idx!.data.forEach((i, k) => {
      const r = checkIndex(i, table!.shape[0]!, 'gather');
      out.data.set(table!.data.subarray(r * row, (r + 1) * row), k * row);
    });
    return out;
  },
  grad: (node, g) => {
    const [table, idx] = node.inputs as [Tensor, Tensor];
    return [g.graph.apply('scatterAddRows', [table, idx, g]), null];
  },
  onnx: (b, _n, ins, out) => b.node('Gather', ins, [out], { axis: 0 }),
});

/** Zeros shaped like `like` with `updates` rows added at `indices` (duplicates accumulate): gather's gradient. */
defineOp({
  name: 'scatterAddRows',
  infer: ([like, idx, upd]) => {
    requireIndices(idx!);
    const expected = [...idx!.shape, ...like!.shape.slice(1)];
    if (upd!.shape.length !== expected.length || upd!.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`updates ${formatShape(upd!.shape)} must have shape ${formatShape(expected)}`);
    }
    return { shape: [...like!.shape], dtype: upd!.dtype };
  },
  evaluate: ([like, idx, upd], _a, shape) => {
    const row = size(like!.shape.slice(1));
    const out = ndarray(upd!.dtype, shape);
    idx!.data.forEach((i, k) => {
      const r = checkIndex(i, like!.shape[0]!, 'scatterAddRows');
      for (let c = 0; c < row; c++) out.data[r * row + c]! += upd!.data[k * row + c]!;
    });
    return out;
  },
  grad: (node, g) => [null, null, g.gather(node.inputs[1]!)],
  onnx: (b, _n, [like, idx, upd], out) => {
    const zeros = b.zerosLike(like!);
    const idxCol = b.tmp('idx');
    b.node('Unsqueeze', [idx!, b.int64s([-1])], [idxCol]);
    b.node('ScatterND', [zeros, idxCol, upd!], [out], { reduction: 'add' });
  },
});

defineOp({
  name: 'gatherElements',
  infer: ([x, idx], attrs) => {
    requireIndices(idx!);
    const axis = normalizeAxis(attrs['axis'] as number, x!.shape.length);
    if (idx!.rank !== x!.rank || idx!.shape.some((d, i) => i !== axis && d !== x!.shape[i])) {
      throw new Error(`indices ${formatShape(idx!.shape)} must match data ${formatShape(x!.shape)} except along axis ${axis}`);
    }
    return { shape: [...idx!.shape], dtype: x!.dtype };
  },
  evaluate: ([x, idx], attrs, shape) => {
    const axis = normalizeAxis(attrs['axis'] as number, x!.shape.length);
    const strides = stridesOf(x!.shape);
    const out = ndarray(x!.dtype, shape);
    forEachIndex(shape, (index, flat) => {
      let o = 0;
      for (let i = 0; i < index.length; i++) {
        o += (i === axis ? checkIndex(idx!.data[flat]!, x!.shape[axis]!, 'gatherElements') : index[i]!) * strides[i]!;
      }
      out.data[flat] = x!.data[o]!;
    });
    return out;
  },
  grad: (node, g) => {
    const [x, idx] = node.inputs as [Tensor, Tensor];
    return [g.graph.apply('scatterAddElements', [x, idx, g], { axis: node.attrs['axis'] }), null];
  },
  onnx: (b, node, ins, out) => b.node('GatherElements', ins, [out], { axis: normalizeAxis(node.attrs['axis'] as number, node.rank) }),
});

/** Zeros shaped like `like` with `updates` added at `indices` along `axis`: gatherElements' gradient. */
defineOp({
  name: 'scatterAddElements',
  infer: ([like, idx, upd], attrs) => {
    requireIndices(idx!);
    normalizeAxis(attrs['axis'] as number, like!.shape.length);
    if (upd!.shape.length !== idx!.shape.length || upd!.shape.some((d, i) => d !== idx!.shape[i])) {
      throw new Error(`updates ${formatShape(upd!.shape)} must match indices ${formatShape(idx!.shape)}`);
    }
    return { shape: [...like!.shape], dtype: upd!.dtype };
  },
  evaluate: ([like, idx, upd], attrs, shape) => {
    const axis = normalizeAxis(attrs['axis'] as number, like!.shape.length);
    const strides = stridesOf(shape);
    const out = ndarray(upd!.dtype, shape);
    forEachIndex(idx!.shape, (index, flat) => {
      let o = 0;
      for (let i = 0; i < index.length; i++) {
        o += (i === axis ? checkIndex(idx!.data[flat]!, shape[axis]!, 'scatterAddElements') : index[i]!) * strides[i]!;
      }
      out.data[o]! += upd!.data[flat]!;
    });
    return out;
  },
  grad: (node, g) => [null, null, g.gatherElements(node.inputs[1]!, node.attrs['axis'] as number)],
  onnx: (b, node, [like, idx, upd], out) => {
    b.node('ScatterElements', [b.zerosLike(like!), idx!, upd!], [out], {
      axis: normalizeAxis(node.attrs['axis'] as number, node.rank),
      reduction: 'add',
    });
  },
});

/** Inputs laid one after another along `axis` into an array of `shape`. */
export function concatValues(inputs: readonly NDArray[], axis: number, shape: readonly number[]): NDArray {
  const outStrides = stridesOf(shape);
  const out = ndarray(inputs[0]!.dtype, shape);
  let offset = 0;
  for (const x of inputs) {
    forEachIndex(x.shape, (index, flat) => {
      let o = offset * outStrides[axis]!;
      for (let i = 0; i < index.length; i++) o += index[i]! * outStrides[i]!;
      out.data[o] = x.data[flat]!;
    });
    offset += x.shape[axis]!;
  }
  return out;
}
