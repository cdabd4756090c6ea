import { KolmError } from '../util/errors.js';
import { ndarray, size, type NDArray } from './ndarray.js';
import { opDef } from './registry.js';
import { formatShape } from './shape.js';
import { topoSort, type Tensor } from './tensor.js';

export type Feeds = Record<string, NDArray | { dtype?: NDArray['dtype']; shape: readonly number[]; data: ArrayLike<number> }>;

/**
 * The reference interpreter: evaluates a graph op by op in float64 with plain loops. Slow and obviously right;
 * the oracle that ONNX Runtime's results are checked against.
 */
export function evaluate(outputs: readonly Tensor[], feeds: Feeds): NDArray[] {
  const values = new Map<number, NDArray>();
  const symbols = new Map<string, number>();
  for (const node of topoSort(outputs)) {
    if (node.op === 'input') {
      values.set(node.id, bindInput(node, feeds, symbols));
      continue;
    }
    if (node.op === 'const') {
      values.set(node.id, node.attrs['value'] as NDArray);
      continue;
    }
    const def = opDef(node.op);
    if (!def) throw new KolmError(`interpreter: unknown op '${node.op}' (node ${node} built at ${node.site})`);
    const inputs = node.inputs.map((i) => values.get(i.id)!);
    const outShape = node.shape.map((d) => (typeof d === 'number' ? d : symbols.get(d)!));
    if (outShape.some((d) => d === undefined)) {
      throw new KolmError(`interpreter: unbound symbolic dim in ${formatShape(node.shape)} (node ${node} built at ${node.site})`);
    }
    const out = def.evaluate(inputs, node.attrs, outShape);
    if (size(out.shape) !== size(outShape)) throw new Error(`interpreter: ${node.op} produced ${formatShape(out.shape)}, expected ${formatShape(outShape)}`);
    values.set(node.id, out.shape.every((d, i) => d === outShape[i]) ? out : ndarray(out.dtype, outShape, out.data));
  }
  return outputs.map((t) => values.get(t.id)!);
}

function bindInput(node: Tensor, feeds: Feeds, symbols: Map<string, number>): NDArray {
  const name = node.attrs['name'] as string;
  const fed = feeds[name];
  if (!fed) throw new KolmError(`interpreter: no value fed for input '${name}' ${formatShape(node.shape)}`);
  if (fed.shape.length !== node.rank) {
    throw new KolmError(`interpreter: input '${name}' expects rank ${node.rank} ${formatShape(node.shape)}, got ${formatShape(fed.shape)}`);
  }
  node.shape.forEach((d, i) => {
    const got = fed.shape[i]!;
    if (typeof d === 'number') {
      if (d !== got) throw new KolmError(`interpreter: input '${name}' expects ${formatShape(node.shape)}, got ${formatShape(fed.shape)}`);
    } else if (symbols.has(d) && symbols.get(d) !== got) {
      throw new KolmError(`interpreter: input '${name}' binds '${d}' = ${got}, but it was already ${symbols.get(d)}`);
    } else {
      symbols.set(d, got);
    }
  });
  return ndarray(node.dtype, fed.shape, fed.data);
}
