import { ndarray, size, stridesOf } from '../ndarray.js';
import { defineOp } from '../registry.js';
import { broadcastShapes, formatShape } from '../shape.js';
import { requireFloat, unbroadcast } from './util.js';

defineOp({
  name: 'matmul',
  infer: ([a, b]) => {
    requireFloat(a!, 'left operand');
    requireFloat(b!, 'right operand');
    if (a!.rank < 2 || b!.rank < 2) throw new Error('both operands need rank >= 2 (reshape vectors to matrices)');
    const [m, k] = a!.shape.slice(-2);
    const [k2, n] = b!.shape.slice(-2);
    if (k !== k2) throw new Error(`inner dimensions differ (${k} vs ${k2})`);
    const batch = broadcastShapes(a!.shape.slice(0, -2), b!.shape.slice(0, -2));
    if (!batch) throw new Error(`batch dims ${formatShape(a!.shape.slice(0, -2))} and ${formatShape(b!.shape.slice(0, -2))} do not broadcast`);
    return { shape: [...batch, m!, n!], dtype: a!.dtype };
  },
  evaluate: ([a, b], _attrs, outShape) => {
    const rank = outShape.length;
    const [m, n] = outShape.slice(-2) as [number, number];
    const k = a!.shape[a!.shape.length - 1]!;
    const batchShape = outShape.slice(0, -2);
    const out = ndarray(a!.dtype, outShape);
    const batchStride = (shape: readonly number[]) => {
      const own = stridesOf(shape.slice(0, -2)).map((s) => s * shape[shape.length - 2]! * shape[shape.length - 1]!);
      const lead = batchShape.length - (shape.length - 2);
      return batchShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : own[i - lead]!));
    };
    const sa = batchStride(a!.shape);
    const sb = batchStride(b!.shape);
    const batches = size(batchShape);
    const index = new Array<number>(rank - 2).fill(0);
    for (let bi = 0; bi < batches; bi++) {
      let oa = 0;
      let ob = 0;
      for (let i = 0; i < index.length; i++) {
        oa += index[i]! * sa[i]!;
        ob += index[i]! * sb[i]!;
      }
      const oo = bi * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a!.data[oa + i * k + p]! * b!.data[ob + p * n + j]!;
          out.data[oo + i * n + j] = s;
        }
      }
      for (let axis = index.length - 1; axis >= 0; axis--) {
        if (++index[axis]! < batchShape[axis]!) break;
        index[axis] = 0;
      }
    }
    return out;
  },
  grad: (node, g) => {
    const [a, b] = node.inputs as [typeof node, typeof node];
    return [unbroadcast(g.matmul(b, { transB: true }), a.shape), unbroadcast(a.matmul(g, { transA: true }), b.shape)];
  },
  onnx: (b, _n, ins, out) => b.node('MatMul', ins, [out]),
});
