/**
 * The architecture family: one HF-compatible config for the HyperCLOVA X line. Field names are exactly those of
 * transformers' LlamaConfig / HyperCLOVAXConfig, so config.json round-trips without a mapping layer.
 */
import { KolmError } from '../util/errors.js';

export type RopeScaling =
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'dynamic'; factor: number; original_max_position_embeddings?: number }
  | { rope_type: 'yarn'; factor: number; original_max_position_embeddings: number; beta_fast?: number; beta_slow?: number; attention_factor?: number };

export interface ModelConfig {
  architectures: string[];
  model_type: 'llama' | 'hyperclovax';
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
  attention_bias: false;
  mlp_bias: false;
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
  if (isHyperClovaX(c)) {
    c.model_type = 'hyperclovax';
    c.architectures = ['HyperCLOVAXForCausalLM'];
  }
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
  if (type !== 'llama' && type !== 'hyperclovax') fail('model_type', "must be 'llama' or 'hyperclovax'");
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
  if (c['attention_bias'] === true) fail('attention_bias', 'is not supported (must be false)');
  if (c['mlp_bias'] === true) fail('mlp_bias', 'is not supported (must be false)');
  c['attention_bias'] = false;
  c['mlp_bias'] = false;
  for (const m of ['embedding_multiplier', 'attention_multiplier', 'residual_multiplier', 'logits_scaling']) {
    if (c[m] === null) delete c[m];
    num(m, true);
  }
  if (c['use_post_norm'] !== undefined && typeof c['use_post_norm'] !== 'boolean') fail('use_post_norm', 'must be a boolean');
  c['rope_scaling'] = validateRopeScaling(c['rope_scaling'] ?? null, source);
  if (!Array.isArray(c['architectures'])) c['architectures'] = [type === 'hyperclovax' ? 'HyperCLOVAXForCausalLM' : 'LlamaForCausalLM'];
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
  if (type === 'yarn') {
    if (typeof r['original_max_position_embeddings'] !== 'number') throw new KolmError(`${source}: field 'rope_scaling.original_max_position_embeddings' is required for yarn`);
    return { ...(r as object), rope_type: 'yarn', factor } as RopeScaling;
  }
  throw new KolmError(`${source}: field 'rope_scaling.rope_type' must be linear, dynamic or yarn (got ${JSON.stringify(type)})`);
}
