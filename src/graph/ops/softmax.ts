import { ndarray, stridesOf } from '../ndarray.js';
import { defineOp, type Attrs } from '../registry.js';
import { normalizeAxis } from '../shape.js';
import type { NDArray } from '../ndarray.js';
import type { Tensor } from '../tensor.js';
import { requireFloat } from './util.js';

/** Numerically stable (log-)softmax along one axis, in float64. */
function softmaxAlong(x: NDArray, attrs: Attrs, log: boolean): NDArray {
  const axis = normalizeAxis(attrs['axis'] as number, x.shape.length);
  const n = x.shape[axis]!;
  const stride = stridesOf(x.shape)[axis]!;
  const out = ndarray(x.dtype, x.shape);
  const outer = x.data.length / n;
  for (let r = 0; r < outer; r++) {
    const base = Math.floor(r / stride) * stride * n + (r % stride);
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, x.data[base + i * stride]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(x.data[base + i * stride]! - max);
    const logSum = Math.log(sum) + max;
    for (let i = 0; i < n; i++) {
      const v = x.data[base + i * stride]! - logSum;
      out.data[base + i * stride] = log ? v : Math.exp(v);
    }
  }
  return out;
}

const inferSame = ([x]: readonly Tensor[], attrs: Attrs) => {
  requireFloat(x!);
  normalizeAxis(attrs['axis'] as number, x!.rank);
  return { shape: [...x!.shape], dtype: x!.dtype };
};

defineOp({
  name: 'softmax',
  infer: inferSame,
  evaluate: ([x], attrs) => softmaxAlong(x!, attrs, false),
  // dx = y * (g - sum(g * y))
  grad: (y, g) => {
    const axis = y.attrs['axis'] as number;
    return [y.mul(g.sub(g.mul(y).sum(axis, true)))];
  },
  onnx: (b, node, ins, out) => b.node('Softmax', ins, [out], { axis: normalizeAxis(node.attrs['axis'] as number, node.rank) }),
});

defineOp({
  name: 'logSoftmax',
  infer: inferSame,
  evaluate: ([x], attrs) => softmaxAlong(x!, attrs, true),
  // dx = g - softmax(x) * sum(g)
  grad: (y, g) => {
    const axis = y.attrs['axis'] as number;
    return [g.sub(y.exp().mul(g.sum(axis, true)))];
  },
  onnx: (b, node, ins, out) => b.node('LogSoftmax', ins, [out], { axis: normalizeAxis(node.attrs['axis'] as number, node.rank) }),
});
