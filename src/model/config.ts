/**
 * The architecture family: one HF-compatible config for the Llama-shaped decoders kolm runs — Llama, HyperCLOVA X,
 * Qwen2 and Qwen3. Field names are exactly those of transformers' LlamaConfig / HyperCLOVAXConfig / Qwen2Config /
 * Qwen3Config, so config.json round-trips without a mapping layer (fields kolm does not use are kept as read).
 */
import { KolmError } from '../util/errors.js';

export type RopeScaling =
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'dynamic'; factor: number; original_max_position_embeddings?: number }
  | { rope_type: 'yarn'; factor: number; original_max_position_embeddings: number; beta_fast?: number; beta_slow?: number; attention_factor?: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

export type ModelType = 'llama' | 'hyperclovax' | 'qwen2' | 'qwen3';

/** The architectures kolm loads, by config.json `model_type`. */
export const ARCHITECTURES: Record<ModelType, string> = {
  llama: 'LlamaForCausalLM',
  hyperclovax: 'HyperCLOVAXForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

export interface ModelConfig {
  architectures: string[];
  model_type: ModelType;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  tie_word_embeddings: boolean;
  hidden_act: 'silu';
  /** Biases on q/k/v/o (Llama, Qwen3); Qwen2 has q/k/v biases whatever this says. */
  attention_bias: boolean;
  /** Biases on gate/up/down (Llama). */
  mlp_bias: boolean;
  initializer_range: number;
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
  torch_dtype?: string;
  // HyperCLOVAX: Peri-LN and μP multipliers (absent = the Llama behaviour).
  use_post_norm?: boolean;
  embedding_multiplier?: number;
  attention_multiplier?: number;
  residual_multiplier?: number;
  logits_scaling?: number;
  // Qwen2/Qwen3: sliding-window attention (kolm refuses use_sliding_window = true).
  use_sliding_window?: boolean;
  sliding_window?: number | null;
  max_window_layers?: number;
}

/** Parameter layout switches the decoder reads (one place, so every graph and loader agree). */
export function features(c: ModelConfig) {
  return {
    /** q_proj/k_proj/v_proj carry biases: Qwen2 always, Llama/Qwen3/HyperCLOVAX with attention_bias. */
    qkvBias: c.model_type === 'qwen2' || c.attention_bias,
    /** o_proj carries a bias: Llama/Qwen3/HyperCLOVAX with attention_bias (Qwen2's o_proj has none). */
    oBias: c.model_type !== 'qwen2' && c.attention_bias,
    /** gate/up/down carry biases (Llama's mlp_bias). */
    mlpBias: c.mlp_bias,
    /** RMSNorm over each head of q and k before rotary embeddings (Qwen3's q_norm/k_norm). */
    qkNorm: c.model_type === 'qwen3',
  };
}

/** True when the config needs HyperCLOVAX semantics rather than plain Llama's. */
export function isHyperClovaX(c: ModelConfig): boolean {
  return Boolean(c.use_post_norm) || [c.embedding_multiplier, c.residual_multiplier, c.logits_scaling].some((m) => m !== undefined && m !== 1)
    || (c.attention_multiplier !== undefined && Math.abs(c.attention_multiplier - 1 / Math.sqrt(c.head_dim)) > 1e-12);
}

/** Effective μP multipliers with their neutral defaults. */
export function multipliers(c: ModelConfig) {
  return {
    embedding: c.embedding_multiplier ?? 1,
    attention: c.attention_multiplier ?? 1 / Math.sqrt(c.head_dim),
    residual: c.residual_multiplier ?? 1,
    logits: c.logits_scaling ?? 1,
  };
}

export function makeConfig(fields: Partial<ModelConfig> & Pick<ModelConfig, 'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads'>): ModelConfig {
  const c: ModelConfig = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    num_key_value_heads: fields.num_attention_heads,
    head_dim: fields.hidden_size / fields.num_attention_heads,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: null,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    torch_dtype: 'float32',
    ...fields,
  };
  if (c.model_type === 'llama' && isHyperClovaX(c)) c.model_type = 'hyperclovax';
  if (c.model_type === 'hyperclovax') c.use_post_norm ??= false;
  if (!fields.architectures) c.architectures = [ARCHITECTURES[c.model_type]];
  return validateConfig(c, 'config');
}

/** Check a parsed config.json; errors name the source and the field. */
export function validateConfig(raw: unknown, source: string): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new KolmError(`${source}: expected a JSON object`);
  const c = raw as Record<string, unknown>;
  const fail = (field: string, why: string): never => {
    throw new KolmError(`${source}: field '${field}' ${why} (got ${JSON.stringify(c[field])})`);
  };
  const int = (field: string, min = 1) => {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(field, `must be an integer >= ${min}`);
  };
  const num = (field: string, optional = false) => {
    const v = c[field];
    if (optional && v === undefined) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(field, 'must be a positive number');
  };
  const type = c['model_type'];
  if (typeof type !== 'string' || !Object.hasOwn(ARCHITECTURES, type)) fail('model_type', `must be one of ${Object.keys(ARCHITECTURES).join(', ')}`);
  for (const f of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'max_position_embeddings']) int(f);
  if (c['num_key_value_heads'] === undefined) c['num_key_value_heads'] = c['num_attention_heads'];
  int('num_key_value_heads');
  if ((c['num_attention_heads'] as number) % (c['num_key_value_heads'] as number) !== 0) fail('num_key_value_heads', `must divide num_attention_heads (${c['num_attention_heads']})`);
  if (c['head_dim'] === undefined || c['head_dim'] === null) c['head_dim'] = (c['hidden_size'] as number) / (c['num_attention_heads'] as number);
  int('head_dim', 2);
  if ((c['head_dim'] as number) % 2 !== 0) fail('head_dim', 'must be even (rotary embeddings rotate pairs)');
  c['rms_norm_eps'] ??= 1e-6;
  c['rope_theta'] ??= 10000;
  c['initializer_range'] ??= 0.02;
  c['tie_word_embeddings'] ??= false; // transformers' LlamaConfig default
  num('rms_norm_eps');
  num('rope_theta');
  num('initializer_range');
  if (c['hidden_act'] !== undefined && c['hidden_act'] !== 'silu') fail('hidden_act', "must be 'silu'");
  c['hidden_act'] = 'silu';
  for (const f of ['attention_bias', 'mlp_bias']) {
    if (c[f] === undefined || c[f] === null) c[f] = false;
    else if (typeof c[f] !== 'boolean') fail(f, 'must be a boolean');
  }
  if ((type === 'qwen2' || type === 'qwen3') && c['mlp_bias'] === true) fail('mlp_bias', `is not part of ${type} (its MLP has no biases)`);
  if (c['use_sliding_window'] === true) {
    fail('use_sliding_window', 'is true: sliding-window attention is not supported (kolm attends over the whole context); set it to false to run with full attention');
  }
  for (const m of ['embedding_multiplier', 'attention_multiplier', 'residual_multiplier', 'logits_scaling']) {
    if (c[m] === null) delete c[m];
    num(m, true);
    if ((type === 'qwen2' || type === 'qwen3') && c[m] !== undefined) fail(m, `is a HyperCLOVAX μP multiplier, not part of ${type}`);
  }
  if (c['use_post_norm'] !== undefined && typeof c['use_post_norm'] !== 'boolean') fail('use_post_norm', 'must be a boolean');
  // transformers' HyperCLOVAX configuration and modelling files disagree on what a missing use_post_norm means, so a
  // HyperCLOVAX checkpoint must say; kolm never guesses whether its blocks have Peri-LN norms.
  if (type === 'hyperclovax' && c['use_post_norm'] === undefined) {
    fail('use_post_norm', "is missing: a HyperCLOVAX config must state it (true: Peri-LN post_norm1/post_norm2 in every block; false: plain pre-norm), since transformers' defaults for it disagree between its files");
  }
  if (type !== 'hyperclovax' && c['use_post_norm'] === true) fail('use_post_norm', `is true, but Peri-LN norms belong to HyperCLOVAX configs (model_type '${type}')`);
  c['rope_scaling'] = validateRopeScaling(c['rope_scaling'] ?? null, source);
  if (!Array.isArray(c['architectures'])) c['architectures'] = [ARCHITECTURES[type as ModelType]];
  // The family must match model_type (a Qwen2 checkpoint never runs as Llama); the head may differ
  // (LlamaForSequenceClassification for reward models).
  const family = ARCHITECTURES[type as ModelType].replace(/ForCausalLM$/, 'For');
  const arch = (c['architectures'] as unknown[])[0];
  if (arch !== undefined && !(typeof arch === 'string' && arch.startsWith(family))) fail('architectures', `must name a ${family}… class for model_type '${type}', e.g. ['${ARCHITECTURES[type as ModelType]}']`);
  return c as unknown as ModelConfig;
}

function validateRopeScaling(raw: unknown, source: string): RopeScaling | null {
  if (raw === null) return null;
  const r = raw as Record<string, unknown>;
  const type = r['rope_type'] ?? r['type'];
  const factor = r['factor'];
  if (type === 'default') return null;
  if (typeof factor !== 'number' || !(factor >= 1)) throw new KolmError(`${source}: field 'rope_scaling.factor' must be a number >= 1 (got ${JSON.stringify(factor)})`);
  if (type === 'linear') return { rope_type: 'linear', factor };
  if (type === 'dynamic') return { ...(r as object), rope_type: 'dynamic', factor } as RopeScaling;
  if (type === 'llama3') {
    for (const f of ['low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']) {
      if (typeof r[f] !== 'number' || !(r[f] > 0)) throw new KolmError(`${source}: field 'rope_scaling.${f}' must be a positive number for llama3 (got ${JSON.stringify(r[f])})`);
    }
    if (!((r['high_freq_factor'] as number) > (r['low_freq_factor'] as number))) throw new KolmError(`${source}: rope_scaling.high_freq_factor must exceed low_freq_factor`);
    return { ...(r as object), rope_type: 'llama3', factor } as RopeScaling;
  }
  if (type === 'yarn') {
    if (typeof r['original_max_position_embeddings'] !== 'number') throw new KolmError(`${source}: field 'rope_scaling.original_max_position_embeddings' is required for yarn`);
    return { ...(r as object), rope_type: 'yarn', factor } as RopeScaling;
  }
  throw new KolmError(`${source}: field 'rope_scaling.rope_type' must be linear, dynamic, yarn or llama3 (got ${JSON.stringify(type)})`);
}
