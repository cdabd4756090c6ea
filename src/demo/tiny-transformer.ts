/**
 * The demo's model: a small Llama-style decoder (pre-RMSNorm, RoPE, grouped-query attention, SwiGLU, tied
 * embeddings) — the one decoder of model/decoder.ts at a size that trains in seconds; also the engine tests'
 * end-to-end subject.
 */
import { makeConfig, type ModelConfig } from '../model/config.js';
import { initParams } from '../model/params.js';
import type { NDArray } from '../graph/ndarray.js';
import { buildLmGraph, type LmGraph } from '../train/lm.js';

export interface TinyConfig {
  vocab: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  layers: number;
  seq: number;
}

export function tinyModelConfig(c: TinyConfig): ModelConfig {
  return makeConfig({
    vocab_size: c.vocab,
    hidden_size: c.hidden,
    intermediate_size: c.ffn,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    max_position_embeddings: c.seq,
    rms_norm_eps: 1e-6,
  });
}

/** The causal-LM training graph for `batch` sequences of `c.seq` tokens. */
export function buildTinyDecoder(c: TinyConfig, batch: number): LmGraph {
  return buildLmGraph(tinyModelConfig(c), batch, c.seq);
}

/** Norm weights 1, matrices N(0, 0.02²), deterministic for a seed. */
export function initTiny(c: TinyConfig, seed: number): Record<string, NDArray> {
  return initParams(tinyModelConfig(c), seed);
}
