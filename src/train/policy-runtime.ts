/**
 * Generation from a policy that is still training. The inference graphs (`src/infer/graphs.ts`) compile weights as
 * initializers, which suits a fixed model; a PPO policy changes every iteration, and recompiling would keep one ORT
 * session per iteration alive in the session cache. Here the same prefill/decode graphs take the weights as inputs,
 * compiled once, and each run is fed the trainer's current ORT tensors (no copies), so `generateIds` — KV cache,
 * samplers, stop tokens — runs on the live policy.
 */
import { Graph, type Tensor } from '../graph/tensor.js';
import type { ModelConfig } from '../model/config.js';
import { decoderForward } from '../model/decoder.js';
import { paramSpecs } from '../model/params.js';
import { Session, type FeedValue } from '../runtime/session.js';
import { presentKey, presentValue, type InferenceSessions } from '../infer/graphs.js';
import { declareDecode } from '../infer/decode-step.js';
import type { InferenceRuntime } from '../infer/generate.js';
import { feedsFor } from './align-graphs.js';

function declarePrefill(c: ModelConfig): Record<string, Tensor> {
  const g = new Graph('policy_prefill');
  const weights: Record<string, Tensor> = {};
  for (const s of paramSpecs(c)) weights[s.name] = g.input(s.name, s.shape);
  const inputIds = g.input('input_ids', ['batch', 'seq'], 'int64');
  const cos = g.input('cos', ['batch', 1, 'seq', c.head_dim]);
  const sin = g.input('sin', ['batch', 1, 'seq', c.head_dim]);
  const mask = g.input('mask', ['batch', 1, 'seq', 'seq']);
  const out = decoderForward(c, { inputIds, weights, cos, sin, mask, lastOnly: true });
  const outputs: Record<string, Tensor> = { logits: out.logits };
  out.present.forEach((p, l) => {
    outputs[presentKey(l)] = p.key;
    outputs[presentValue(l)] = p.value;
  });
  return outputs;
}

/** A session whose runs also receive the current weights. */
function withWeights(session: Session, weights: () => Record<string, FeedValue>): Session {
  const wrapped = Object.create(session) as Session;
  wrapped.run = (feeds, fetches) => session.run({ ...feeds, ...feedsFor(session.inputNames, weights()) }, fetches);
  return wrapped;
}

/**
 * An `InferenceRuntime` for `generateIds` over weights supplied at each call (e.g. `trainer.parameterFeeds()`, with
 * parameter names as in the model folder).
 */
export async function policyRuntime(c: ModelConfig, weights: () => Record<string, FeedValue>, opts: { threads?: number; decodeThreads?: number } = {}): Promise<InferenceRuntime> {
  const [prefill, decode] = await Promise.all([
    Session.create(declarePrefill(c), { graphName: 'policy_prefill', threads: opts.threads }),
    // The inference decode graph over HF's separate matrices, fed each run.
    Session.create(declareDecode(c, { packed: false, name: 'policy_decode' }), { graphName: 'policy_decode', threads: opts.decodeThreads ?? 1 }),
  ]);
  const sessions: InferenceSessions = {
    prefill: withWeights(prefill, weights),
    decode: withWeights(decode, weights),
    score: () => Promise.reject(new Error('policyRuntime: no scoring session (use LogprobScorer)')),
  };
  return { config: c, sessions };
}
