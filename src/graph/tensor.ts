import { KolmError } from '../util/errors.js';
import { ndarray, type DType, type NDArray } from './ndarray.js';
import { opDef, type Attrs } from './registry.js';
import { formatShape, type Dim } from './shape.js';
import './ops/index.js';

/** An error in how a graph was built: names the op, the shapes involved and the line that built it. */
export class GraphError extends KolmError {
  override name = 'GraphError';
}

/** This folder (and its ops/ and onnx/ subfolders) as stack frames name it. */
const GRAPH_PACKAGE = new URL('.', import.meta.url).href;

/** The first stack frame outside the graph package: where user code asked for this node. */
function callSite(): string {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const line of stack) {
    if (line.includes(GRAPH_PACKAGE) || line.includes('node:internal')) continue;
    return line.trim().replace(/^at\s+/, '');
  }
  return 'unknown location';
}

type Operand = Tensor | number;

/** A symbolic tensor: one node of a Graph. Methods build new nodes; nothing is computed until a graph is run. */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly attrs: Attrs,
    readonly shape: readonly Dim[],
    readonly dtype: DType,
    readonly site: string,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.op}#${this.id}${formatShape(this.shape)}:${this.dtype}`;
  }

  private lift(x: Operand): Tensor {
    return typeof x === 'number' ? this.graph.scalar(x, this.dtype) : x;
  }
  private bin(op: string, other: Operand): Tensor {
    return this.graph.apply(op, [this, this.lift(other)]);
  }

  add(o: Operand): Tensor { return this.bin('add', o); }
  sub(o: Operand): Tensor { return this.bin('sub', o); }
  mul(o: Operand): Tensor { return this.bin('mul', o); }
  div(o: Operand): Tensor { return this.bin('div', o); }
  pow(o: Operand): Tensor { return this.bin('pow', o); }
  maximum(o: Operand): Tensor { return this.bin('max', o); }
  minimum(o: Operand): Tensor { return this.bin('min', o); }
  eq(o: Operand): Tensor { return this.bin('equal', o); }
  lt(o: Operand): Tensor { return this.bin('less', o); }
  gt(o: Operand): Tensor { return this.bin('greater', o); }

  neg(): Tensor { return this.graph.apply('neg', [this]); }
  exp(): Tensor { return this.graph.apply('exp', [this]); }
  log(): Tensor { return this.graph.apply('log', [this]); }
  sqrt(): Tensor { return this.graph.apply('sqrt', [this]); }
  reciprocal(): Tensor { return this.graph.apply('reciprocal', [this]); }
  rsqrt(): Tensor { return this.sqrt().reciprocal(); }
  tanh(): Tensor { return this.graph.apply('tanh', [this]); }
  sigmoid(): Tensor { return this.graph.apply('sigmoid', [this]); }
  silu(): Tensor { return this.mul(this.sigmoid()); }
  square(): Tensor { return this.mul(this); }

  sum(axes?: number | number[], keepdim = false): Tensor { return this.reduce('reduceSum', axes, keepdim); }
  mean(axes?: number | number[], keepdim = false): Tensor { return this.reduce('reduceMean', axes, keepdim); }
  amax(axes?: number | number[], keepdim = false): Tensor { return this.reduce('reduceMax', axes, keepdim); }
  private reduce(op: string, axes: number | number[] | undefined, keepdim: boolean): Tensor {
    const list = axes === undefined ? this.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : axes;
    return this.graph.apply(op, [this], { axes: list, keepdim });
  }

  /** New shape; one dim may be -1 (inferred). */
  reshape(shape: readonly Dim[]): Tensor { return this.graph.apply('reshape', [this], { shape: [...shape] }); }
  transpose(perm?: readonly number[]): Tensor {
    const p = perm ?? this.shape.map((_, i) => this.rank - 1 - i);
    // Moving only size-1 axes keeps the memory order: a reshape, which ORT does without copying.
    const kept = p.filter((axis) => this.shape[axis] !== 1);
    const isPermutation = p.length === this.rank && [...p].sort((a, b) => a - b).every((axis, i) => axis === i);
    if (isPermutation && kept.every((axis, i) => i === 0 || axis > kept[i - 1]!)) {
      return this.reshape(p.map((axis) => this.shape[axis]!));
    }
    return this.graph.apply('transpose', [this], { perm: [...p] });
  }
  /** Swap the last two axes. */
  get mT(): Tensor {
    const p = this.shape.map((_, i) => i);
    [p[this.rank - 2], p[this.rank - 1]] = [p[this.rank - 1]!, p[this.rank - 2]!];
    return this.transpose(p);
  }
  expand(shape: readonly Dim[]): Tensor { return this.graph.apply('expand', [this], { shape: [...shape] }); }
  unsqueeze(axis: number): Tensor {
    const a = axis < 0 ? axis + this.rank + 1 : axis;
    const s = [...this.shape];
    s.splice(a, 0, 1);
    return this.reshape(s);
  }
  /** Elements [start, end) along each given axis (negative indices count from the end). */
  slice(axis: number, start: number, end: number): Tensor {
    return this.graph.apply('slice', [this], { axis, start, end });
  }
  /** Rows of this table (axis 0) at integer `indices`: output shape = indices.shape ++ this.shape[1:]. */
  gather(indices: Tensor): Tensor { return this.graph.apply('gather', [this, indices]); }
  /** Elements along `axis` at `indices` (same rank as this), as ONNX GatherElements / torch.gather. */
  gatherElements(indices: Tensor, axis: number): Tensor {
    return this.graph.apply('gatherElements', [this, indices], { axis });
  }
  cast(to: DType): Tensor { return to === this.dtype ? this : this.graph.apply('cast', [this], { to }); }
  /** this [..., K] by a block-quantized weight [N, K] (packed `blocks`, `scales`; graph/ops/quantized.ts) → [..., N]. */
  matmulNBits(blocks: Tensor, scales: Tensor, attrs: { K: number; N: number; bits: 4 | 8; blockSize: number; accuracyLevel?: number }): Tensor {
    return this.graph.apply('matmulNBits', [this, blocks, scales], { accuracyLevel: 0, ...attrs });
  }

  /** Batched matrix product over the last two axes, batch axes broadcast; optional transposes of either operand. */
  matmul(other: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
    const a = opts.transA ? this.mT : this;
    const b = opts.transB ? other.mT : other;
    return this.graph.apply('matmul', [a, b]);
  }
  softmax(axis = -1): Tensor { return this.graph.apply('softmax', [this], { axis }); }
  logSoftmax(axis = -1): Tensor { return this.graph.apply('logSoftmax', [this], { axis }); }
}

/** A graph under construction: inputs (fed at run time), constants, and the nodes built from them. */
export class Graph {
  readonly nodes: Tensor[] = [];
  readonly inputs: Tensor[] = [];
  private readonly scalars = new Map<string, Tensor>();

  constructor(readonly name = 'kolm') {}

  /** A named value fed at run time (data, parameters, optimizer state). Dims may be symbolic (strings). */
  input(name: string, shape: readonly Dim[], dtype: DType = 'float32'): Tensor {
    if (this.inputs.some((t) => t.attrs['name'] === name)) throw new GraphError(`input '${name}' declared twice (at ${callSite()})`);
    const t = this.node('input', [], { name }, [...shape], dtype);
    this.inputs.push(t);
    return t;
  }

  constant(value: NDArray): Tensor {
    return this.node('const', [], { value }, [...value.shape], value.dtype);
  }

  scalar(value: number, dtype: DType = 'float32'): Tensor {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let t = this.scalars.get(key);
    if (!t) {
      t = this.constant(ndarray(dtype, [], [value]));
      this.scalars.set(key, t);
    }
    return t;
  }

  where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
    const dtype = typeof a === 'number' ? (typeof b === 'number' ? 'float32' : b.dtype) : a.dtype;
    const lift = (x: Tensor | number) => (typeof x === 'number' ? this.scalar(x, dtype) : x);
    return this.apply('where', [cond, lift(a), lift(b)]);
  }

  concat(tensors: readonly Tensor[], axis: number): Tensor {
    return this.apply('concat', tensors, { axis });
  }

  /** Build a node of a registered op; shape/dtype errors come back naming the op, the shapes and the call site. */
  apply(op: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
    const def = opDef(op);
    if (!def) throw new GraphError(`unknown op '${op}' (at ${callSite()})`);
    for (const t of inputs) {
      if (t.graph !== this) throw new GraphError(`${op}: input ${t} belongs to another graph (at ${callSite()})`);
    }
    let inferred: { shape: Dim[]; dtype: DType };
    try {
      inferred = def.infer(inputs, attrs);
    } catch (err) {
      const shapes = inputs.map((t) => `${formatShape(t.shape)}:${t.dtype}`).join(', ');
      throw new GraphError(`${op}(${shapes}): ${(err as Error).message} (at ${callSite()})`);
    }
    return this.node(op, inputs, attrs, inferred.shape, inferred.dtype);
  }

  private node(op: string, inputs: readonly Tensor[], attrs: Attrs, shape: Dim[], dtype: DType): Tensor {
    const t = new Tensor(this, this.nodes.length, op, inputs, attrs, shape, dtype, callSite());
    this.nodes.push(t);
    return t;
  }
}

/** Nodes needed to compute `outputs`, in a valid evaluation order (inputs first). */
export function topoSort(outputs: readonly Tensor[]): Tensor[] {
  const seen = new Set<number>();
  const order: Tensor[] = [];
  const stack: [Tensor, boolean][] = outputs.map((t) => [t, false]);
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t.id)) continue;
    seen.add(t.id);
    stack.push([t, true]);
    for (let i = t.inputs.length - 1; i >= 0; i--) if (!seen.has(t.inputs[i]!.id)) stack.push([t.inputs[i]!, false]);
  }
  return order;
}
