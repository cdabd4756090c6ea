/**
 * Teacher-forced log-probabilities of labelled tokens under a causal LM, in ONNX Runtime: DPO's reference
 * log-probs, PPO's old-policy and reference log-probs, evaluation. Weights are feeds (ORT tensors of a live trainer
 * or a loaded folder), so one compiled session serves the policy and the reference alike.
 */
import type { ModelConfig } from '../model/config.js';
import { Session, type FeedValue } from '../runtime/session.js';
import { chunks } from './align-common.js';
import { feedsFor, forward, startGraph, tokenLogProbs } from './align-graphs.js';
import { buildBatch, type TokenSequence } from './packing.js';

export class LogprobScorer {
  private constructor(private readonly session: Session, private readonly config: ModelConfig, private readonly padId: number) {}

  static async create(config: ModelConfig, padId: number, opts: { threads?: number } = {}): Promise<LogprobScorer> {
    const { graph: _g, net, inputs } = startGraph('logprobs', config, 'batch', 'seq');
    const { logits } = forward(config, net, inputs);
    const token = tokenLogProbs(logits, inputs.labels);
    const session = await Session.create({ token_logps: token, seq_logps: token.sum(1) }, { graphName: 'logprobs', threads: opts.threads });
    return new LogprobScorer(session, config, padId);
  }

  /** Per sequence: the log-prob of each position's label (0 where the label is -100), length = ids.length. */
  async tokenLogps(seqs: readonly TokenSequence[], weights: Record<string, FeedValue>, batch = 8): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const group of chunks(seqs, batch)) {
      const T = Math.max(...group.map((s) => s.ids.length));
      const { rows: _r, ...feeds } = buildBatch(this.config, group.map((s) => [s]), T, this.padId);
      const r = await this.session.run(feedsFor(this.session.inputNames, { ...feeds, ...weights }), ['token_logps']);
      const data = r['token_logps']!.data as Float32Array;
      group.forEach((s, b) => out.push(data.slice(b * T, b * T + s.ids.length)));
    }
    return out;
  }

  /** Per sequence: the summed log-prob of its labelled tokens. */
  async sequenceLogps(seqs: readonly TokenSequence[], weights: Record<string, FeedValue>, batch = 8): Promise<Float64Array> {
    const out = new Float64Array(seqs.length);
    let k = 0;
    for (const group of chunks(seqs, batch)) {
      const T = Math.max(...group.map((s) => s.ids.length));
      const { rows: _r, ...feeds } = buildBatch(this.config, group.map((s) => [s]), T, this.padId);
      const r = await this.session.run(feedsFor(this.session.inputNames, { ...feeds, ...weights }), ['seq_logps']);
      for (const v of r['seq_logps']!.data as Float32Array) out[k++] = v;
    }
    return out;
  }
}
