import { ndarray, stridesOf } from '../ndarray.js';
import { defineOp, type Attrs } from '../registry.js';
import { normalizeAxis, type Dim } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { forEachIndex, requireFloat } from './util.js';

function axesOf(attrs: Attrs, rank: number): number[] {
  const axes = [...new Set((attrs['axes'] as number[]).map((a) => normalizeAxis(a, rank)))];
  return axes.sort((x, y) => x - y);
}

function reducedShape(shape: readonly Dim[], axes: number[], keepdim: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

/** The gradient of a reduction, broadcast back over the reduced axes. */
function spread(node: Tensor, g: Tensor): Tensor {
  const x = node.inputs[0]!;
  const axes = axesOf(node.attrs, x.rank);
  const kept = node.attrs['keepdim'] ? g : g.reshape(reducedShape(x.shape, axes, true));
  return kept.expand(x.shape);
}

function reduction(
  name: string,
  onnxOp: string,
  init: number,
  step: (acc: number, v: number) => number,
  finish: (acc: number, count: number) => number,
  grad: (node: Tensor, g: Tensor) => Tensor,
): void {
  defineOp({
    name,
    infer: ([x], attrs) => {
      requireFloat(x!);
      return { shape: reducedShape(x!.shape, axesOf(attrs, x!.shape.length), Boolean(attrs['keepdim'])), dtype: x!.dtype };
    },
    evaluate: ([x], attrs) => {
      const axes = axesOf(attrs, x!.shape.length);
      const keptShape = x!.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const outStrides = stridesOf(keptShape);
      const acc = new Float64Array(keptShape.reduce((a, b) => a * b, 1)).fill(init);
      forEachIndex(x!.shape, (index, flat) => {
        let o = 0;
        for (let i = 0; i < index.length; i++) if (!axes.includes(i)) o += index[i]! * outStrides[i]!;
        acc[o] = step(acc[o]!, x!.data[flat]!);
      });
      const count = axes.reduce((n, a) => n * x!.shape[a]!, 1);
      const outShape = reducedShape(x!.shape, axes, Boolean(attrs['keepdim'])) as number[];
      return ndarray(x!.dtype, outShape, acc.map((v) => finish(v, count)));
    },
    grad: (node, g) => [grad(node, g)],
    onnx: (b, node, [x], out) => {
      const axes = axesOf(node.attrs, node.inputs[0]!.rank);
      if (axes.length === 0) return b.node('Identity', [x!], [out]);
      b.node(onnxOp, [x!, b.int64s(axes)], [out], { keepdims: node.attrs['keepdim'] ? 1 : 0 });
    },
  });
}

reduction('reduceSum', 'ReduceSum', 0, (a, v) => a + v, (a) => a, spread);
reduction('reduceMean', 'ReduceMean', 0, (a, v) => a + v, (a, n) => a / n, (node, g) => {
  const x = node.inputs[0]!;
  const count = axesOf(node.attrs, x.rank).reduce<number>((n, a) => {
    const d = x.shape[a]!;
    if (typeof d !== 'number') throw new Error(`reduceMean gradient over symbolic axis '${d}' is not supported`);
    return n * d;
  }, 1);
  return spread(node, g).div(count);
});
reduction('reduceMax', 'ReduceMax', -Infinity, Math.max, (a) => a, (node, g) => {
  const x = node.inputs[0]!;
  const keptMax = node.attrs['keepdim'] ? node : node.reshape(reducedShape(x.shape, axesOf(node.attrs, x.rank), true));
  // Every element equal to the maximum receives the gradient (ties are measure-zero for real data).
  return spread(node, g).mul(x.eq(keptMax).cast('float32'));
});
