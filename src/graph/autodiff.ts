import { GraphError, topoSort, type Tensor } from './tensor.js';
import { opDef } from './registry.js';
import { formatShape } from './shape.js';

/**
 * Reverse-mode differentiation: gradients of `loss` (a scalar, or any tensor with an explicit `seed`) with respect
 * to each of `wrt`, built as new nodes of the same graph from the same op set. A tensor the loss does not depend
 * on gets a zero gradient.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], seed?: Tensor): Tensor[] {
  const graph = loss.graph;
  if (!seed && loss.shape.some((d) => d !== 1)) {
    throw new GraphError(`grad: loss must be a scalar, got shape ${formatShape(loss.shape)} (${loss}); pass a seed gradient otherwise`);
  }
  const order = topoSort([loss]);
  const targets = new Set(wrt.map((t) => t.id));
  // Only nodes between a wrt tensor and the loss carry gradients.
  const needs = new Set<number>();
  for (const node of order) {
    if (targets.has(node.id) || node.inputs.some((i) => needs.has(i.id))) needs.add(node.id);
  }
  const grads = new Map<number, Tensor>();
  grads.set(loss.id, seed ?? graph.scalar(1).expand(loss.shape));
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k]!;
    const g = grads.get(node.id);
    if (!g || node.inputs.length === 0 || !node.inputs.some((i) => needs.has(i.id))) continue;
    const def = opDef(node.op)!;
    if (!def.grad) throw new GraphError(`grad: op '${node.op}' is not differentiable (node ${node} built at ${node.site})`);
    const inputGrads = def.grad(node, g);
    node.inputs.forEach((input, i) => {
      const gi = inputGrads[i];
      if (!gi || !needs.has(input.id)) return;
      const prev = grads.get(input.id);
      grads.set(input.id, prev ? prev.add(gi) : gi);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? graph.scalar(0).expand(t.shape));
}
