/**
 * The decode graph: one new token per sequence against the KV cache, built for few kernels per layer, since a
 * batch-1 step is hundreds of tiny kernels whose fixed costs (dispatch, executor gaps) rival the matrix products:
 *
 * - q/k/v are one matrix product and gate/up another, over weights packed at graph-build time (`packDecodeWeights`;
 *   the model folder keeps HF's separate matrices), with the attention scale folded into the query rows;
 * - rotary embeddings are one small matmul per layer over the query and key heads together, by a rotation matrix
 *   built once per step from the cos/sin feeds (`rotaryMatrix`);
 * - attention appends the new key's score to the cache's and runs one Softmax under one mask
 *   (`cachedAttentionStep`), reading the cache in place.
 *
 * Feeds: `input_ids` [B, 1], `cos`/`sin` [B, 1, 1, D], `mask` [B, 1, 1, C + 1] (additive: the cache slots, then the
 * new token), per layer `past.L.key` [B, Hkv, D, C] and `past.L.value` [B, Hkv, C, D]. Outputs: `logits` [B, 1, V]
 * and per layer `present.L.key`/`present.L.value` [B, Hkv, 1, D]. Same function of the weights as `decoderForward`.
 */
import { cachedAttentionStep, linear, rmsNorm, rotaryMatrix } from '../graph/nn.js';
import { Graph, type Tensor } from '../graph/tensor.js';
import { multipliers, type ModelConfig } from '../model/config.js';
import { paramSpecs } from '../model/params.js';

export const pastKey = (l: number) => `past.${l}.key`;
export const pastValue = (l: number) => `past.${l}.value`;
export const presentKey = (l: number) => `present.${l}.key`;
export const presentValue = (l: number) => `present.${l}.value`;

/** Packed projection of layer l: rows of q (times the attention scale), then k, then v: [(Hq + 2·Hkv)·D, hidden]. */
export const qkvName = (l: number) => `model.layers.${l}.self_attn.qkv_proj.weight`;
/** Packed MLP input projection of layer l: rows of gate, then up: [2·intermediate, hidden]. */
export const gateUpName = (l: number) => `model.layers.${l}.mlp.gate_up_proj.weight`;

const packedAway = /\.(self_attn\.[qkv]_proj|mlp\.(gate|up)_proj)\.weight$/;

interface Weight {
  shape: readonly number[];
  data: ArrayLike<number>;
}

/** The decode graph's weights: HF weights with q/k/v and gate/up packed (new arrays), the rest passed through. */
export function packDecodeWeights<W extends Weight>(c: ModelConfig, weights: Record<string, W>): Record<string, W | { dtype: 'float32'; shape: number[]; data: Float32Array }> {
  const out: Record<string, W | { dtype: 'float32'; shape: number[]; data: Float32Array }> = {};
  for (const [name, w] of Object.entries(weights)) if (!packedAway.test(name)) out[name] = w;
  const scale = multipliers(c).attention;
  const get = (name: string) => {
    const w = weights[name];
    if (!w) throw new Error(`packDecodeWeights: missing parameter '${name}'`);
    return w;
  };
  const pack = (parts: { w: Weight; scale?: number }[]) => {
    const rows = parts.reduce((n, p) => n + p.w.shape[0]!, 0);
    const cols = parts[0]!.w.shape[1]!;
    const data = new Float32Array(rows * cols);
    let offset = 0;
    for (const { w, scale: s } of parts) {
      if (s === undefined) data.set(w.data, offset);
      else for (let i = 0; i < w.data.length; i++) data[offset + i] = w.data[i]! * s;
      offset += w.data.length;
    }
    return { dtype: 'float32' as const, shape: [rows, cols], data };
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    out[qkvName(l)] = pack([{ w: get(`${p}.self_attn.q_proj.weight`), scale }, { w: get(`${p}.self_attn.k_proj.weight`) }, { w: get(`${p}.self_attn.v_proj.weight`) }]);
    out[gateUpName(l)] = pack([{ w: get(`${p}.mlp.gate_proj.weight`) }, { w: get(`${p}.mlp.up_proj.weight`) }]);
  }
  return out;
}

/**
 * Declare the decode graph. `packed`: weights named as `packDecodeWeights` returns them (compiled-in initializers);
 * otherwise HF's separate matrices (fed each run, e.g. a policy still training), whose products are concatenated.
 */
export function declareDecode(c: ModelConfig, opts: { packed: boolean; name?: string }): Record<string, Tensor> {
  const g = new Graph(opts.name ?? 'decode');
  const w: Record<string, Tensor> = {};
  const h = c.hidden_size;
  const [hq, hkv, d, inter] = [c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.intermediate_size];
  for (const s of paramSpecs(c)) if (!opts.packed || !packedAway.test(s.name)) w[s.name] = g.input(s.name, s.shape);
  if (opts.packed) {
    for (let l = 0; l < c.num_hidden_layers; l++) {
      w[qkvName(l)] = g.input(qkvName(l), [(hq + 2 * hkv) * d, h]);
      w[gateUpName(l)] = g.input(gateUpName(l), [2 * inter, h]);
    }
  }
  const inputIds = g.input('input_ids', ['batch', 1], 'int64');
  const cos = g.input('cos', ['batch', 1, 1, d]);
  const sin = g.input('sin', ['batch', 1, 1, d]);
  const mask = g.input('mask', ['batch', 1, 1, 'total']);
  const past = Array.from({ length: c.num_hidden_layers }, (_, l) => ({
    keyT: g.input(pastKey(l), ['batch', hkv, d, 'past']),
    value: g.input(pastValue(l), ['batch', hkv, 'past', d]),
  }));

  const m = multipliers(c);
  const eps = c.rms_norm_eps;
  const B = 'batch';
  const param = (name: string) => w[name]!;
  const residualAdd = (x: Tensor, branch: Tensor) => x.add(m.residual === 1 ? branch : branch.mul(m.residual));
  const rotation = rotaryMatrix(cos, sin); // [B, 1, D, D], shared by every layer
  const outputs: Record<string, Tensor> = {};
  let x = param('model.embed_tokens.weight').gather(inputIds); // [B, 1, hidden]
  if (m.embedding !== 1) x = x.mul(m.embedding);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const hn = rmsNorm(x, param(`${p}.input_layernorm.weight`), eps);
    const qkv = opts.packed
      ? linear(hn, param(qkvName(l)))
      : g.concat([linear(hn, param(`${p}.self_attn.q_proj.weight`)).mul(m.attention), linear(hn, param(`${p}.self_attn.k_proj.weight`)), linear(hn, param(`${p}.self_attn.v_proj.weight`))], -1);
    // One token: [B, 1, heads, D] is the memory of [B, heads, 1, D].
    const heads = qkv.reshape([B, 1, hq + 2 * hkv, d]);
    const qk = heads.slice(2, 0, hq + hkv).matmul(rotation);
    const q = qk.slice(2, 0, hq);
    const key = qk.slice(2, hq, hq + hkv).reshape([B, hkv, 1, d]);
    const value = heads.slice(2, hq + hkv, hq + 2 * hkv).reshape([B, hkv, 1, d]);
    outputs[presentKey(l)] = key;
    outputs[presentValue(l)] = value;
    const attended = cachedAttentionStep(q, past[l]!, { key, value }, mask).reshape([B, 1, hq * d]);
    let a = linear(attended, param(`${p}.self_attn.o_proj.weight`));
    if (c.use_post_norm) a = rmsNorm(a, param(`${p}.post_norm1.weight`), eps);
    x = residualAdd(x, a);
    const hm = rmsNorm(x, param(`${p}.post_attention_layernorm.weight`), eps);
    const gateUp = opts.packed ? linear(hm, param(gateUpName(l))) : g.concat([linear(hm, param(`${p}.mlp.gate_proj.weight`)), linear(hm, param(`${p}.mlp.up_proj.weight`))], -1);
    let f = linear(gateUp.slice(-1, 0, inter).silu().mul(gateUp.slice(-1, inter, 2 * inter)), param(`${p}.mlp.down_proj.weight`));
    if (c.use_post_norm) f = rmsNorm(f, param(`${p}.post_norm2.weight`), eps);
    x = residualAdd(x, f);
  }
  let logits = linear(rmsNorm(x, param('model.norm.weight'), eps), param(c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'));
  if (m.logits !== 1) logits = logits.mul(m.logits);
  return { logits, ...outputs };
}
