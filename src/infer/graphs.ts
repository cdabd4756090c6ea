/**
 * The two inference graphs of a model, compiled once with the weights as initializers (so ORT can pre-pack them):
 * `prefill` runs a whole (left-padded) prompt batch, `decode` runs new tokens against the KV cache.
 * Batch, sequence and cache lengths are symbolic, so one session serves every shape.
 */
import { Graph, type Tensor } from '../graph/tensor.js';
import type { NDArray } from '../graph/ndarray.js';
import { Session, type ExecutionProvider } from '../runtime/session.js';
import type { ModelConfig } from '../model/config.js';
import { decoderForward } from '../model/decoder.js';
import { paramSpecs } from '../model/params.js';

export interface InferenceSessions {
  prefill: Session;
  decode: Session;
  /** Prefill returning logits at every position (log-likelihood scoring). */
  score: () => Promise<Session>;
}

export const presentKey = (l: number) => `present.${l}.key`;
export const presentValue = (l: number) => `present.${l}.value`;
export const pastKey = (l: number) => `past.${l}.key`;
export const pastValue = (l: number) => `past.${l}.value`;

function declare(c: ModelConfig, withCache: boolean, lastOnly: boolean) {
  const g = new Graph(withCache ? 'decode' : 'prefill');
  const weights: Record<string, Tensor> = {};
  for (const s of paramSpecs(c)) weights[s.name] = g.input(s.name, s.shape);
  // Decode steps take exactly one new token per sequence: a static length lets ORT drop no-op transposes.
  const seq = withCache ? 1 : 'seq';
  const inputIds = g.input('input_ids', ['batch', seq], 'int64');
  const cos = g.input('cos', ['batch', 1, seq, c.head_dim]);
  const sin = g.input('sin', ['batch', 1, seq, c.head_dim]);
  const kv = [c.num_key_value_heads, c.head_dim];
  const cache = withCache
    ? {
        past: Array.from({ length: c.num_hidden_layers }, (_, l) => ({
          keyT: g.input(pastKey(l), ['batch', kv[0]!, kv[1]!, 'past']),
          value: g.input(pastValue(l), ['batch', kv[0]!, 'past', kv[1]!]),
        })),
        maskPast: g.input('mask_past', ['batch', 1, seq, 'past']),
        maskNew: g.input('mask', ['batch', 1, seq, seq]),
      }
    : undefined;
  const mask = withCache ? undefined : g.input('mask', ['batch', 1, 'seq', 'seq']);
  const out = decoderForward(c, { inputIds, weights, cos, sin, mask, cache, lastOnly });
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
  const initializers = weights as Record<string, NDArray>;
  const make = (withCache: boolean, lastOnly: boolean, name: string) =>
    Session.create(declare(c, withCache, lastOnly), {
      initializers,
      graphName: name,
      threads: withCache ? (opts.decodeThreads ?? 1) : opts.threads,
      executionProvider: opts.executionProvider,
    });
  const [prefill, decode] = await Promise.all([make(false, true, 'prefill'), make(true, true, 'decode')]);
  let score: Promise<Session> | undefined;
  return { prefill, decode, score: () => (score ??= make(false, false, 'score')) };
}
