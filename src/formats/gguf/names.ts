/**
 * HF Llama/Qwen parameter names ↔ llama.cpp GGUF tensor names, HF ↔ ggml shape order, and the Q/K row permutation
 * llama.cpp's converter applies to LLaMA attention weights.
 */
import { KolmError } from '../../util/errors.js';

/** Per-layer modules: HF path inside `model.layers.N.` → GGUF name inside `blk.N.`. */
const LAYER_NAMES: Array<[string, string]> = [
  ['self_attn.q_proj', 'attn_q'],
  ['self_attn.k_proj', 'attn_k'],
  ['self_attn.v_proj', 'attn_v'],
  ['self_attn.o_proj', 'attn_output'],
  ['mlp.gate_proj', 'ffn_gate'],
  ['mlp.up_proj', 'ffn_up'],
  ['mlp.down_proj', 'ffn_down'],
  ['self_attn.q_norm', 'attn_q_norm'],
  ['self_attn.k_norm', 'attn_k_norm'],
  ['input_layernorm', 'attn_norm'],
  ['post_attention_layernorm', 'ffn_norm'],
];

/** Model-level modules. */
const GLOBAL_NAMES: Array<[string, string]> = [
  ['model.embed_tokens', 'token_embd'],
  ['model.norm', 'output_norm'],
  ['lm_head', 'output'],
];

const HF_LAYER = /^model\.layers\.(0|[1-9]\d*)\.(.+)\.(weight|bias)$/;
const GGUF_LAYER = /^blk\.(0|[1-9]\d*)\.([a-z_]+)\.(weight|bias)$/;
const SUFFIX = /^(.+)\.(weight|bias)$/;

/** `model.layers.3.self_attn.q_proj.weight` → `blk.3.attn_q.weight`; a KolmError for names llama.cpp has no slot for. */
export function hfToGgufName(name: string): string {
  const layer = HF_LAYER.exec(name);
  if (layer) {
    const hit = LAYER_NAMES.find(([hf]) => hf === layer[2]);
    if (hit) return `blk.${layer[1]}.${hit[1]}.${layer[3]}`;
  } else {
    const m = SUFFIX.exec(name);
    const hit = m && GLOBAL_NAMES.find(([hf]) => hf === m[1]);
    if (m && hit) return `${hit[1]}.${m[2]}`;
  }
  throw new KolmError(`no GGUF tensor name for HF parameter "${name}"`);
}

/** The inverse of `hfToGgufName`. */
export function ggufToHfName(name: string): string {
  const layer = GGUF_LAYER.exec(name);
  if (layer) {
    const hit = LAYER_NAMES.find(([, gg]) => gg === layer[2]);
    if (hit) return `model.layers.${layer[1]}.${hit[0]}.${layer[3]}`;
  } else {
    const m = SUFFIX.exec(name);
    const hit = m && GLOBAL_NAMES.find(([, gg]) => gg === m[1]);
    if (m && hit) return `${hit[0]}.${m[2]}`;
  }
  throw new KolmError(`no HF parameter name for GGUF tensor "${name}"`);
}

/**
 * ggml lists dimensions innermost first; HF/PyTorch outermost first. The bytes are the same row-major data, so
 * converting a shape is a reversal (an HF `[out, in]` weight is ggml `[in, out]`).
 */
export const hfShapeToGguf = (shape: number[]): number[] => [...shape].reverse();
export const ggufShapeToHf = (shape: number[]): number[] => [...shape].reverse();

export interface DenseTensor {
  /** HF order: `[rows, cols]` for a weight, `[rows]` for a bias. */
  shape: number[];
  data: Float32Array;
}

/**
 * HF Llama applies rotary embeddings rotate-half style (dimension i pairs with i + headDim/2); llama.cpp's `llama`
 * architecture rotates adjacent pairs (2i, 2i+1). convert_hf_to_gguf.py therefore permutes the output rows of q_proj
 * (with n_head) and k_proj (with n_head_kv) inside every head:
 *   w.reshape(n_head, 2, rows // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape)
 * so new row h·D + 2i + j holds old row h·D + j·D/2 + i. Pass the number of heads of that projection.
 */
export function permuteForGguf(weight: DenseTensor, nHead: number): DenseTensor {
  return permuteRows(weight, nHead, false);
}

/** The inverse of `permuteForGguf`: GGUF's interleaved q/k rows back to HF's rotate-half order. */
export function unpermuteFromGguf(weight: DenseTensor, nHead: number): DenseTensor {
  return permuteRows(weight, nHead, true);
}

function permuteRows({ shape, data }: DenseTensor, nHead: number, inverse: boolean): DenseTensor {
  const rows = shape[0] ?? 0;
  const cols = shape.length === 1 ? 1 : shape.length === 2 ? shape[1]! : -1;
  if (cols < 0) throw new KolmError(`q/k permutation needs a [rows, cols] weight or a [rows] bias, got shape ${JSON.stringify(shape)}`);
  if (!Number.isInteger(nHead) || nHead < 1 || rows % (2 * nHead) !== 0) {
    throw new KolmError(`q/k permutation: ${rows} rows do not split into ${nHead} heads of even size`);
  }
  if (data.length !== rows * cols) throw new KolmError(`q/k permutation: shape ${JSON.stringify(shape)} does not match ${data.length} values`);
  const headDim = rows / nHead;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < nHead; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const interleaved = (h * headDim + 2 * i + j) * cols;
        const rotateHalf = (h * headDim + j * half + i) * cols;
        const [to, from] = inverse ? [rotateHalf, interleaved] : [interleaved, rotateHalf];
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return { shape: [...shape], data: out };
}
