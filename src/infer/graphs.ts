/**
 * The two inference graphs of a model, compiled once with the weights as initializers (so ORT can pre-pack them):
 * `prefill` runs a whole (left-padded) prompt batch, `decode` (`decode-step.ts`) one new token per sequence
 * against the KV cache. Batch, sequence and cache lengths are symbolic, so one session serves every shape.
 */
import { Graph, type Tensor } from '../graph/tensor.js';
import type { NDArray } from '../graph/ndarray.js';
import { Session, type ExecutionProvider } from '../runtime/session.js';
import type { ModelConfig } from '../model/config.js';
import { decoderForward } from '../model/decoder.js';
import { paramSpecs } from '../model/params.js';
import { declareDecode, packDecodeWeights, presentKey, presentValue } from './decode-step.js';

export interface InferenceSessions {
  prefill: Session;
  decode: Session;
  /** Prefill returning logits at every position (log-likelihood scoring). */
  score: () => Promise<Session>;
}

export { pastKey, pastValue, presentKey, presentValue } from './decode-step.js';

/** The prefill/scoring graph: a left-padded batch of whole prompts, logits at the last or at every position. */
function declarePrefill(c: ModelConfig, lastOnly: boolean) {
  const g = new Graph('prefill');
  const weights: Record<string, Tensor> = {};
  for (const s of paramSpecs(c)) weights[s.name] = g.input(s.name, s.shape);
  const inputIds = g.input('input_ids', ['batch', 'seq'], 'int64');
  const cos = g.input('cos', ['batch', 1, 'seq', c.head_dim]);
  const sin = g.input('sin', ['batch', 1, 'seq', c.head_dim]);
  const mask = g.input('mask', ['batch', 1, 'seq', 'seq']);
  const out = decoderForward(c, { inputIds, weights, cos, sin, mask, lastOnly });
  const outputs: Record<string, Tensor> = { logits: out.logits };
  out.present.forEach((p, l) => {
    outputs[presentKey(l)] = p.key;
    outputs[presentValue(l)] = p.value;
  });
  return outputs;
}

export interface SessionConfig {
  /** Threads for prefill/scoring (default: all cores). */
  threads?: number;
  /**
   * Threads for decode steps (default 1): a step is hundreds of tiny kernels bound by memory bandwidth, where
   * cross-thread synchronisation costs more than it saves (measured on 2 cores: 1 thread ≈ 1.6× faster).
   */
  decodeThreads?: number;
  executionProvider?: ExecutionProvider;
}

export async function createInferenceSessions(c: ModelConfig, weights: Record<string, NDArray | { shape: readonly number[]; data: Float32Array }>, opts: SessionConfig = {}): Promise<InferenceSessions> {
  const make = (lastOnly: boolean, name: string) =>
    Session.create(declarePrefill(c, lastOnly), { initializers: weights as Record<string, NDArray>, graphName: name, threads: opts.threads, spinning: false, executionProvider: opts.executionProvider });
  const decode = Session.create(declareDecode(c, { packed: true }), {
    initializers: packDecodeWeights(c, weights) as Record<string, NDArray>,
    graphName: 'decode',
    threads: opts.decodeThreads ?? 1,
    spinning: false,
    executionProvider: opts.executionProvider,
  });
  const [prefillSession, decodeSession] = await Promise.all([make(true, 'prefill'), decode]);
  let score: Promise<Session> | undefined;
  return { prefill: prefillSession, decode: decodeSession, score: () => (score ??= make(false, 'score')) };
}
