/** Static shape algebra shared by shape inference, the interpreter and the gradients. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** NumPy/ONNX multidirectional broadcasting; returns undefined when the shapes are incompatible. */
export function broadcastShapes(...shapes: Shape[]): Dim[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim === 1) dim = d;
      else if (dim !== d) return undefined;
    }
    out.push(dim);
  }
  return out;
}

/** Axes of `to` along which `from` was broadcast (to sum a gradient back to `from`'s shape). */
export function broadcastAxes(from: Shape, to: Shape): number[] {
  const axes: number[] = [];
  const lead = to.length - from.length;
  for (let i = 0; i < to.length; i++) {
    if (i < lead || (from[i - lead] === 1 && to[i] !== 1)) axes.push(i);
  }
  return axes;
}

export function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function staticSize(shape: Shape): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
