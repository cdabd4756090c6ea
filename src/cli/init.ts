import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS } from '../model/presets.js';
import { initParams, parameterCount } from '../model/params.js';
import { saveModelFolder } from '../model/folder.js';
import { KolmError } from '../util/errors.js';
import { intOption } from './args.js';
import { readFileSync } from 'node:fs';

/** Vocabulary size (largest id + 1) and token → id for a tokenizer.json, vocab and added tokens alike. */
function readTokenizerIds(file: string): { vocabSize: number; ids: Map<string, number> } {
  let json: { model?: { vocab?: Record<string, number> }; added_tokens?: { id: number; content: string }[] };
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KolmError(`${file}: invalid JSON (${(err as Error).message})`);
  }
  if (!json.model?.vocab || typeof json.model.vocab !== 'object') throw new KolmError(`${file}: field 'model.vocab' missing`);
  const ids = new Map(Object.entries(json.model.vocab));
  for (const t of json.added_tokens ?? []) ids.set(t.content, t.id);
  return { vocabSize: Math.max(...ids.values()) + 1, ids };
}

const USAGE = `usage: kolm init --preset NAME --out DIR [--tokenizer DIR] [--seed N] [--dtype f32|f16]
presets:\n${Object.entries(PRESETS).map(([n, p]) => `  ${n.padEnd(13)} ${p.description}`).join('\n')}`;

/** Write a randomly initialised HF-layout model folder; with a tokenizer, the vocabulary follows it. */
export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { preset: { type: 'string' }, out: { type: 'string' }, tokenizer: { type: 'string' }, seed: { type: 'string', default: '0' }, dtype: { type: 'string', default: 'f32' }, help: { type: 'boolean' } } });
  if (values.help || !values.preset || !values.out) {
    console.log(USAGE);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const preset = PRESETS[values.preset];
  if (!preset) throw new KolmError(`unknown preset '${values.preset}'\n${USAGE}`);
  let config = preset.config;
  if (values.tokenizer) {
    const file = join(values.tokenizer, 'tokenizer.json');
    if (!existsSync(file)) throw new KolmError(`${file}: not found`);
    const tok = readTokenizerIds(file);
    const special = (name: string) => tok.ids.get(name) ?? null;
    config = { ...config, vocab_size: tok.vocabSize, bos_token_id: special('<|endoftext|>'), eos_token_id: special('<|endoftext|>'), pad_token_id: special('<|pad|>') };
  }
  if (values.dtype !== 'f32' && values.dtype !== 'f16') throw new KolmError(`--dtype must be f32 or f16, got '${values.dtype}'`);
  await saveModelFolder(values.out, config, initParams(config, intOption('seed', values.seed) ?? 0), { tokenizerDir: values.tokenizer, dtype: values.dtype === 'f16' ? 'F16' : 'F32' });
  console.log(`${values.out}: ${values.preset} (${(parameterCount(config) / 1e6).toFixed(2)}M parameters, vocab ${config.vocab_size}, ${config.model_type})`);
}
