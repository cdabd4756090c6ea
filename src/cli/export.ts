/**
 * `kolm export gguf|onnx` and `kolm import gguf`: model folders to and from llama.cpp's GGUF, and the ONNX layout
 * transformers.js loads.
 */
import { parseArgs } from 'node:util';
import { exportGguf, importGguf, GGUF_EXPORT_TYPES, type GgufExportType } from '../interchange/gguf.js';
import { exportOnnxFolder } from '../interchange/onnx.js';
import { KolmError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';

export const EXPORT_USAGE = `usage:
  kolm export gguf --model DIR --out FILE [--type f32|f16|q8_0|q4_0] [--name NAME] [--json]
      llama.cpp GGUF (llama, qwen2 or qwen3 architecture from model_type; default type f16; norms and biases stay
      f32; q8_0/q4_0 fall back to f16 for rows that are not a multiple of 32, and q4_0 keeps an untied output
      matrix at q8_0). A folder made by \`kolm quantize\` (groups of 32) is written as the q8_0/q4_0 blocks it holds.
      HyperCLOVAX Peri-LN/μP configs are refused: llama.cpp cannot express them.
  kolm export onnx --model DIR --out DIR2 [--external-data auto|yes|no] [--json]
      transformers.js (v4) folder: onnx/model.onnx (+ model.onnx_data), config.json, generation_config.json,
      tokenizer files. Weights go to model.onnx_data automatically above 1 GiB.`;

export const IMPORT_USAGE = `usage:
  kolm import gguf --file FILE --out DIR [--json]
      rebuild a kolm/HF model folder (config.json, float32 model.safetensors, tokenizer.json,
      tokenizer_config.json) from a llama, qwen2 or qwen3 GGUF with a gpt2/qwen2 tokenizer (F32/F16/BF16/Q8_0
      tensors).`;

function need(value: string | undefined, flag: string, usage: string): string {
  if (!value) throw new KolmError(`${flag} is required\n${usage}`);
  return value;
}

/** `kolm export <gguf|onnx> ...` */
export async function run(argv: string[]): Promise<void> {
  const [format, ...rest] = argv;
  if (!format || format === '--help' || format === '-h') {
    console.log(EXPORT_USAGE);
    if (!format) process.exitCode = 1;
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      out: { type: 'string' },
      type: { type: 'string' },
      name: { type: 'string' },
      'external-data': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(EXPORT_USAGE);
    return;
  }
  const model = need(values.model, '--model', EXPORT_USAGE);
  const out = need(values.out, '--out', EXPORT_USAGE);
  if (format === 'gguf') {
    const type = values.type as GgufExportType | undefined;
    if (type !== undefined && !GGUF_EXPORT_TYPES.includes(type)) throw new KolmError(`--type must be one of ${GGUF_EXPORT_TYPES.join(', ')}, got '${values.type}'`);
    const summary = await exportGguf(model, out, { type, name: values.name });
    if (values.json) console.log(JSON.stringify(summary));
    else console.log(`${out}: GGUF ${summary.type} (${summary.tensors} tensors: ${Object.entries(summary.tensorTypes).map(([t, n]) => `${n} ${t}`).join(', ')}; ${summary.metadataKeys} metadata keys)`);
    return;
  }
  if (format === 'onnx') {
    const flag = values['external-data'] ?? 'auto';
    const externalData = flag === 'auto' ? 'auto' : flag === 'yes' ? true : flag === 'no' ? false : undefined;
    if (externalData === undefined) throw new KolmError(`--external-data must be auto, yes or no, got '${flag}'`);
    if (values.type !== undefined) throw new KolmError('--type applies to GGUF only; the ONNX export is float32');
    const summary = await exportOnnxFolder(model, out, { externalData });
    if (values.json) console.log(JSON.stringify(summary));
    else {
      const data = summary.externalDataBytes ? ` + onnx/model.onnx_data ${formatBytes(summary.externalDataBytes)}` : '';
      console.log(`${out}: transformers.js ONNX (onnx/model.onnx ${formatBytes(summary.modelBytes)}${data}; ${summary.inputs.length} inputs, ${summary.outputs.length} outputs)`);
    }
    return;
  }
  throw new KolmError(`unknown export format '${format}' (gguf or onnx)\n${EXPORT_USAGE}`);
}

/** `kolm import gguf ...` */
export async function runImport(argv: string[]): Promise<void> {
  const [format, ...rest] = argv;
  if (!format || format === '--help' || format === '-h') {
    console.log(IMPORT_USAGE);
    if (!format) process.exitCode = 1;
    return;
  }
  if (format !== 'gguf') throw new KolmError(`unknown import format '${format}' (gguf)\n${IMPORT_USAGE}`);
  const { values } = parseArgs({ args: rest, options: { file: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(IMPORT_USAGE);
    return;
  }
  const summary = await importGguf(need(values.file, '--file', IMPORT_USAGE), need(values.out, '--out', IMPORT_USAGE));
  const c = summary.config;
  if (values.json) console.log(JSON.stringify({ dir: summary.dir, tensors: summary.tensors, tensorTypes: summary.tensorTypes, config: c }));
  else {
    console.log(
      `${summary.dir}: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads}/${c.num_key_value_heads} heads × ${c.head_dim}, ` +
        `vocab ${c.vocab_size}${c.tie_word_embeddings ? ', tied embeddings' : ''} (${summary.tensors} tensors from ${Object.entries(summary.tensorTypes).map(([t, n]) => `${n} ${t}`).join(', ')})`,
    );
  }
}
