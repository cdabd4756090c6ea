/** Small graphs covering every primitive op (with broadcasting) and every composite, shared by the engine tests. */
import { Graph, type Tensor } from '../../src/graph/tensor.js';
import { attention, crossEntropy, rmsNorm, rotary } from '../../src/graph/nn.js';
import { ropeFrequencies, ropeTables } from '../../src/model/rope.js';
import { makeConfig } from '../../src/model/config.js';
import { ndarray, randn, type DType, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** Value generator; default standard normal. */
  kind?: 'normal' | 'positive' | { ints: number } | { values: number[] } | 'bool';
}

export interface Case {
  name: string;
  inputs: Record<string, InputSpec>;
  build(g: Graph, x: Record<string, Tensor>): Tensor;
  /** Differentiable w.r.t. its float inputs (false for comparisons). */
  differentiable?: boolean;
}

const N = (...shape: number[]): InputSpec => ({ shape });
const P = (...shape: number[]): InputSpec => ({ shape, kind: 'positive' });

export const cases: Case[] = [
  { name: 'neg', inputs: { a: N(2, 3) }, build: (_g, x) => x.a!.neg() },
  { name: 'exp', inputs: { a: N(2, 3) }, build: (_g, x) => x.a!.exp() },
  { name: 'log', inputs: { a: P(2, 3) }, build: (_g, x) => x.a!.log() },
  { name: 'sqrt', inputs: { a: P(2, 3) }, build: (_g, x) => x.a!.sqrt() },
  { name: 'rsqrt', inputs: { a: P(2, 3) }, build: (_g, x) => x.a!.rsqrt() },
  { name: 'reciprocal', inputs: { a: P(2, 3) }, build: (_g, x) => x.a!.reciprocal() },
  { name: 'tanh', inputs: { a: N(2, 3) }, build: (_g, x) => x.a!.tanh() },
  { name: 'sigmoid', inputs: { a: N(2, 3) }, build: (_g, x) => x.a!.sigmoid() },
  { name: 'silu', inputs: { a: N(2, 3) }, build: (_g, x) => x.a!.silu() },
  { name: 'add broadcast [2,3,4]+[4]', inputs: { a: N(2, 3, 4), b: N(4) }, build: (_g, x) => x.a!.add(x.b!) },
  { name: 'sub broadcast [2,1,4]-[3,1]', inputs: { a: N(2, 1, 4), b: N(3, 1) }, build: (_g, x) => x.a!.sub(x.b!) },
  { name: 'mul', inputs: { a: N(2, 3), b: N(2, 3) }, build: (_g, x) => x.a!.mul(x.b!) },
  { name: 'mul by scalar', inputs: { a: N(2, 3) }, build: (_g, x) => x.a!.mul(-1.5) },
  { name: 'div broadcast [3,4]/[1,4]', inputs: { a: N(3, 4), b: P(1, 4) }, build: (_g, x) => x.a!.div(x.b!) },
  { name: 'pow constant exponent', inputs: { a: P(2, 3) }, build: (_g, x) => x.a!.pow(2.5) },
  { name: 'pow tensor exponent', inputs: { a: P(2, 3), b: N(3) }, build: (_g, x) => x.a!.pow(x.b!) },
  { name: 'maximum broadcast', inputs: { a: N(2, 3), b: N(3) }, build: (_g, x) => x.a!.maximum(x.b!) },
  { name: 'minimum broadcast', inputs: { a: N(2, 3), b: N(2, 1) }, build: (_g, x) => x.a!.minimum(x.b!) },
  { name: 'where broadcast', inputs: { c: { shape: [2, 3], dtype: 'bool', kind: 'bool' }, a: N(2, 3), b: N(3) }, build: (g, x) => g.where(x.c!, x.a!, x.b!) },
  { name: 'equal', inputs: { a: { shape: [2, 3], kind: { values: [1, 2, 3, 1, 2, 3] } }, b: { shape: [3], kind: { values: [1, 0, 3] } } }, build: (_g, x) => x.a!.eq(x.b!).cast('float32'), differentiable: false },
  { name: 'less', inputs: { a: N(2, 3), b: N(3) }, build: (_g, x) => x.a!.lt(x.b!).cast('float32'), differentiable: false },
  { name: 'greater', inputs: { a: N(2, 3), b: N(2, 1) }, build: (_g, x) => x.a!.gt(x.b!).cast('float32'), differentiable: false },
  { name: 'cast int64->float32', inputs: { i: { shape: [2, 3], dtype: 'int64', kind: { ints: 7 } }, a: N(2, 3) }, build: (_g, x) => x.i!.cast('float32').mul(x.a!) },
  { name: 'reduceSum axis keepdim', inputs: { a: N(2, 3, 4) }, build: (_g, x) => x.a!.sum(1, true) },
  { name: 'reduceSum all', inputs: { a: N(2, 3, 4) }, build: (_g, x) => x.a!.sum() },
  { name: 'reduceMean two axes', inputs: { a: N(2, 3, 4) }, build: (_g, x) => x.a!.mean([0, 2]) },
  { name: 'reduceMax last axis keepdim', inputs: { a: N(2, 3, 4) }, build: (_g, x) => x.a!.amax(-1, true) },
  { name: 'reshape with -1', inputs: { a: N(2, 3, 4) }, build: (_g, x) => x.a!.reshape([4, -1]).mul(x.a!.reshape([4, 6])) },
  { name: 'transpose', inputs: { a: N(2, 3, 4) }, build: (_g, x) => x.a!.transpose([2, 0, 1]) },
  { name: 'expand', inputs: { a: N(3, 1) }, build: (_g, x) => x.a!.expand([2, 3, 4]) },
  { name: 'slice', inputs: { a: N(3, 5) }, build: (_g, x) => x.a!.slice(1, 1, -1) },
  { name: 'pad', inputs: { a: N(2, 3) }, build: (g, x) => g.apply('pad', [x.a!], { axis: 0, before: 1, after: 2 }) },
  { name: 'concat', inputs: { a: N(2, 3), b: N(2, 1), c: N(2, 2) }, build: (g, x) => g.concat([x.a!, x.b!, x.c!], 1) },
  { name: 'gather (embedding, repeated ids)', inputs: { t: N(5, 3), i: { shape: [2, 3], dtype: 'int64', kind: { values: [0, 4, 4, 2, 0, 1] } } }, build: (_g, x) => x.t!.gather(x.i!) },
  { name: 'gatherElements', inputs: { a: N(3, 4), i: { shape: [3, 2], dtype: 'int64', kind: { values: [0, 3, 1, 1, 2, 0] } } }, build: (_g, x) => x.a!.gatherElements(x.i!, 1) },
  { name: 'scatterAddRows', inputs: { like: N(4, 2), i: { shape: [3], dtype: 'int64', kind: { values: [1, 3, 1] } }, u: N(3, 2) }, build: (g, x) => g.apply('scatterAddRows', [x.like!, x.i!, x.u!]) },
  { name: 'scatterAddElements', inputs: { like: N(2, 4), i: { shape: [2, 3], dtype: 'int64', kind: { values: [0, 3, 0, 1, 1, 2] } }, u: N(2, 3) }, build: (g, x) => g.apply('scatterAddElements', [x.like!, x.i!, x.u!], { axis: 1 }) },
  { name: 'matmul', inputs: { a: N(3, 4), b: N(4, 5) }, build: (_g, x) => x.a!.matmul(x.b!) },
  { name: 'matmul batched broadcast', inputs: { a: N(2, 1, 3, 4), b: N(3, 4, 2) }, build: (_g, x) => x.a!.matmul(x.b!) },
  { name: 'matmul transA transB', inputs: { a: N(2, 4, 3), b: N(5, 4) }, build: (_g, x) => x.a!.matmul(x.b!, { transA: true, transB: true }) },
  { name: 'softmax axis 1', inputs: { a: N(2, 4, 3) }, build: (_g, x) => x.a!.softmax(1) },
  { name: 'logSoftmax', inputs: { a: N(3, 5) }, build: (_g, x) => x.a!.logSoftmax(-1) },
  { name: 'rmsNorm', inputs: { a: N(2, 3, 8), w: N(8) }, build: (_g, x) => rmsNorm(x.a!, x.w!) },
  {
    name: 'rotary',
    inputs: { a: N(1, 2, 3, 4) },
    build: (g, x) => {
      const { cos, sin } = ropeTables(ropeFrequencies(makeConfig({ vocab_size: 2, hidden_size: 4, intermediate_size: 4, num_hidden_layers: 1, num_attention_heads: 1 })), [0, 1, 5]);
      return rotary(x.a!, g.constant(cos), g.constant(sin));
    },
  },
  { name: 'attention GQA causal', inputs: { q: N(1, 4, 3, 4), k: N(1, 2, 3, 4), v: N(1, 2, 3, 4) }, build: (_g, x) => attention(x.q!, x.k!, x.v!, { causal: true }) },
  { name: 'attention GQA causal, longer keys (cache)', inputs: { q: N(2, 2, 2, 4), k: N(2, 1, 5, 4), v: N(2, 1, 5, 4) }, build: (_g, x) => attention(x.q!, x.k!, x.v!, { causal: true, scale: 0.3 }) },
  { name: 'attention with additive mask', inputs: { q: N(1, 2, 3, 4), k: N(1, 2, 3, 4), v: N(1, 2, 3, 4), m: { shape: [1, 1, 1, 3], kind: { values: [0, 0, -1e9] } } }, build: (_g, x) => attention(x.q!, x.k!, x.v!, { mask: x.m! }) },
  { name: 'swiglu', inputs: { a: N(2, 4), g: N(6, 4), u: N(6, 4), d: N(4, 6) }, build: (_g, x) => { const lin = (v: Tensor, w: Tensor) => v.matmul(w, { transB: true }); return lin(lin(x.a!, x.g!).silu().mul(lin(x.a!, x.u!)), x.d!); } },
  {
    name: 'crossEntropy with ignore index',
    inputs: { logits: N(2, 3, 5), t: { shape: [2, 3], dtype: 'int64', kind: { values: [1, -100, 4, 0, 2, -100] } } },
    build: (_g, x) => crossEntropy(x.logits!, x.t!),
  },
];

export function makeFeeds(c: Case, seed: number): Record<string, NDArray> {
  const random = rng(seed);
  const feeds: Record<string, NDArray> = {};
  for (const [name, spec] of Object.entries(c.inputs)) {
    const dtype = spec.dtype ?? 'float32';
    const kind = spec.kind ?? 'normal';
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (kind === 'normal') feeds[name] = randn(spec.shape, random);
    else if (kind === 'positive') feeds[name] = ndarray(dtype, spec.shape, Array.from({ length: n }, () => 0.5 + 1.5 * random()));
    else if (kind === 'bool') feeds[name] = ndarray('bool', spec.shape, Array.from({ length: n }, () => (random() < 0.5 ? 1 : 0)));
    else if ('ints' in kind) feeds[name] = ndarray(dtype, spec.shape, Array.from({ length: n }, () => Math.floor(random() * kind.ints)));
    else feeds[name] = ndarray(dtype, spec.shape, kind.values);
  }
  return feeds;
}

/** The case's graph plus a scalar probe loss sum(out * R) with fixed random R, so every output element matters. */
export function buildCase(c: Case, seed = 7): { graph: Graph; inputs: Record<string, Tensor>; out: Tensor; loss: Tensor } {
  const graph = new Graph(c.name);
  const inputs: Record<string, Tensor> = {};
  for (const [name, spec] of Object.entries(c.inputs)) inputs[name] = graph.input(name, spec.shape, spec.dtype ?? 'float32');
  const out = c.build(graph, inputs);
  const probe = graph.constant(randn(out.shape as number[], rng(seed)));
  return { graph, inputs, out, loss: out.mul(probe).sum() };
}
