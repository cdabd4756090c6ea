import { makeConfig, type ModelConfig } from './config.js';

export interface Preset {
  config: ModelConfig;
  /** Training sequence length the preset is sized for. */
  seq: number;
  description: string;
}

/**
 * Small sizes this 2-core machine can train, the benchmark shape `s`, and the SEED-Text-0.5B shape for loading.
 * Vocabulary sizes are defaults: `kolm init --tokenizer DIR` replaces them with the tokenizer's.
 */
const MICRO = { vocab_size: 16384, hidden_size: 256, intermediate_size: 704, num_hidden_layers: 6, num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 2048 };

export const PRESETS: Record<string, Preset> = {
  nano: {
    seq: 256,
    description: '≈1.8M parameters: 4 layers, hidden 128, 4/2 heads',
    config: makeConfig({ vocab_size: 8192, hidden_size: 128, intermediate_size: 352, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024 }),
  },
  micro: {
    seq: 256,
    description: '≈8.6M parameters: 6 layers, hidden 256, 8/4 heads',
    config: makeConfig(MICRO),
  },
  small: {
    seq: 512,
    description: '≈40M parameters: 8 layers, hidden 512, 8/4 heads',
    config: makeConfig({ vocab_size: 32768, hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 4096 }),
  },
  'micro-periln': {
    seq: 256,
    description: 'micro with HyperCLOVAX Peri-LN and μP multipliers',
    config: makeConfig({
      ...MICRO,
      use_post_norm: true, embedding_multiplier: 10, attention_multiplier: 1 / 32, residual_multiplier: 1, logits_scaling: 0.125,
    }),
  },
  s: {
    seq: 256,
    description: 'benchmark shape: vocab 16384, hidden 256, 6 layers, 8/4 heads, SwiGLU 704, tied, seq 256',
    config: makeConfig(MICRO),
  },
  'seed-0.5b': {
    seq: 4096,
    description: 'HyperCLOVAX-SEED-Text-0.5B shape (Llama, tied, vocab 110592, hidden 1024, 24 layers, SwiGLU 4096, GQA)',
    config: makeConfig({
      vocab_size: 110592, hidden_size: 1024, intermediate_size: 4096, num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 64,
      max_position_embeddings: 4096, rope_theta: 1e6,
    }),
  },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}
