import type { NDArray, DType } from './ndarray.js';
import type { Dim } from './shape.js';
import type { Tensor } from './tensor.js';
import type { OnnxBuilder } from './onnx/builder.js';

export type Attrs = Record<string, unknown>;

/**
 * One primitive op: how its output shape follows from its inputs, how to compute it (reference interpreter),
 * its vector-Jacobian product written in the same op set (autodiff), and how it lowers to ONNX.
 */
export interface OpDef {
  readonly name: string;
  /** Output shape and dtype; throws a plain Error whose message explains the mismatch (the builder adds op and site). */
  infer(inputs: readonly Tensor[], attrs: Attrs): { shape: Dim[]; dtype: DType };
  evaluate(inputs: readonly NDArray[], attrs: Attrs, outShape: readonly number[]): NDArray;
  /** Gradients of the inputs given the output's gradient; null for inputs without one (indices, masks). */
  grad?(node: Tensor, gradOut: Tensor): (Tensor | null)[];
  /** Emit ONNX node(s) computing the output into `output` from the named inputs. */
  onnx(b: OnnxBuilder, node: Tensor, inputs: string[], output: string): void;
}

const ops = new Map<string, OpDef>();

export function defineOp(def: OpDef): void {
  if (ops.has(def.name)) throw new Error(`op '${def.name}' defined twice`);
  ops.set(def.name, def);
}

export function opDef(name: string): OpDef | undefined {
  return ops.get(name);
}

export function opNames(): string[] {
  return [...ops.keys()];
}
