/**
 * GGUF export/import of model folders: the metadata and tensors llama.cpp reads, round trips back to identical
 * folders, refusals that name the field, and a SEED-Text-0.5B-shaped HF folder (BF16 weights, transformers' config fields).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportGguf, importGguf, TOKEN_TYPE } from '../../src/interchange/gguf.js';
import { readGguf, writeGguf, permuteForGguf, type GgufValue, type GgufWriteTensor } from '../../src/formats/gguf/index.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { initParams, paramSpecs } from '../../src/model/params.js';
import { loadModelFolder, type Weights } from '../../src/model/folder.js';
import { dequantizeMatrix, isQuantized } from '../../src/model/quantize.js';
import { loadModel } from '../../src/infer/model.js';
import { generateIds } from '../../src/infer/generate.js';
import type { Tokenizer } from '../../src/tokenizer/index.js';
import { KolmError } from '../../src/util/errors.js';
import { configFor, fixtureTokenizer, saveWithTokenizer } from '../../bench/decode.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-gguf-model-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let tok: Tokenizer;

/** SEED-Text-0.5B's structure scaled down: Llama, GQA, tied embeddings, explicit head_dim ≠ hidden / heads. */
const SEED_LIKE = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, max_position_embeddings: 256, rope_theta: 1e6, rms_norm_eps: 1e-5, initializer_range: 0.2 };

async function folder(name: string, fields: Partial<ModelConfig> = {}, seed = 1): Promise<{ path: string; config: ModelConfig; weights: Weights }> {
  const config = configFor(tok, { ...SEED_LIKE, ...fields });
  const weights = initParams(config, seed);
  const path = join(dir, name);
  await saveWithTokenizer(path, config, weights, tok);
  return { path, config, weights };
}

before(async () => {
  tok = await fixtureTokenizer();
});

const value = (v: GgufValue | undefined) => v?.value;

test('export writes the llama.* hyperparameters, the gpt2/qwen2 vocabulary, special ids and chat template llama.cpp reads', async () => {
  const { path, config } = await folder('seed-like');
  const file = join(dir, 'seed-like.gguf');
  await exportGguf(path, file, { type: 'f32', name: 'seed-like test' });
  const g = await readGguf(file);
  const md = g.metadata;
  const expect: Record<string, [GgufValue['type'], unknown]> = {
    'general.architecture': ['string', 'llama'],
    'general.name': ['string', 'seed-like test'],
    'general.file_type': ['uint32', 0],
    'llama.vocab_size': ['uint32', config.vocab_size],
    'llama.context_length': ['uint32', 256],
    'llama.embedding_length': ['uint32', 64],
    'llama.block_count': ['uint32', 2],
    'llama.feed_forward_length': ['uint32', 128],
    'llama.attention.head_count': ['uint32', 4],
    'llama.attention.head_count_kv': ['uint32', 2],
    'llama.attention.key_length': ['uint32', 32],
    'llama.attention.value_length': ['uint32', 32],
    'llama.rope.dimension_count': ['uint32', 32],
    'llama.rope.freq_base': ['float32', 1e6],
    'llama.attention.layer_norm_rms_epsilon': ['float32', Math.fround(1e-5)],
    'tokenizer.ggml.model': ['string', 'gpt2'],
    'tokenizer.ggml.pre': ['string', 'qwen2'],
    'tokenizer.ggml.bos_token_id': ['uint32', tok.tokenId('<|endoftext|>')],
    'tokenizer.ggml.eos_token_id': ['uint32', tok.tokenId('<|endoftext|>')],
    'tokenizer.ggml.padding_token_id': ['uint32', tok.tokenId('<|pad|>')],
    'tokenizer.ggml.add_bos_token': ['bool', false],
    'tokenizer.ggml.add_eos_token': ['bool', false],
    'tokenizer.chat_template': ['string', tok.config.chatTemplate],
  };
  for (const [key, [type, v]] of Object.entries(expect)) {
    assert.equal(md.get(key)?.type, type, `${key}: type`);
    assert.equal(value(md.get(key)), v, `${key}: value`);
  }
  assert.equal(md.has('llama.rope.scaling.type'), false, 'no rope scaling keys without rope_scaling');
  const tokens = value(md.get('tokenizer.ggml.tokens')) as string[];
  const types = value(md.get('tokenizer.ggml.token_type')) as number[];
  assert.equal(tokens.length, config.vocab_size);
  for (let id = 0; id < tokens.length; id++) {
    assert.equal(tokens[id], tok.idToToken(id), `token ${id}`);
    const special = Object.values(tok.specialTokens).includes(id);
    assert.equal(types[id], special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL, `token ${id} (${tokens[id]}) type`);
  }
  const json = JSON.parse(readFileSync(join(path, 'tokenizer.json'), 'utf8')) as { model: { merges: string[] } };
  assert.deepEqual(value(md.get('tokenizer.ggml.merges')), json.model.merges);

  // Tensors: llama.cpp names, ggml (reversed) shapes, q/k rows permuted per head, no output.weight when tied.
  const names = g.tensors.map((t) => t.name);
  assert.ok(!names.includes('output.weight'), 'tied embeddings: no output.weight');
  assert.equal(names.length, paramSpecs(config).length);
  const st = await loadModelFolder(path);
  const q = st.weights['model.layers.1.self_attn.q_proj.weight']!;
  const k = st.weights['model.layers.1.self_attn.k_proj.weight']!;
  assert.deepEqual(g.tensors.find((t) => t.name === 'blk.1.attn_q.weight')!.shape, [64, 128]);
  assert.deepEqual(await g.readTensor('blk.1.attn_q.weight'), permuteForGguf(q, 4).data);
  assert.deepEqual(await g.readTensor('blk.1.attn_k.weight'), permuteForGguf(k, 2).data);
  assert.notDeepEqual(await g.readTensor('blk.1.attn_k.weight'), k.data, 'the permutation moves rows');
  assert.deepEqual(await g.readTensor('blk.0.ffn_down.weight'), st.weights['model.layers.0.mlp.down_proj.weight']!.data);
  assert.deepEqual(await g.readTensor('token_embd.weight'), st.weights['model.embed_tokens.weight']!.data);
});

test('untied models carry output.weight; q8_0 quantizes rows of 32 and keeps norms f32 (f16 where rows do not divide); f16', async () => {
  const { path } = await folder('untied', { tie_word_embeddings: false, intermediate_size: 48 }, 2);
  const q8 = join(dir, 'untied-q8.gguf');
  const summary = await exportGguf(path, q8, { type: 'q8_0' });
  const g = await readGguf(q8);
  const typeOf = (n: string) => g.tensors.find((t) => t.name === n)?.type;
  assert.equal(typeOf('output.weight'), 'Q8_0');
  assert.equal(typeOf('token_embd.weight'), 'Q8_0');
  assert.equal(typeOf('blk.0.attn_q.weight'), 'Q8_0');
  assert.equal(typeOf('blk.0.ffn_gate.weight'), 'Q8_0', 'gate rows are hidden (64) long');
  assert.equal(typeOf('blk.0.ffn_down.weight'), 'F16', 'down rows are intermediate (48) long: not a multiple of 32');
  assert.equal(typeOf('blk.0.attn_norm.weight'), 'F32');
  assert.equal(typeOf('output_norm.weight'), 'F32');
  assert.equal(value(g.metadata.get('general.file_type')), 7);
  assert.equal(value(g.metadata.get('general.quantization_version')), 2);
  assert.deepEqual(summary.tensorTypes, { Q8_0: 2 + 2 * 6, F16: 2, F32: 5 });

  const f16 = join(dir, 'untied-f16.gguf');
  await exportGguf(path, f16, { type: 'f16' });
  const h = await readGguf(f16);
  assert.equal(value(h.metadata.get('general.file_type')), 1);
  for (const t of h.tensors) assert.equal(t.type, t.shape.length === 1 ? 'F32' : 'F16', t.name);
});

test('import round trip: f32 gives bit-identical weights, the same config and tokenizer files, and the same generations', async () => {
  const { path, config } = await folder('roundtrip', {}, 3);
  const file = join(dir, 'roundtrip.gguf');
  await exportGguf(path, file, { type: 'f32' });
  const back = join(dir, 'roundtrip-imported');
  const summary = await importGguf(file, back);
  assert.deepEqual(summary.tensorTypes, { F32: paramSpecs(config).length });
  const a = await loadModelFolder(path);
  const b = await loadModelFolder(back);
  for (const key of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'rope_scaling', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id', 'pad_token_id', 'model_type', 'architectures'] as const) {
    assert.deepEqual(b.config[key], a.config[key], `config.${key}`);
  }
  for (const [name, w] of Object.entries(a.weights)) {
    assert.ok(Buffer.from(b.weights[name]!.data.buffer).equals(Buffer.from(w.data.buffer)), `${name}: bit-identical`);
  }
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) assert.equal(readFileSync(join(back, f), 'utf8'), readFileSync(join(path, f), 'utf8'), f);

  const [m1, m2] = await Promise.all([loadModel(path, { threads: 1 }), loadModel(back, { threads: 1 })]);
  assert.equal(m2.tokenizer.hash, m1.tokenizer.hash);
  const prompt = m1.tokenizer.encode('서울은 대한민국의 수도이며');
  const [g1] = await generateIds(m1, [prompt], { maxNewTokens: 12 });
  const [g2] = await generateIds(m2, [prompt], { maxNewTokens: 12 });
  assert.deepEqual(g2!.ids, g1!.ids);

  // f16 and q8_0 come back within their rounding: half an f16 ulp, half a Q8_0 step (block max / 127).
  for (const type of ['f16', 'q8_0'] as const) {
    const f = join(dir, `roundtrip-${type}.gguf`);
    await exportGguf(path, f, { type });
    const out = join(dir, `roundtrip-${type}`);
    await importGguf(f, out);
    // q8_0 linear layers stay quantized (int8, groups of 32): compared through their dequantized values.
    const c = await loadModelFolder(out, { quantized: true });
    assert.equal(Object.values(c.weights).some(isQuantized), type === 'q8_0');
    for (const [name, w] of Object.entries(a.weights)) {
      const v = c.weights[name]!;
      const got = isQuantized(v) ? dequantizeMatrix(v) : v.data;
      if (w.shape.length === 1) {
        assert.deepEqual(got, w.data, `${name}: norms stay f32`);
        continue;
      }
      for (let i = 0; i < w.data.length; i += 32) {
        const block = w.data.subarray(i, i + 32);
        const amax = Math.max(...Array.from(block, Math.abs));
        for (let j = 0; j < block.length; j++) {
          const bound = type === 'f16' ? Math.abs(block[j]!) * 2 ** -11 + 2 ** -25 : (amax / 127) * 0.5 + amax * 2 ** -10;
          assert.ok(Math.abs(got[i + j]! - block[j]!) <= bound, `${type} ${name}[${i + j}]: ${got[i + j]} vs ${block[j]}`);
        }
      }
    }
  }
});

test('rope scaling: linear and yarn map to llama.rope.scaling.* keys and back', async () => {
  for (const rope_scaling of [
    { rope_type: 'linear' as const, factor: 2 },
    { rope_type: 'yarn' as const, factor: 4, original_max_position_embeddings: 64, beta_fast: 16, beta_slow: 2 },
  ]) {
    const { path } = await folder(`rope-${rope_scaling.rope_type}`, { rope_scaling });
    const file = join(dir, `rope-${rope_scaling.rope_type}.gguf`);
    await exportGguf(path, file, { type: 'f32' });
    const md = (await readGguf(file)).metadata;
    assert.equal(value(md.get('llama.rope.scaling.type')), rope_scaling.rope_type);
    assert.equal(value(md.get('llama.rope.scaling.factor')), rope_scaling.factor);
    if (rope_scaling.rope_type === 'yarn') assert.equal(value(md.get('llama.rope.scaling.original_context_length')), 64);
    const back = await importGguf(file, join(dir, `rope-${rope_scaling.rope_type}-imported`));
    assert.deepEqual(back.config.rope_scaling, rope_scaling);
  }
});

test('export refuses what llama.cpp cannot express and names the field', async () => {
  const cases: Array<[string, Partial<ModelConfig>, RegExp]> = [
    ['periln', { use_post_norm: true }, /config\.json: use_post_norm = true — HyperCLOVAX Peri-LN semantics that llama\.cpp's 'llama' architecture cannot express/],
    ['mup', { embedding_multiplier: 10, logits_scaling: 0.125 }, /embedding_multiplier = 10, logits_scaling = 0\.125 — HyperCLOVAX μP semantics/],
    ['attn-mult', { attention_multiplier: 0.05 }, /attention_multiplier = 0\.05 — HyperCLOVAX μP/],
    ['dynamic', { rope_scaling: { rope_type: 'dynamic', factor: 2 } }, /rope_scaling\.rope_type = "dynamic" \(dynamic NTK\) has no llama\.cpp equivalent/],
  ];
  for (const [name, fields, pattern] of cases) {
    const { path } = await folder(name, fields);
    await assert.rejects(exportGguf(path, join(dir, `${name}.gguf`)), (err: unknown) => err instanceof KolmError && pattern.test(err.message) && err.message.includes(join(path, 'config.json')));
  }
  // A neutral multiplier (the Llama value) is not a HyperCLOVAX feature.
  const { path } = await folder('neutral', { attention_multiplier: 1 / Math.sqrt(32) });
  await exportGguf(path, join(dir, 'neutral.gguf'), { type: 'f32' });
  await assert.rejects(exportGguf(path, join(dir, 'x.gguf'), { type: 'q4' as never }), /--type must be one of f32, f16, q8_0, q4_0, got "q4"/);
});

/** Rewrite a GGUF with some metadata replaced (tensors copied as F32). */
async function rewrite(from: string, to: string, change: (md: Map<string, GgufValue>) => void, dropTensor?: string): Promise<void> {
  const g = await readGguf(from);
  const md = new Map(g.metadata);
  change(md);
  const tensors: GgufWriteTensor[] = [];
  for (const t of g.tensors) if (t.name !== dropTensor) tensors.push({ name: t.name, shape: t.shape, type: 'F32', data: await g.readTensor(t.name) });
  await writeGguf(to, { metadata: md, tensors });
}

test('import refuses files kolm cannot represent and names the key or tensor', async () => {
  const { path } = await folder('source', {}, 4);
  const good = join(dir, 'source.gguf');
  await exportGguf(path, good, { type: 'f32' });
  const bad = join(dir, 'bad.gguf');
  const cases: Array<[(md: Map<string, GgufValue>) => void, RegExp, string?]> = [
    [(md) => md.set('general.architecture', { type: 'string', value: 'gpt2' }), /metadata "general\.architecture" is "gpt2"; kolm imports the 'llama', 'qwen2' and 'qwen3' architectures/],
    [(md) => md.set('general.architecture', { type: 'string', value: 'qwen2' }), /metadata "qwen2\.embedding_length" is missing/],
    [(md) => md.set('tokenizer.ggml.pre', { type: 'string', value: 'llama-bpe' }), /metadata "tokenizer\.ggml\.pre" is "llama-bpe"; kolm's tokenizer splits text as "qwen2" does/],
    [(md) => md.set('tokenizer.ggml.model', { type: 'string', value: 'llama' }), /metadata "tokenizer\.ggml\.model" is "llama"/],
    [(md) => md.set('llama.block_count', { type: 'uint32', value: 3 }), /metadata "llama\.block_count" is 3, but the file has only 20 tensors/],
    [(md) => md.set('llama.block_count', { type: 'uint32', value: 4294967295 }), /metadata "llama\.block_count" is 4294967295, but the file has only 20 tensors/],
    [(md) => md.set('llama.block_count', { type: 'uint32', value: 1 }), /tensor "blk\.1\.attn_norm\.weight" \(model\.layers\.1\.input_layernorm\.weight\) is not implied by the metadata/],
    [(md) => md.set('llama.attention.value_length', { type: 'uint32', value: 16 }), /metadata "llama\.attention\.value_length" is 16, but key_length is 32/],
    [(md) => md.set('llama.embedding_length', { type: 'string', value: '64' }), /metadata "llama\.embedding_length" must be a number, is string/],
    [(md) => md.delete('llama.feed_forward_length'), /metadata "llama\.feed_forward_length" is missing/],
    [(md) => md.set('tokenizer.ggml.eos_token_id', { type: 'uint32', value: 1e6 }), /metadata "tokenizer\.ggml\.eos_token_id" is 1000000, beyond the \d+ tokens/],
    [() => undefined, /tensor "blk\.1\.ffn_up\.weight" \(model\.layers\.1\.mlp\.up_proj\.weight\) is missing/, 'blk.1.ffn_up.weight'],
  ];
  for (const [change, pattern, drop] of cases) {
    await rewrite(good, bad, change, drop);
    await assert.rejects(importGguf(bad, join(dir, 'bad-out')), (err: unknown) => err instanceof KolmError && pattern.test(err.message) && err.message.startsWith(bad), String(pattern));
  }
  // An extra tensor llama.cpp models may carry but kolm has no place for.
  await rewrite(good, bad, () => undefined);
  const g = await readGguf(bad);
  const tensors: GgufWriteTensor[] = [];
  for (const t of g.tensors) tensors.push({ name: t.name, shape: t.shape, type: 'F32', data: await g.readTensor(t.name) });
  tensors.push({ name: 'rope_freqs.weight', shape: [16], type: 'F32', data: new Float32Array(16) });
  await writeGguf(bad, { metadata: g.metadata, tensors });
  await assert.rejects(importGguf(bad, join(dir, 'bad-out')), /tensor "rope_freqs\.weight" has no place in a kolm model/);
});

/** bfloat16 bits of a float32, rounded to nearest even (as torch does). */
function bf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

test('a SEED-Text-0.5B-shaped HF folder (transformers config fields, BF16 safetensors) loads, generates and exports', async () => {
  // A config.json as transformers writes it for SEED-Text's structure, scaled down: Llama, tied, GQA, explicit head_dim
  // (32 ≠ 64 / 4), rope_theta 1e6, bfloat16 weights, plus the fields kolm does not use (dropout, pretraining_tp, use_cache…).
  const seedDir = join(dir, 'seed-hf');
  mkdirSync(seedDir, { recursive: true });
  const hf = {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: tok.tokenId('<|endoftext|>'),
    eos_token_id: tok.tokenId('<|endoftext|>'), head_dim: 32, hidden_act: 'silu', hidden_size: 64, initializer_range: 0.02,
    intermediate_size: 256, max_position_embeddings: 4096, mlp_bias: false, model_type: 'llama', num_attention_heads: 4,
    num_hidden_layers: 3, num_key_value_heads: 2, pad_token_id: tok.tokenId('<|pad|>'), pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: null, rope_theta: 1000000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.52.4',
    use_cache: true, vocab_size: tok.vocabSize,
  };
  writeFileSync(join(seedDir, 'config.json'), JSON.stringify(hf, null, 2));
  await tok.save(seedDir);
  const config = makeConfig({ ...(hf as unknown as ModelConfig), initializer_range: 0.3 });
  const init = initParams(config, 5);
  // safetensors with BF16 data, written by hand as torch does: header (8-byte aligned), then tensors in name order.
  const names = Object.keys(init).sort();
  let offset = 0;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Buffer[] = [];
  for (const name of names) {
    const w = init[name]!;
    const bytes = Buffer.alloc(w.data.length * 2);
    w.data.forEach((x, i) => bytes.writeUInt16LE(bf16(x), 2 * i));
    header[name] = { dtype: 'BF16', shape: w.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(join(seedDir, 'model.safetensors'), Buffer.concat([len, Buffer.from(json), ...chunks]));

  const loaded = await loadModelFolder(seedDir);
  assert.equal(loaded.config.head_dim, 32);
  assert.equal(loaded.config.tie_word_embeddings, true);
  assert.equal(loaded.config.model_type, 'llama');
  const q = loaded.weights['model.layers.2.self_attn.q_proj.weight']!;
  assert.deepEqual(q.shape, [4 * 32, 64], 'q_proj is [heads × head_dim, hidden]');
  const src = init['model.layers.2.self_attn.q_proj.weight']!.data;
  for (let i = 0; i < src.length; i++) {
    const expect = new Float32Array(new Uint32Array([bf16(src[i]!) << 16]).buffer)[0]!;
    assert.equal(q.data[i], expect, `BF16 decode [${i}]`);
  }
  const model = await loadModel(seedDir, { threads: 1 });
  const done = await model.generate('한국어 모델', { maxNewTokens: 8 });
  assert.ok(done.completionTokens >= 1 && done.completionTokens <= 8);
  const file = join(dir, 'seed-hf.gguf');
  await exportGguf(seedDir, file, { type: 'f16' });
  const md = (await readGguf(file)).metadata;
  assert.equal(value(md.get('llama.attention.key_length')), 32);
  assert.equal(value(md.get('llama.context_length')), 4096);
  const back = await importGguf(file, join(dir, 'seed-hf-imported'));
  assert.equal(back.config.head_dim, 32);
  assert.equal(back.config.rope_theta, 1e6);
});
