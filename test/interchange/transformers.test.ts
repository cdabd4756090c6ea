/**
 * The ONNX export checked with transformers.js (@huggingface/transformers v4) itself, offline: it loads the folder,
 * tokenizes as kolm does, and generates greedily exactly what kolm generates — for Llama models (tied with explicit
 * head_dim, untied), a HyperCLOVAX Peri-LN/μP model, batched left-padded prompts, and the external-data layout.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { exportOnnxFolder, ONNX_DIMS } from '../../src/interchange/onnx.js';
import { initParams } from '../../src/model/params.js';
import type { ModelConfig } from '../../src/model/config.js';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { generateIds } from '../../src/infer/generate.js';
import { ort } from '../../src/runtime/session.js';
import type { Tokenizer } from '../../src/tokenizer/index.js';
import { configFor, fixtureTokenizer, saveWithTokenizer } from '../../bench/decode.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-tjs-'));
const exportsDir = join(dir, 'exports');
let tok: Tokenizer;

before(async () => {
  tok = await fixtureTokenizer();
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = exportsDir;
});
after(() => rmSync(dir, { recursive: true, force: true }));

const SEED_LIKE = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, max_position_embeddings: 256, rope_theta: 1e6, rms_norm_eps: 1e-5, initializer_range: 0.3 };

async function exportModel(name: string, fields: Partial<ModelConfig>, opts: { externalData?: boolean } = {}): Promise<{ kolm: LanguageModel; config: ModelConfig }> {
  const src = join(dir, name);
  const config = configFor(tok, { ...SEED_LIKE, ...fields });
  await saveWithTokenizer(src, config, initParams(config, 4), tok);
  await exportOnnxFolder(src, join(exportsDir, name), { externalData: opts.externalData ?? false });
  return { kolm: await loadModel(src, { threads: 1 }), config };
}

/** Ids up to and including the first end token (transformers.js pads finished rows). */
function untilEnd(ids: number[], ends: readonly number[]): number[] {
  const i = ids.findIndex((id) => ends.includes(id));
  return i < 0 ? ids : ids.slice(0, i + 1);
}

async function compareGreedy(name: string, kolm: LanguageModel, prompts: string[], maxNewTokens: number): Promise<void> {
  const tokenizer = await AutoTokenizer.from_pretrained(name);
  const model = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32', device: 'cpu' });
  try {
    for (const prompt of prompts) {
      const inputs = tokenizer(prompt);
      const ids = kolm.tokenizer.encode(prompt);
      assert.deepEqual(Array.from(inputs.input_ids.data as BigInt64Array, Number), ids, `${name}: transformers.js tokenizes ${JSON.stringify(prompt)} as kolm does`);
      const out = (await model.generate({ ...inputs, max_new_tokens: maxNewTokens, do_sample: false })) as { data: BigInt64Array };
      const got = Array.from(out.data, Number).slice(ids.length);
      const ref = await kolm.generate(prompt, { maxNewTokens });
      assert.ok(ref.ids.length >= Math.min(maxNewTokens, 8), `${name}: kolm generated ${ref.ids.length} tokens`);
      assert.deepEqual(got, ref.ids, `${name}: greedy continuation of ${JSON.stringify(prompt)}`);
    }
  } finally {
    await model.dispose();
  }
}

const PROMPTS = ['서울은 대한민국의 수도이며', 'The students at the school', 'def main():\n    print('];

test('the exported folder has transformers.js\' layout, config and ONNX interface', async () => {
  const { config } = await exportModel('layout', {});
  const out = join(exportsDir, 'layout');
  for (const f of ['onnx/model.onnx', 'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(out, f)), f);
  assert.ok(!existsSync(join(out, 'onnx', 'model.onnx_data')), 'small models embed their weights');
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['model_type'], 'llama');
  assert.deepEqual(cfg['architectures'], ['LlamaForCausalLM']);
  assert.equal(cfg['head_dim'], 32);
  assert.deepEqual(cfg['transformers.js_config'], { dtype: 'fp32', use_external_data_format: false });
  const gen = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')) as { eos_token_id: number[] };
  const ends = ['<|endoftext|>', '<|im_end|>', '<|endofturn|>', '<|stop|>'].map((t) => tok.tokenId(t)!).sort((a, b) => a - b);
  assert.deepEqual(gen.eos_token_id, ends, 'generation stops where kolm\'s does');

  const session = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'));
  const kv = (prefix: string) => Array.from({ length: config.num_hidden_layers }, (_, l) => [`${prefix}.${l}.key`, `${prefix}.${l}.value`]).flat();
  assert.deepEqual([...session.inputNames].sort(), ['input_ids', 'attention_mask', 'position_ids', ...kv('past_key_values')].sort());
  assert.deepEqual([...session.outputNames].sort(), ['logits', ...kv('present')].sort());
  const meta = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));
  const shapeOf = (name: string) => (meta[name] as { shape?: unknown[] }).shape;
  assert.deepEqual(shapeOf('past_key_values.1.value'), [ONNX_DIMS.batch, 2, ONNX_DIMS.past, 32], 'cache [batch_size, kv_heads, past, head_dim]');
  assert.deepEqual(shapeOf('attention_mask'), [ONNX_DIMS.batch, ONNX_DIMS.total]);
  await session.release();
});

test('transformers.js generates greedily exactly what kolm generates: Llama with tied embeddings and explicit head_dim', async () => {
  const { kolm } = await exportModel('llama-tied', {});
  await compareGreedy('llama-tied', kolm, PROMPTS, 20);
});

test('…untied embeddings without GQA, and a HyperCLOVAX Peri-LN/μP model (the graph carries its semantics)', async () => {
  const untied = await exportModel('llama-untied', { tie_word_embeddings: false, num_key_value_heads: 4, head_dim: 16 });
  await compareGreedy('llama-untied', untied.kolm, PROMPTS, 20);
  const hcx = await exportModel('hyperclovax', { use_post_norm: true, embedding_multiplier: 4, attention_multiplier: 0.09, residual_multiplier: 0.8, logits_scaling: 0.5 });
  assert.equal(hcx.config.model_type, 'hyperclovax');
  const cfg = JSON.parse(readFileSync(join(exportsDir, 'hyperclovax', 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(cfg['kolm_source_model_type'], 'hyperclovax');
  assert.equal(cfg['use_post_norm'], true);
  await compareGreedy('hyperclovax', hcx.kolm, PROMPTS, 20);
});

test('batched left-padded prompts: transformers.js equals kolm\'s batch generation', async () => {
  const { kolm } = await exportModel('batch', { tie_word_embeddings: true }, {});
  const tokenizer = (await AutoTokenizer.from_pretrained('batch')) as PreTrainedTokenizer;
  tokenizer.padding_side = 'left';
  const model = await AutoModelForCausalLM.from_pretrained('batch', { dtype: 'fp32', device: 'cpu' });
  try {
    const prompts = ['오늘은 비가 와서 집에서 음악을', 'Hello', 'x = [1, 2, 3]\nfor i in'];
    const inputs = tokenizer(prompts, { padding: true });
    const width = inputs.input_ids.dims[1] as number;
    const mask = (inputs.attention_mask.tolist() as bigint[][]).map((r) => r.map(Number));
    assert.ok(mask[1]!.slice(0, 3).every((m) => m === 0), 'the short prompt is left-padded');
    const out = (await model.generate({ ...inputs, max_new_tokens: 16, do_sample: false })) as { tolist(): bigint[][] };
    const rows = out.tolist().map((r) => r.map(Number).slice(width));
    const refs = await generateIds(kolm, prompts.map((p) => kolm.tokenizer.encode(p)), { maxNewTokens: 16, stopTokenIds: kolm.endTokenIds });
    refs.forEach((r, b) => assert.deepEqual(untilEnd(rows[b]!, kolm.endTokenIds), r.ids, `prompt ${b} (${JSON.stringify(prompts[b])})`));
  } finally {
    await model.dispose();
  }
});

test('the external-data layout (onnx/model.onnx + model.onnx_data) loads and generates the same', async () => {
  const { kolm } = await exportModel('external', {}, { externalData: true });
  const out = join(exportsDir, 'external');
  assert.ok(existsSync(join(out, 'onnx', 'model.onnx_data')));
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  assert.equal(cfg['transformers.js_config']!['use_external_data_format'], true);
  await compareGreedy('external', kolm, PROMPTS.slice(0, 1), 12);
});
