/**
 * Graph pieces shared by the alignment objectives: parameter inputs (optionally under a name prefix, so two
 * networks — a policy and a value model — live in one graph), packed-batch inputs, per-token log-probabilities,
 * log-sigmoid, and the scalar head of reward/value models (HF `LlamaForSequenceClassification`'s `score.weight`).
 */
import { Graph, type Tensor } from '../graph/tensor.js';
import type { Dim } from '../graph/shape.js';
import type { ModelConfig } from '../model/config.js';
import { sequenceAttention } from '../model/attention.js';
import { decoder, weightsOf } from '../model/decoder.js';
import { decays, paramSpecs } from '../model/params.js';
import type { TrainableParam } from './adamw.js';

/** The scalar head's parameter name (HF LlamaForSequenceClassification). */
export const SCORE_WEIGHT = 'score.weight';

export interface NetworkInputs {
  /** Parameters by HF name (without the prefix). */
  weights: Record<string, Tensor>;
  /** The same tensors as trainable parameters, named with the prefix. */
  params: TrainableParam[];
}

/**
 * Declare a network's parameters as graph inputs named `prefix + HF name`. `head: 'lm'` keeps the language-model
 * head (lm_head when untied); `head: 'score'` replaces it with `score.weight` [1, hidden].
 */
export function declareNetwork(graph: Graph, c: ModelConfig, prefix = '', head: 'lm' | 'score' = 'lm'): NetworkInputs {
  const weights: Record<string, Tensor> = {};
  const params: TrainableParam[] = [];
  for (const s of paramSpecs(c)) {
    if (head === 'score' && s.name === 'lm_head.weight') continue;
    weights[s.name] = graph.input(prefix + s.name, s.shape);
    params.push({ name: prefix + s.name, tensor: weights[s.name]!, decay: decays(s) });
  }
  if (head === 'score') {
    weights[SCORE_WEIGHT] = graph.input(prefix + SCORE_WEIGHT, [1, c.hidden_size]);
    params.push({ name: prefix + SCORE_WEIGHT, tensor: weights[SCORE_WEIGHT]!, decay: true });
  }
  return { weights, params };
}

export interface BatchInputs {
  inputIds: Tensor;
  labels: Tensor;
  mask: Tensor;
  cos: Tensor;
  sin: Tensor;
}

/** input_ids/labels [B, T] int64, mask [B, 1, T, T], cos/sin [B, 1, T, head_dim] — what `buildBatch` produces. */
export function declareBatch(graph: Graph, c: ModelConfig, batch: Dim, seq: Dim): BatchInputs {
  return {
    inputIds: graph.input('input_ids', [batch, seq], 'int64'),
    labels: graph.input('labels', [batch, seq], 'int64'),
    mask: graph.input('mask', [batch, 1, seq, seq]),
    cos: graph.input('cos', [batch, 1, seq, c.head_dim]),
    sin: graph.input('sin', [batch, 1, seq, c.head_dim]),
  };
}

export function forward(c: ModelConfig, net: NetworkInputs, b: BatchInputs) {
  return decoder(c, b.inputIds, { weight: weightsOf(net.weights), attention: sequenceAttention(c, { cos: b.cos, sin: b.sin, mask: b.mask }) });
}

/** log p(labels[t]) at every position, [B, T]; 0 where the label is -100. */
export function tokenLogProbs(logits: Tensor, labels: Tensor): Tensor {
  const g = logits.graph;
  const ignored = labels.eq(g.scalar(-100, 'int64'));
  const safe = g.where(ignored, g.scalar(0, 'int64'), labels);
  const picked = logits.logSoftmax(-1).gatherElements(safe.unsqueeze(-1), -1).reshape(labels.shape);
  return picked.mul(validMask(labels));
}

/** 1.0 where a label is trained, 0.0 where it is -100; [B, T] float. */
export function validMask(labels: Tensor): Tensor {
  const g = labels.graph;
  return g.where(labels.eq(g.scalar(-100, 'int64')), 0, 1);
}

/** log σ(x) = min(x, 0) − log(1 + e^{−|x|}), stable for any x. */
export function logSigmoid(x: Tensor): Tensor {
  const abs = x.maximum(x.neg());
  return x.minimum(0).sub(abs.neg().exp().add(1).log());
}

/** Scalar head over every position: hidden [B, T, H] · score.weight [1, H]ᵀ → [B, T]. */
export function scoreAll(hidden: Tensor, scoreWeight: Tensor): Tensor {
  const [b, t] = hidden.shape;
  return hidden.matmul(scoreWeight, { transB: true }).reshape([b!, t!]);
}

/** Weighted mean of `x` with weights `w` (same shape); 0 when all weights are 0. */
export function weightedMean(x: Tensor, w: Tensor): Tensor {
  return x.mul(w).sum().div(w.sum().maximum(1e-12));
}

/** Only the feeds a session takes (graphs export the inputs their outputs reach; a batch may carry more). */
export function feedsFor<T>(inputNames: readonly string[], feeds: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const name of inputNames) if (feeds[name] !== undefined) out[name] = feeds[name]!;
  return out;
}

/** A fresh graph with a network and batch declared: the common start of every alignment graph. */
export function startGraph(name: string, c: ModelConfig, batch: Dim, seq: Dim, head: 'lm' | 'score' = 'lm') {
  const graph = new Graph(name);
  const net = declareNetwork(graph, c, '', head);
  const inputs = declareBatch(graph, c, batch, seq);
  return { graph, net, inputs };
}
