/**
 * Token-level generation for a batch of prompts, on the same scheduler (prefill, KV cache, decode steps) that serves
 * concurrent requests: every prompt joins one running batch and leaves it when it stops.
 */
import { sequenceFeeds } from '../model/feeds.js';
import { checkPrompt, Scheduler, type Generation, type InferenceRuntime } from './scheduler.js';
import type { SamplingOptions } from './sampler.js';

export type { FinishReason, Generation, InferenceRuntime } from './scheduler.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** Generation of a sequence ends after any of these ids (included in the output, like EOS). */
  stopTokenIds?: readonly number[];
  /** Called with each new token; return true to stop that sequence (stop strings, cancellation). */
  onToken?: (sequence: number, id: number) => boolean | void;
  /** Prompts longer than the context: 'error' (default) or keep the last tokens that fit ('left'). */
  truncate?: 'error' | 'left';
  /** Raw next-token logits of a sequence before sampling (log-probabilities, tests); a copy the caller may keep. */
  onLogits?: (sequence: number, logits: Float32Array) => void;
  /** Abort all sequences (e.g. Ctrl-C, client disconnect). */
  signal?: AbortSignal;
}

/** Generate for every prompt; sequence b samples with seed `seed + b` (when a seed is given). */
export async function generateIds(rt: InferenceRuntime, prompts: readonly (readonly number[])[], opts: GenerateOptions = {}): Promise<Generation[]> {
  if (prompts.length === 0) return [];
  const scheduler = new Scheduler(rt, { maxBatch: prompts.length, maxQueue: prompts.length });
  const { onToken, onLogits, seed, ...rest } = opts;
  // Every prompt is checked before any is queued.
  const requests = prompts.map((prompt, b) => ({
    ...rest,
    prompt,
    seed: seed === undefined ? undefined : seed + b,
    onToken: onToken && ((id: number) => onToken(b, id)),
    onLogits: onLogits && ((logits: Float32Array) => onLogits(b, logits.slice())),
  }));
  requests.forEach((r, b) => checkPrompt(rt.config, r, `prompt ${b}`));
  const pending = requests.map((r, b) => scheduler.submit(r, `prompt ${b}`));
  return Promise.all(pending);
}

/** Logits [T, V] of every position of `ids` under the model: one scoring pass over the whole sequence. */
export async function sequenceLogits(rt: InferenceRuntime, ids: readonly number[]): Promise<Float32Array> {
  const session = await rt.sessions.score();
  const out = await session.run({ ...sequenceFeeds(rt.config, [[{ ids, at: 0 }]], ids.length) });
  return out['logits']!.data as Float32Array;
}
