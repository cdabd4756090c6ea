/**
 * Quantized folders in the compressed-tensors `pack-quantized` layout (what llm-compressor writes and vLLM and
 * transformers load): config.json's `quantization_config` names the scheme, and each quantized linear layer `X` stores
 * `X.weight_packed` (int32 [out, in·bits/32]: values offset by 2^(bits−1), packed low bits first),
 * `X.weight_scale` ([out, in/group], here binary16) and `X.weight_shape` (int64 [2]). Those packed bytes are exactly
 * MatMulNBits' blocks (model/quantize.ts), so a layer loads without repacking. kolm reads and writes the symmetric
 * int4/int8 group scheme, weights only; anything else is refused with the config field named.
 */
import { KolmError } from '../util/errors.js';
import type { StRawTensor, StTensor } from '../formats/safetensors.js';
import type { ModelConfig } from './config.js';
import type { QuantBits, QuantizedMatrix } from './quantize.js';

export interface FolderQuantization {
  bits: QuantBits;
  groupSize: number;
  /** Layers left in float (module names, e.g. `lm_head`). */
  ignore: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The folder's quantization, from config.json's `quantization_config` (undefined when it has none). */
export function folderQuantization(c: ModelConfig, source: string): FolderQuantization | undefined {
  const q = (c as unknown as Record<string, unknown>)['quantization_config'];
  if (q === undefined || q === null) return undefined;
  const fail = (field: string, why: string, value: unknown): never => {
    throw new KolmError(`${source}: field quantization_config.${field} ${why} (got ${JSON.stringify(value)}); kolm runs compressed-tensors "pack-quantized" symmetric int4/int8 group weights`);
  };
  if (!isObject(q)) return fail('(root)', 'must be an object', q);
  if (q['quant_method'] !== 'compressed-tensors') fail('quant_method', 'must be "compressed-tensors"', q['quant_method']);
  if (q['format'] !== 'pack-quantized') fail('format', 'must be "pack-quantized"', q['format']);
  const groups = q['config_groups'];
  if (!isObject(groups) || Object.keys(groups).length !== 1) return fail('config_groups', 'must hold exactly one group', groups);
  const [groupName, group] = Object.entries(groups)[0]!;
  const at = `config_groups.${groupName}`;
  if (!isObject(group)) return fail(at, 'must be an object', group);
  const targets = group['targets'];
  if (!Array.isArray(targets) || targets.length !== 1 || targets[0] !== 'Linear') fail(`${at}.targets`, 'must be ["Linear"]', targets);
  for (const f of ['input_activations', 'output_activations'] as const) if (group[f] != null) fail(`${at}.${f}`, 'must be null (weight-only quantization)', group[f]);
  const w = group['weights'];
  if (!isObject(w)) return fail(`${at}.weights`, 'must be an object', w);
  if (w['num_bits'] !== 4 && w['num_bits'] !== 8) fail(`${at}.weights.num_bits`, 'must be 4 or 8', w['num_bits']);
  if (w['type'] !== 'int') fail(`${at}.weights.type`, 'must be "int"', w['type']);
  if (w['symmetric'] !== true) fail(`${at}.weights.symmetric`, 'must be true', w['symmetric']);
  if (w['strategy'] !== 'group') fail(`${at}.weights.strategy`, 'must be "group"', w['strategy']);
  const size = w['group_size'];
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 16 || (size & (size - 1)) !== 0) fail(`${at}.weights.group_size`, 'must be a power of two >= 16', size);
  if (w['actorder'] != null && w['actorder'] !== false) fail(`${at}.weights.actorder`, 'must be null', w['actorder']);
  if (w['dynamic'] === true) fail(`${at}.weights.dynamic`, 'must be false', w['dynamic']);
  const ignore = q['ignore'] ?? [];
  if (!Array.isArray(ignore) || !ignore.every((x) => typeof x === 'string')) return fail('ignore', 'must be an array of module names', ignore);
  for (const name of ignore as string[]) if (name.startsWith('re:')) fail('ignore', 'must list module names (regular expressions are not supported)', name);
  return { bits: w['num_bits'] as QuantBits, groupSize: size as number, ignore: ignore as string[] };
}

/** Whether the matrix `weightName` (HF `….weight`) is quantized under `q`: every linear layer not ignored. */
export function isQuantizedLayer(weightName: string, q: FolderQuantization): boolean {
  if (weightName === 'model.embed_tokens.weight' || !weightName.endsWith('.weight')) return false;
  const module = weightName.slice(0, -'.weight'.length);
  if (q.ignore.includes(module)) return false;
  return /_proj$/.test(module) || module === 'lm_head';
}

/** The tensors stored for a quantized matrix `….weight`. */
export function packedTensorNames(weightName: string): { packed: string; scale: string; shape: string } {
  const base = weightName.slice(0, -'.weight'.length);
  return { packed: `${base}.weight_packed`, scale: `${base}.weight_scale`, shape: `${base}.weight_shape` };
}

/** config.json's `quantization_config` for `q`. */
export function quantizationConfig(q: FolderQuantization): Record<string, unknown> {
  return {
    quant_method: 'compressed-tensors',
    format: 'pack-quantized',
    quantization_status: 'compressed',
    config_groups: {
      group_0: {
        targets: ['Linear'],
        weights: { num_bits: q.bits, type: 'int', symmetric: true, strategy: 'group', group_size: q.groupSize, dynamic: false, actorder: null, observer: 'minmax', block_structure: null },
        input_activations: null,
        output_activations: null,
        format: 'pack-quantized',
      },
    },
    ignore: q.ignore,
    kv_cache_scheme: null,
    sparsity_config: {},
  };
}

/** A stored layer as a QuantizedMatrix, every size checked against the config's shape for it. */
export function fromPackedTensors(
  weightName: string,
  want: readonly number[],
  parts: { packed: StRawTensor; scale: StTensor; shape: StRawTensor },
  q: FolderQuantization,
  file: string,
): QuantizedMatrix {
  const names = packedTensorNames(weightName);
  const [rows, cols] = want as [number, number];
  const shape = new BigInt64Array(parts.shape.bytes.slice().buffer);
  if (parts.shape.shape.join() !== '2' || Number(shape[0]) !== rows || Number(shape[1]) !== cols) {
    throw new KolmError(`${file}: tensor '${names.shape}' is [${Array.from(shape).join(', ')}], config.json implies [${rows}, ${cols}]`);
  }
  if (cols % q.groupSize !== 0) throw new KolmError(`${file}: '${weightName}' rows of ${cols} do not divide into groups of ${q.groupSize}`);
  const packedShape = [rows, (cols * q.bits) / 32];
  if (parts.packed.shape.join() !== packedShape.join()) throw new KolmError(`${file}: tensor '${names.packed}' has shape [${parts.packed.shape}], expected [${packedShape}] for ${q.bits}-bit [${rows}, ${cols}]`);
  const scaleShape = [rows, cols / q.groupSize];
  if (parts.scale.shape.join() !== scaleShape.join()) throw new KolmError(`${file}: tensor '${names.scale}' has shape [${parts.scale.shape}], expected [${scaleShape}] for groups of ${q.groupSize}`);
  return { kind: 'nbits', bits: q.bits, blockSize: q.groupSize, shape: [rows, cols], blocks: parts.packed.bytes, scales: parts.scale.data };
}

/** The tensors to store for a quantized matrix: packed bytes as int32, binary16 scales (exact), the float shape. */
export function toPackedTensors(weightName: string, m: QuantizedMatrix): Record<string, StTensor | StRawTensor> {
  const names = packedTensorNames(weightName);
  const [rows, cols] = m.shape;
  return {
    [names.packed]: { dtype: 'I32', shape: [rows, (cols * m.bits) / 32], bytes: m.blocks },
    [names.scale]: { shape: [rows, cols / m.blockSize], data: m.scales, storeAs: 'F16' },
    [names.shape]: { dtype: 'I64', shape: [2], bytes: new Uint8Array(BigInt64Array.from([BigInt(rows), BigInt(cols)]).buffer) },
  };
}
