/**
 * Export a kolm model folder as the ONNX layout transformers.js (`@huggingface/transformers` v4) loads:
 *
 *   DIR/onnx/model.onnx (+ onnx/model.onnx_data for large models), config.json, generation_config.json, tokenizer files
 *
 * The graph has the interface of optimum's decoder exports: inputs `input_ids`,
 * `attention_mask` [batch, past + new], `position_ids` and `past_key_values.{i}.key/value` [batch, kv_heads, past,
 * head_dim]; outputs `logits` and `present.{i}.key/value` (the past concatenated with the new tokens' keys/values).
 * Rotary tables are gathered by `position_ids` from constants, masks are computed in the graph from `attention_mask`
 * and the run-time lengths, so left-padded batches and any cache length work. Qwen2 and Qwen3 models keep their
 * model_type (transformers.js runs both with this interface). HyperCLOVAX models (Peri-LN, μP multipliers) export
 * too: the graph carries their semantics, and config.json says `llama` only so transformers.js picks its decoder-only
 * generation loop and cache layout.
 */
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Graph, type Tensor } from '../graph/tensor.js';
import type { NDArray } from '../graph/ndarray.js';
import { exportOnnx, type OnnxModel } from '../graph/onnx/export.js';
import { arange, dimSize } from '../graph/ops/dynamic.js';
import type { ModelConfig } from '../model/config.js';
import { pastKeyValueAttention } from '../model/attention.js';
import { decoder, weightsOf } from '../model/decoder.js';
import { MASKED } from '../model/feeds.js';
import { declareWeights } from '../model/graphs.js';
import { loadModelFolder, TOKENIZER_FILES } from '../model/folder.js';
import { paramSpecs } from '../model/params.js';
import { ropeFrequencies, ropeTables } from '../model/rope.js';
import { SPECIAL_TOKENS } from '../tokenizer/special-tokens.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeFileAtomic, writeFolderAtomic } from '../util/atomic.js';
import { KolmError } from '../util/errors.js';

/** Symbolic dim names as optimum writes them; transformers.js sizes empty caches by the one named `batch_size`. */
export const ONNX_DIMS = { batch: 'batch_size', seq: 'sequence_length', past: 'past_sequence_length', total: 'total_sequence_length' } as const;

export const pastName = (l: number, kind: 'key' | 'value') => `past_key_values.${l}.${kind}`;
export const presentName = (l: number, kind: 'key' | 'value') => `present.${l}.${kind}`;

/**
 * The decoder graph with transformers.js' inputs and outputs. Parameters are graph inputs named as in the HF folder
 * (exported as initializers). Returns the outputs by name.
 */
export function buildTransformersJsGraph(c: ModelConfig): { graph: Graph; outputs: Record<string, Tensor> } {
  if (c.rope_scaling?.rope_type === 'dynamic') {
    throw new KolmError(`config.json: rope_scaling.rope_type = "dynamic" recomputes frequencies per sequence length; the ONNX export tabulates fixed ones (use linear or yarn)`);
  }
  const { batch, seq, past, total } = ONNX_DIMS;
  const g = new Graph('model');
  const weights = declareWeights(g, c);
  const inputIds = g.input('input_ids', [batch, seq], 'int64');
  const attentionMask = g.input('attention_mask', [batch, total], 'int64');
  const positionIds = g.input('position_ids', [batch, seq], 'int64');
  const kv = c.num_key_value_heads;
  const d = c.head_dim;
  const pastKv = Array.from({ length: c.num_hidden_layers }, (_, l) => ({
    key: g.input(pastName(l, 'key'), [batch, kv, past, d]),
    value: g.input(pastName(l, 'value'), [batch, kv, past, d]),
  }));

  // Rotary tables for every position the model supports, gathered by position_ids: [B, 1, T, D].
  const positions = Array.from({ length: c.max_position_embeddings }, (_, i) => i);
  const tables = ropeTables(ropeFrequencies(c), positions);
  const cos = g.constant(tables.cos).gather(positionIds).unsqueeze(1);
  const sin = g.constant(tables.sin).gather(positionIds).unsqueeze(1);

  // One additive mask [B, 1, T, past + T] from attention_mask: padding (0 entries) hidden everywhere, and a key is
  // hidden from a query when its slot comes later (query t sits at slot past + t).
  const padding = attentionMask.cast('float32').sub(1).mul(-MASKED).unsqueeze(1).unsqueeze(1); // [B, 1, 1, total]: 0 or -1e9
  const querySlots = arange(inputIds, 1).add(dimSize(pastKv[0]!.key, 2)); // [T]
  const future = arange(attentionMask, 1).unsqueeze(0).gt(querySlots.unsqueeze(1)); // [T, total]
  const mask = padding.add(g.where(future, MASKED, 0));

  const attention = pastKeyValueAttention(c, { cos, sin, mask, past: pastKv, totalLength: { like: attentionMask, axis: 1 } });
  const { logits } = decoder(c, inputIds, { weight: weightsOf(weights, 'ONNX export'), attention });
  const outputs: Record<string, Tensor> = { logits };
  attention.present.forEach((p, l) => {
    outputs[presentName(l, 'key')] = p.key;
    outputs[presentName(l, 'value')] = p.value;
  });
  return { graph: g, outputs };
}

export interface OnnxExportFolderOptions {
  /** Weights in a side file `onnx/model.onnx_data`: 'auto' (default) when they exceed 1 GiB (protobuf's 2 GiB cap). */
  externalData?: 'auto' | boolean;
}

export interface OnnxExportSummary {
  dir: string;
  modelBytes: number;
  externalDataBytes: number;
  inputs: string[];
  outputs: string[];
}

const EXTERNAL_AUTO_BYTES = 1 << 30;

/** The transformers.js model: graph bytes (and external data) for a config and its weights. */
export function exportTransformersJsOnnx(c: ModelConfig, weights: Record<string, { shape: readonly number[]; data: ArrayLike<number> }>, opts: OnnxExportFolderOptions = {}): OnnxModel {
  const { outputs } = buildTransformersJsGraph(c);
  const bytes = paramSpecs(c).reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const external = opts.externalData === true || ((opts.externalData ?? 'auto') === 'auto' && bytes > EXTERNAL_AUTO_BYTES);
  return exportOnnx(outputs, {
    graphName: 'model',
    opset: 18,
    initializers: weights as Record<string, NDArray>,
    externalData: external ? { location: 'model.onnx_data' } : undefined,
  });
}

/**
 * Stop ids transformers.js should honour, as kolm's generation does: config.json's and generation_config.json's
 * eos_token_id (one or several, as SEED's `<|endofturn|>` and `<|stop|>`) and kolm's end-of-turn tokens.
 */
async function endTokenIds(modelDir: string, c: ModelConfig, generation: Record<string, unknown>): Promise<number[]> {
  const ids = new Set<number>();
  for (const id of [c.eos_token_id, generation['eos_token_id']].flat()) if (typeof id === 'number') ids.add(id);
  // Any tokenizer.json kolm reads (its own or a published one); only special tokens count as ends.
  const tok = await Tokenizer.load(modelDir);
  for (const name of [SPECIAL_TOKENS.endOfText, SPECIAL_TOKENS.imEnd, SPECIAL_TOKENS.endOfTurn, SPECIAL_TOKENS.stop]) {
    const id = tok.specialTokens[name];
    if (id !== undefined) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}

/**
 * Write `outDir` for transformers.js from the kolm folder `modelDir`. The folder appears atomically (built in a
 * sibling temp folder, then renamed into place).
 */
export async function exportOnnxFolder(modelDir: string, outDir: string, opts: OnnxExportFolderOptions = {}): Promise<OnnxExportSummary> {
  const model = await loadModelFolder(modelDir);
  const c = model.config;
  if (!existsSync(join(modelDir, 'tokenizer.json'))) throw new KolmError(`${join(modelDir, 'tokenizer.json')}: not found; transformers.js needs the tokenizer files`);
  const onnx = exportTransformersJsOnnx(c, model.weights, opts);

  const native = c.model_type === 'qwen2' || c.model_type === 'qwen3';
  const config: Record<string, unknown> = {
    ...c,
    architectures: native ? c.architectures : ['LlamaForCausalLM'],
    model_type: native ? c.model_type : 'llama',
    'transformers.js_config': { dtype: 'fp32', use_external_data_format: Boolean(onnx.externalData) },
  };
  if (config['model_type'] !== c.model_type) config['kolm_source_model_type'] = c.model_type;
  const generationPath = join(modelDir, 'generation_config.json');
  const generation: Record<string, unknown> = existsSync(generationPath) ? JSON.parse(await readFile(generationPath, 'utf8')) : {};
  const ends = await endTokenIds(modelDir, c, generation);
  generation['eos_token_id'] = ends.length === 1 ? ends[0] : ends;
  if (c.bos_token_id != null) generation['bos_token_id'] ??= c.bos_token_id;
  if (c.pad_token_id != null) generation['pad_token_id'] ??= c.pad_token_id;

  await writeFolderAtomic(outDir, async (tmp) => {
    await mkdir(join(tmp, 'onnx'), { recursive: true });
    await writeFileAtomic(join(tmp, 'onnx', 'model.onnx'), onnx.bytes);
    if (onnx.externalData) await writeFileAtomic(join(tmp, 'onnx', onnx.externalData.location), onnx.externalData.chunks);
    await writeFileAtomic(join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    await writeFileAtomic(join(tmp, 'generation_config.json'), JSON.stringify(generation, null, 2) + '\n');
    for (const f of TOKENIZER_FILES) if (existsSync(join(modelDir, f))) await copyFile(join(modelDir, f), join(tmp, f));
  });
  return {
    dir: outDir,
    modelBytes: onnx.bytes.length,
    externalDataBytes: onnx.externalData?.size ?? 0,
    inputs: onnx.inputs.map((i) => i.name),
    outputs: onnx.outputs,
  };
}
