import type { Graph, Tensor } from '../graph/tensor.js';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this value; 0 or undefined disables clipping. */
  maxGradNorm?: number;
}

export interface TrainableParam {
  name: string;
  tensor: Tensor;
  /** Decoupled weight decay applies (false for norms and embeddings by default). */
  decay: boolean;
}

export interface AdamWGraph {
  /** Host-fed scalars: learning rate and bias corrections 1 - β₁ᵗ, 1 - β₂ᵗ. */
  lr: Tensor;
  bias1: Tensor;
  bias2: Tensor;
  gradNorm: Tensor;
  /** Per parameter: moment inputs and the updated parameter and moments. */
  states: { name: string; m: Tensor; v: Tensor; nextParam: Tensor; nextM: Tensor; nextV: Tensor }[];
}

/** Names of optimizer state inputs/outputs for a parameter, as they appear in the step graph and checkpoints. */
export const stateNames = (param: string) => ({ m: `${param}.exp_avg`, v: `${param}.exp_avg_sq`, next: `next.${param}` });

/**
 * AdamW (Loshchilov & Hutter) with optional global-norm clipping, built into the training graph so forward,
 * backward and update run as one ONNX Runtime call.
 */
export function buildAdamW(graph: Graph, params: readonly TrainableParam[], grads: readonly Tensor[], options: AdamWOptions = {}): AdamWGraph {
  const { beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weightDecay = 0.1, maxGradNorm = 1.0 } = options;
  const lr = graph.input('optim.lr', []);
  const bias1 = graph.input('optim.bias1', []);
  const bias2 = graph.input('optim.bias2', []);
  const squares = grads.map((g) => g.square().sum());
  const gradNorm = squares.reduce((a, b) => a.add(b)).sqrt();
  const clip = maxGradNorm > 0 ? graph.scalar(maxGradNorm).div(gradNorm.add(1e-6)).minimum(1) : undefined;
  const states = params.map((p, i) => {
    const names = stateNames(p.name);
    const g = clip ? grads[i]!.mul(clip) : grads[i]!;
    const m = graph.input(names.m, p.tensor.shape);
    const v = graph.input(names.v, p.tensor.shape);
    const nextM = m.mul(beta1).add(g.mul(1 - beta1));
    const nextV = v.mul(beta2).add(g.square().mul(1 - beta2));
    let update = nextM.div(bias1).div(nextV.div(bias2).sqrt().add(eps));
    if (p.decay && weightDecay > 0) update = update.add(p.tensor.mul(weightDecay));
    return { name: p.name, m, v, nextParam: p.tensor.sub(update.mul(lr)), nextM, nextV };
  });
  return { lr, bias1, bias2, gradNorm, states };
}
