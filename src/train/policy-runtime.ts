/**
 * Generation from a policy that is still training. The inference sessions (`src/infer/sessions.ts`) compile weights
 * as initializers, which suits a fixed model; a PPO policy changes every iteration, and recompiling would keep one
 * ORT session per iteration alive in the session cache. Here the same prefill/decode graphs take the weights as
 * inputs, compiled once, and each run is fed the trainer's current ORT tensors (no copies), so `generateIds` — KV
 * cache, samplers, stop tokens — runs on the live policy.
 */
import type { ModelConfig } from '../model/config.js';
import { declareDecode, declarePrefill } from '../model/graphs.js';
import { Session, type FeedValue } from '../runtime/session.js';
import type { InferenceSessions } from '../infer/sessions.js';
import type { InferenceRuntime } from '../infer/generate.js';
import { feedsFor } from './align-graphs.js';

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
  const prefill = declarePrefill(c, { name: 'policy_prefill', lastOnly: true });
  const [prefillSession, decodeSession] = await Promise.all([
    Session.create({ logits: prefill.out.logits, ...prefill.cache }, { graphName: 'policy_prefill', threads: opts.threads }),
    // The inference decode graph over HF's separate matrices, fed each run.
    Session.create(declareDecode(c, { packed: false, name: 'policy_decode' }), { graphName: 'policy_decode', threads: opts.decodeThreads ?? 1 }),
  ]);
  const sessions: InferenceSessions = {
    prefill: withWeights(prefillSession, weights),
    decode: withWeights(decodeSession, weights),
    score: () => Promise.reject(new Error('policyRuntime: no scoring session (use LogprobScorer)')),
  };
  return { config: c, sessions };
}
