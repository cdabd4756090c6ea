/** The causal language-modelling objective over the decoder: next-token cross-entropy with ignore-index labels. */
import { crossEntropy } from '../graph/nn.js';
import { Graph, type Tensor } from '../graph/tensor.js';
import type { ModelConfig } from '../model/config.js';
import { sequenceAttention } from '../model/attention.js';
import { decoder, weightsOf } from '../model/decoder.js';
import { decays, paramSpecs } from '../model/params.js';
import { ropeFrequencies, ropeTables } from '../model/rope.js';
import type { TrainModel } from './step.js';

export interface LmGraph extends TrainModel {
  inputIds: Tensor;
  labels: Tensor;
  logits: Tensor;
}

/** input_ids [B, T] and labels [B, T] (labels[t] = the token after input_ids[t], or -100 to ignore). */
export function buildLmGraph(c: ModelConfig, batch: number, seq: number, opts: { decayEmbeddings?: boolean } = {}): LmGraph {
  const graph = new Graph('causal_lm');
  const specs = paramSpecs(c);
  const weights: Record<string, Tensor> = {};
  const params = specs.map((s) => {
    weights[s.name] = graph.input(s.name, s.shape);
    return { name: s.name, tensor: weights[s.name]!, decay: decays(s, opts.decayEmbeddings) };
  });
  const inputIds = graph.input('input_ids', [batch, seq], 'int64');
  const labels = graph.input('labels', [batch, seq], 'int64');
  const { cos, sin } = ropeTables(ropeFrequencies(c, seq), [...Array(seq).keys()]);
  const attention = sequenceAttention(c, { cos: graph.constant(cos), sin: graph.constant(sin) });
  const { logits } = decoder(c, inputIds, { weight: weightsOf(weights), attention });
  return { graph, loss: crossEntropy(logits, labels), params, inputIds, labels, logits };
}

/** Split B windows of T+1 tokens into model inputs and next-token labels. */
export function windowsToBatch(windows: ArrayLike<number>, batch: number, seq: number) {
  if (windows.length !== batch * (seq + 1)) throw new Error(`expected ${batch}×${seq + 1} tokens, got ${windows.length}`);
  const ids = new BigInt64Array(batch * seq);
  const labels = new BigInt64Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < seq; t++) {
      ids[b * seq + t] = BigInt(windows[b * (seq + 1) + t]!);
      labels[b * seq + t] = BigInt(windows[b * (seq + 1) + t + 1]!);
    }
  }
  return { input_ids: { dtype: 'int64' as const, shape: [batch, seq], data: ids }, labels: { dtype: 'int64' as const, shape: [batch, seq], data: labels } };
}
