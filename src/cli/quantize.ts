/** `kolm quantize`: int8/int4 weight-only quantization of a model folder's linear layers. */
import { parseArgs } from 'node:util';
import { quantizeFolder } from '../model/quantize-folder.js';
import { KolmError } from '../util/errors.js';
import { formatBytes } from '../util/format.js';
import { intOr } from './args.js';

const USAGE = `usage: kolm quantize --model DIR --out DIR2 --type int8|int4 [--group-size 32|64|128] [--lm-head] [--json]
  block-wise symmetric quantization of every linear layer (q/k/v/o, gate/up/down): one binary16 scale per group of
  values along each row — with groups of 32, int8 is llama.cpp's Q8_0 and int4 its Q4_0. Embeddings and norms stay
  float; --lm-head quantizes an untied lm_head too. The folder uses the compressed-tensors "pack-quantized" layout
  (config.json quantization_config) that vLLM and transformers load; kolm runs it with ONNX Runtime's MatMulNBits,
  and exports it to GGUF as q8_0 / q4_0.`;

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, out: { type: 'string' }, type: { type: 'string' }, 'group-size': { type: 'string' }, 'lm-head': { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.model || !values.out || !values.type) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 1;
    return;
  }
  if (values.type !== 'int8' && values.type !== 'int4') throw new KolmError(`--type must be int8 or int4 (got "${values.type}")`);
  const groupSize = intOr('--group-size', values['group-size'], 32, { min: 16 });
  if (![32, 64, 128].includes(groupSize)) throw new KolmError(`--group-size must be 32, 64 or 128 (got ${groupSize})`);
  const started = Date.now();
  const s = await quantizeFolder(values.model, values.out, { bits: values.type === 'int8' ? 8 : 4, groupSize, lmHead: values['lm-head'] === true });
  if (values.json) return void console.log(JSON.stringify({ ...s, seconds: (Date.now() - started) / 1000 }));
  console.log(`${s.dir}: ${values.type}, groups of ${s.groupSize}: ${s.quantizedLayers} linear layers in ${formatBytes(s.quantizedBytes)}, float tensors ${formatBytes(s.floatBytes)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
