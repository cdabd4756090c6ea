/**
 * A model's inference sessions, compiled once with the weights as initializers (so ORT can pre-pack them): `prefill`
 * for a whole left-padded prompt batch, `decode` for one new token per sequence against the KV cache (weights packed
 * by `packWeights`), and `score` (logits at every position) on first use. The graphs are model/graphs.ts'.
 */
import type { NDArray } from '../graph/ndarray.js';
import { Session, type ExecutionProvider } from '../runtime/session.js';
import type { ModelConfig } from '../model/config.js';
import { declareDecode, declarePrefill } from '../model/graphs.js';
import { packWeights } from '../model/linear.js';
import { DEFAULT_ACCURACY_LEVEL, expandQuantized, quantPlanOf, type QuantizedMatrix } from '../model/quantize.js';

export interface InferenceSessions {
  prefill: Session;
  decode: Session;
  /** Prefill returning logits at every position (log-likelihood scoring). */
  score: () => Promise<Session>;
}

export interface SessionConfig {
  /** Threads for prefill/scoring (default: all cores). */
  threads?: number;
  /**
   * Threads for decode steps. Default 1 for float weights: a step is hundreds of tiny kernels bound by memory
   * bandwidth, where cross-thread synchronisation costs more than it saves (measured on 2 cores: 1 thread ≈ 1.6×
   * faster). Default all cores (`threads`) for quantized ones: MatMulNBits' int8 dot products are compute-bound
   * (SEED-0.5B shape on 2 cores, 1 → 2 threads: int4 45.7 → 64.0 tokens/s, int8 34.4 → 48.7).
   */
  decodeThreads?: number;
  executionProvider?: ExecutionProvider;
  /** MatMulNBits accuracy_level for quantized weights (default 4: int8 activations per block; 0: float32). */
  accuracyLevel?: number;
}

type Weights = Record<string, NDArray | { shape: readonly number[]; data: Float32Array } | QuantizedMatrix>;

export async function createInferenceSessions(c: ModelConfig, weights: Weights, opts: SessionConfig = {}): Promise<InferenceSessions> {
  const common = { spinning: false, executionProvider: opts.executionProvider };
  const accuracyLevel = opts.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL;
  const quant = quantPlanOf(weights);
  const initializers = expandQuantized(weights) as Record<string, NDArray>;
  const prefill = (lastOnly: boolean, name: string) => {
    const p = declarePrefill(c, { name, lastOnly, quant, accuracyLevel });
    return Session.create({ logits: p.out.logits, ...p.cache }, { ...common, initializers, graphName: name, threads: opts.threads });
  };
  const packed = packWeights(c, weights);
  const decode = Session.create(declareDecode(c, { packed: true, quant: quantPlanOf(packed), accuracyLevel }), {
    ...common,
    initializers: expandQuantized(packed) as Record<string, NDArray>,
    graphName: 'decode',
    threads: opts.decodeThreads ?? (quant.size > 0 ? opts.threads : 1),
  });
  const [prefillSession, decodeSession] = await Promise.all([prefill(true, 'prefill'), decode]);
  let score: Promise<Session> | undefined;
  return { prefill: prefillSession, decode: decodeSession, score: () => (score ??= prefill(false, 'score')) };
}
