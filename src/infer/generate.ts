/**
 * Token-level generation for a batch of prompts: one prefill over the left-padded batch, then one decode step per
 * new token against the KV cache, all sequences in lockstep until each stops.
 */
import type { ModelConfig } from '../model/config.js';
import { ropeFrequencies, ropeTables, type RopeFrequencies } from '../model/rope.js';
import { ort } from '../runtime/session.js';
import { KolmError } from '../util/errors.js';
import { pastKey, pastValue, presentKey, presentValue, type InferenceSessions } from './graphs.js';
import { KvCache } from './kv-cache.js';
import { Sampler, type SamplingOptions } from './sampler.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** Generation of a sequence ends after any of these ids (included in the output, like EOS). */
  stopTokenIds?: readonly number[];
  /** Called with each new token; return true to stop that sequence (stop strings, cancellation). */
  onToken?: (sequence: number, id: number) => boolean | void;
  /** Prompts longer than the context: 'error' (default) or keep the last tokens that fit ('left'). */
  truncate?: 'error' | 'left';
  /** Raw next-token logits of a sequence before sampling (log-probabilities, tests). */
  onLogits?: (sequence: number, logits: Float32Array) => void;
  /** Abort all sequences (e.g. Ctrl-C, client disconnect). */
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface Generation {
  ids: number[];
  finishReason: FinishReason;
  promptTokens: number;
}

export interface InferenceRuntime {
  config: ModelConfig;
  sessions: InferenceSessions;
}

const MASKED = -1e9;

export async function generateIds(rt: InferenceRuntime, prompts: readonly (readonly number[])[], opts: GenerateOptions = {}): Promise<Generation[]> {
  const c = rt.config;
  const limit = c.max_position_embeddings;
  if (prompts.length === 0) return [];
  const inputs = prompts.map((p, b) => {
    if (p.length === 0) throw new KolmError(`prompt ${b} is empty`);
    for (const id of p) if (!Number.isInteger(id) || id < 0 || id >= c.vocab_size) throw new KolmError(`prompt ${b}: token id ${id} is outside the vocabulary (0..${c.vocab_size - 1})`);
    if (p.length < limit) return [...p];
    if (opts.truncate === 'left') return p.slice(p.length - (limit - 1));
    throw new KolmError(`prompt ${b} has ${p.length} tokens; the model's context is ${limit} (max_position_embeddings), leaving no room to generate. Shorten it or truncate from the left.`);
  });
  const B = inputs.length;
  const T = Math.max(...inputs.map((p) => p.length));
  const pad = inputs.map((p) => T - p.length);
  const maxNew = Math.min(opts.maxNewTokens ?? 128, limit - T);
  const samplers = inputs.map((_, b) => new Sampler({ ...opts, seed: opts.seed === undefined ? undefined : opts.seed + b }));
  const history = inputs.map((p) => [...p]);
  const out: Generation[] = inputs.map((p) => ({ ids: [], finishReason: 'length', promptTokens: p.length }));
  const done = new Array<boolean>(B).fill(false);
  const stopIds = new Set(opts.stopTokenIds ?? []);
  const d = c.head_dim;
  const dynamicRope = c.rope_scaling?.rope_type === 'dynamic';
  let freq: RopeFrequencies = ropeFrequencies(c, T);

  const rotaryFeeds = (positions: number[][]) => {
    const steps = positions[0]!.length;
    const { cos, sin } = ropeTables(freq, positions.flat());
    const dims = [B, 1, steps, d];
    return { cos: new ort.Tensor('float32', Float32Array.from(cos.data), dims), sin: new ort.Tensor('float32', Float32Array.from(sin.data), dims) };
  };

  // Prefill: left-padded prompts; a key is visible if it is real and not in the future.
  const ids = new BigInt64Array(B * T);
  const mask = new Float32Array(B * T * T).fill(MASKED);
  inputs.forEach((p, b) => {
    p.forEach((id, i) => (ids[b * T + pad[b]! + i] = BigInt(id)));
    for (let i = 0; i < T; i++) for (let j = pad[b]!; j <= i; j++) mask[(b * T + i) * T + j] = 0;
  });
  const prefillPositions = inputs.map((_, b) => Array.from({ length: T }, (_, t) => Math.max(0, t - pad[b]!)));
  const prefill = await rt.sessions.prefill.run({
    input_ids: new ort.Tensor('int64', ids, [B, T]),
    mask: new ort.Tensor('float32', mask, [B, 1, T, T]),
    ...rotaryFeeds(prefillPositions),
  });
  // The prompt plus every decoded token but the last: sized to that when it is smaller than the doubling would be.
  const slots = T + Math.max(maxNew - 1, 0);
  const cache = new KvCache(c.num_hidden_layers, B, c.num_key_value_heads, d, Math.min(slots, Math.max(64, 2 ** Math.ceil(Math.log2(T + 1)))), slots);
  const appendPresent = (result: Record<string, ort.Tensor>) =>
    cache.append(
      Array.from({ length: c.num_hidden_layers }, (_, l) => result[presentKey(l)]!),
      Array.from({ length: c.num_hidden_layers }, (_, l) => result[presentValue(l)]!),
    );
  appendPresent(prefill);
  let logits = prefill['logits']!;

  for (let step = 0; step < maxNew; step++) {
    const V = c.vocab_size;
    const next = new Array<number>(B).fill(0);
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      // Each run returns fresh output buffers, so the row is sampled in place; a copy only for an onLogits reader
      // (penalties adjust the row they sample).
      const view = (logits.data as Float32Array).subarray(b * V, (b + 1) * V);
      const row = opts.onLogits ? view.slice() : view;
      opts.onLogits?.(b, row);
      const id = samplers[b]!.sample(row, history[b]!);
      next[b] = id;
      history[b]!.push(id);
      out[b]!.ids.push(id);
      if (stopIds.has(id)) {
        done[b] = true;
        out[b]!.finishReason = 'stop';
      }
      if (opts.onToken?.(b, id) === true && !done[b]) {
        done[b] = true;
        out[b]!.finishReason = 'stop';
      }
    }
    if (opts.signal?.aborted) {
      for (let b = 0; b < B; b++) if (!done[b]) out[b]!.finishReason = 'abort';
      break;
    }
    if (done.every(Boolean) || step === maxNew - 1) break;

    // Decode one token per sequence against the cache.
    const C = cache.slots;
    const length = cache.length;
    // Additive mask over the cache slots, then the new token (always visible).
    const mask = new Float32Array(B * (C + 1)).fill(MASKED);
    for (let b = 0; b < B; b++) mask.fill(0, b * (C + 1) + pad[b]!, b * (C + 1) + length).fill(0, b * (C + 1) + C, (b + 1) * (C + 1));
    if (dynamicRope) freq = ropeFrequencies(c, length + 1);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(next, (v) => BigInt(v)), [B, 1]),
      mask: new ort.Tensor('float32', mask, [B, 1, 1, C + 1]),
      ...rotaryFeeds(inputs.map((_, b) => [length - pad[b]!])),
    };
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const kv = cache.tensors(l);
      feeds[pastKey(l)] = kv.key;
      feeds[pastValue(l)] = kv.value;
    }
    const result = await rt.sessions.decode.run(feeds);
    appendPresent(result);
    logits = result['logits']!;
  }
  return out;
}

/** Log-probabilities of every next token of `ids` under the model: one scoring pass over the whole sequence. */
export async function sequenceLogits(rt: InferenceRuntime, ids: readonly number[]): Promise<Float32Array> {
  const T = ids.length;
  const mask = new Float32Array(T * T).fill(MASKED);
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) mask[i * T + j] = 0;
  const { cos, sin } = ropeTables(ropeFrequencies(rt.config, T), [...Array(T).keys()]);
  const session = await rt.sessions.score();
  const out = await session.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, T]),
    mask: new ort.Tensor('float32', mask, [1, 1, T, T]),
    cos: new ort.Tensor('float32', Float32Array.from(cos.data), [1, 1, T, rt.config.head_dim]),
    sin: new ort.Tensor('float32', Float32Array.from(sin.data), [1, 1, T, rt.config.head_dim]),
  });
  return out['logits']!.data as Float32Array;
}
