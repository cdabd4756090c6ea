import { defineOp, type OpDef } from '../registry.js';
import { broadcastShapes, formatShape } from '../shape.js';
import type { DType } from '../ndarray.js';
import type { Tensor } from '../tensor.js';
import { broadcastMap, requireFloat, unbroadcast } from './util.js';

function unary(
  name: string,
  onnxOp: string,
  f: (x: number) => number,
  grad: (x: Tensor, y: Tensor, g: Tensor) => Tensor,
): void {
  defineOp({
    name,
    infer: ([x]) => {
      requireFloat(x!);
      return { shape: [...x!.shape], dtype: x!.dtype };
    },
    evaluate: ([x], _a, shape) => broadcastMap([x!], shape, x!.dtype, f),
    grad: (node, g) => [grad(node.inputs[0]!, node, g)],
    onnx: (b, _n, ins, out) => b.node(onnxOp, ins, [out]),
  });
}

unary('neg', 'Neg', (x) => -x, (_x, _y, g) => g.neg());
unary('exp', 'Exp', Math.exp, (_x, y, g) => g.mul(y));
unary('log', 'Log', Math.log, (x, _y, g) => g.div(x));
unary('sqrt', 'Sqrt', Math.sqrt, (_x, y, g) => g.div(y.mul(2)));
unary('reciprocal', 'Reciprocal', (x) => 1 / x, (_x, y, g) => g.mul(y.mul(y)).neg());
unary('tanh', 'Tanh', Math.tanh, (_x, y, g) => g.mul(y.mul(y).neg().add(1)));
unary('sigmoid', 'Sigmoid', (x) => 1 / (1 + Math.exp(-x)), (_x, y, g) => g.mul(y.mul(y.neg().add(1))));

function binaryInfer(inputs: readonly Tensor[], outDtype?: DType): { shape: (number | string)[]; dtype: DType } {
  const [a, b] = inputs as [Tensor, Tensor];
  if (a.dtype !== b.dtype) throw new Error(`dtypes differ (${a.dtype} vs ${b.dtype})`);
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape) throw new Error(`shapes ${formatShape(a.shape)} and ${formatShape(b.shape)} do not broadcast`);
  return { shape, dtype: outDtype ?? a.dtype };
}

function binary(
  name: string,
  onnxOp: string,
  f: (a: number, b: number) => number,
  grad: OpDef['grad'],
  outDtype?: DType,
): void {
  defineOp({
    name,
    infer: (inputs) => binaryInfer(inputs, outDtype),
    evaluate: ([a, b], _attrs, shape) => broadcastMap([a!, b!], shape, outDtype ?? a!.dtype, f),
    grad,
    onnx: (b, _n, ins, out) => b.node(onnxOp, ins, [out]),
  });
}

const operands = (n: Tensor) => n.inputs as [Tensor, Tensor];

binary('add', 'Add', (a, b) => a + b, (n, g) => {
  const [a, b] = operands(n);
  return [unbroadcast(g, a.shape), unbroadcast(g, b.shape)];
});
binary('sub', 'Sub', (a, b) => a - b, (n, g) => {
  const [a, b] = operands(n);
  return [unbroadcast(g, a.shape), unbroadcast(g.neg(), b.shape)];
});
binary('mul', 'Mul', (a, b) => a * b, (n, g) => {
  const [a, b] = operands(n);
  return [unbroadcast(g.mul(b), a.shape), unbroadcast(g.mul(a), b.shape)];
});
binary('div', 'Div', (a, b) => a / b, (n, g) => {
  const [a, b] = operands(n);
  const ga = g.div(b);
  return [unbroadcast(ga, a.shape), unbroadcast(ga.mul(n).neg(), b.shape)];
});
binary('pow', 'Pow', (a, b) => Math.pow(a, b), (n, g) => {
  const [a, b] = operands(n);
  const ga = g.mul(b).mul(a.pow(b.sub(1)));
  // d/db a^b = a^b ln a; only taken when the exponent is a computed value, not a constant.
  const gb = b.op === 'const' ? null : unbroadcast(g.mul(n).mul(a.log()), b.shape);
  return [unbroadcast(ga, a.shape), gb];
});
binary('max', 'Max', Math.max, (n, g) => {
  const [a, b] = operands(n);
  const bWins = b.gt(a); // ties route the gradient to `a`
  return [unbroadcast(n.graph.where(bWins, 0, g), a.shape), unbroadcast(n.graph.where(bWins, g, 0), b.shape)];
});
binary('min', 'Min', Math.min, (n, g) => {
  const [a, b] = operands(n);
  const bWins = b.lt(a);
  return [unbroadcast(n.graph.where(bWins, 0, g), a.shape), unbroadcast(n.graph.where(bWins, g, 0), b.shape)];
});

const noGrad = (n: Tensor) => n.inputs.map(() => null);
binary('equal', 'Equal', (a, b) => (a === b ? 1 : 0), noGrad, 'bool');
binary('less', 'Less', (a, b) => (a < b ? 1 : 0), noGrad, 'bool');
binary('greater', 'Greater', (a, b) => (a > b ? 1 : 0), noGrad, 'bool');

defineOp({
  name: 'where',
  infer: ([c, a, b]) => {
    if (c!.dtype !== 'bool') throw new Error(`condition must be bool, got ${c!.dtype}`);
    if (a!.dtype !== b!.dtype) throw new Error(`branches' dtypes differ (${a!.dtype} vs ${b!.dtype})`);
    const shape = broadcastShapes(c!.shape, a!.shape, b!.shape);
    if (!shape) throw new Error('shapes do not broadcast');
    return { shape, dtype: a!.dtype };
  },
  evaluate: ([c, a, b], _attrs, shape) => broadcastMap([c!, a!, b!], shape, a!.dtype, (c, a, b) => (c ? a : b)),
  grad: (n, g) => {
    const [c, a, b] = n.inputs as [Tensor, Tensor, Tensor];
    return [null, unbroadcast(n.graph.where(c, g, 0), a.shape), unbroadcast(n.graph.where(c, 0, g), b.shape)];
  },
  onnx: (b, _n, ins, out) => b.node('Where', ins, [out]),
});

defineOp({
  name: 'cast',
  infer: ([x], attrs) => ({ shape: [...x!.shape], dtype: attrs['to'] as DType }),
  evaluate: ([x], attrs, shape) => {
    const to = attrs['to'] as DType;
    const f = to === 'bool' ? (v: number) => (v ? 1 : 0) : to === 'int64' ? Math.trunc : Math.fround;
    return broadcastMap([x!], shape, to, f);
  },
  grad: (n, g) => [n.inputs[0]!.dtype === 'float32' && n.dtype === 'float32' ? g : null],
  onnx: (b, n, ins, out) => b.node('Cast', ins, [out], { to: b.dataType(n.attrs['to'] as DType) }),
});
