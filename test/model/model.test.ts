import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../src/graph/autodiff.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray, type NDArray } from '../../src/graph/ndarray.js';
import { rng } from '../../src/util/random.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { Session, toNumbers } from '../../src/runtime/session.js';
import { makeConfig, validateConfig, type ModelConfig } from '../../src/model/config.js';
import { initParams, paramSpecs, parameterCount } from '../../src/model/params.js';
import { PRESETS } from '../../src/model/presets.js';
import { ropeFrequencies } from '../../src/model/rope.js';
import { buildAdamW, stateNames } from '../../src/train/adamw.js';
import { buildLmGraph, windowsToBatch } from '../../src/train/lm.js';
import { TrainStep } from '../../src/train/step.js';

const llama = makeConfig({ vocab_size: 23, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: false });
const periLn = makeConfig({
  vocab_size: 23, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 6,
  use_post_norm: true, embedding_multiplier: 3, attention_multiplier: 0.2, residual_multiplier: 0.7, logits_scaling: 0.5,
  rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 8 },
});

/** Qwen2: q/k/v biases (no o_proj bias), tied embeddings. */
const qwen2 = makeConfig({ model_type: 'qwen2', vocab_size: 23, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 });
/** Qwen3: per-head q/k RMSNorm before rotary, explicit head_dim, untied. */
const qwen3 = makeConfig({ model_type: 'qwen3', vocab_size: 23, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 6, tie_word_embeddings: false });
/** Llama with attention_bias and mlp_bias, and Llama 3.1 RoPE scaling. */
const biasedLlama = makeConfig({
  vocab_size: 23, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, attention_bias: true, mlp_bias: true,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
});

function randomWindows(c: ModelConfig, batch: number, seq: number, seed: number) {
  const r = rng(seed);
  return windowsToBatch(Array.from({ length: batch * (seq + 1) }, () => Math.floor(r() * c.vocab_size)), batch, seq);
}

function asFeeds(c: ModelConfig, params: Record<string, NDArray>, batch: ReturnType<typeof windowsToBatch>): Record<string, NDArray> {
  void c;
  return {
    ...params,
    input_ids: ndarray('int64', batch.input_ids.shape, Array.from(batch.input_ids.data, Number)),
    labels: ndarray('int64', batch.labels.shape, Array.from(batch.labels.data, Number)),
  };
}

/** Larger weights than the init so that nonlinearity shows up in the checks. */
function scaled(params: Record<string, NDArray>, k: number): Record<string, NDArray> {
  // Biases start at zero: give them values so that they matter.
  const values = (n: string, v: NDArray) =>
    n.endsWith('.bias') ? v.data.map((_, i) => 0.3 * Math.sin(i + 1)) : n.includes('norm') ? v.data.map((x, i) => x + 0.1 * Math.sin(i)) : v.data.map((x) => x * k);
  return Object.fromEntries(Object.entries(params).map(([n, v]) => [n, ndarray(v.dtype, v.shape, values(n, v))]));
}

for (const [label, config] of [
  ['Llama (untied, GQA)', llama],
  ['HyperCLOVAX (Peri-LN, μP, YaRN, explicit head_dim)', periLn],
  ['Qwen2 (q/k/v biases, tied)', qwen2],
  ['Qwen3 (q/k norms, explicit head_dim, untied)', qwen3],
  ['Llama with attention and MLP biases, Llama 3.1 RoPE', biasedLlama],
] as const) {
  test(`model forward and gradients through ORT equal the reference interpreter: ${label}`, async () => {
    const lm = buildLmGraph(config, 2, 5);
    const feeds = asFeeds(config, scaled(initParams(config, 1), 20), randomWindows(config, 2, 5, 3));
    const grads = grad(lm.loss, lm.params.map((p) => p.tensor));
    const outputs: Record<string, Tensor> = { loss: lm.loss, logits: lm.logits };
    lm.params.forEach((p, i) => (outputs[`g.${p.name}`] = grads[i]!));
    const names = Object.keys(outputs);
    const ref = evaluate(names.map((n) => outputs[n]!), feeds);
    const session = await Session.create(outputs, { threads: 1 });
    const got = await session.run(Object.fromEntries(Object.entries(feeds).filter(([k]) => session.inputNames.includes(k))));
    names.forEach((n, i) => {
      const a = toNumbers(got[n]!);
      const e = ref[i]!.data;
      const scale = Math.max(...Array.from(e, Math.abs), 1e-3);
      a.forEach((v, j) => assert.ok(Math.abs(v - e[j]!) <= 1e-4 * scale + 1e-6, `${n}[${j}]: ORT ${v} vs reference ${e[j]}`));
    });
  });

  test(`full-model gradients pass a finite-difference spot check: ${label}`, () => {
    const lm = buildLmGraph(config, 1, 4);
    const feeds = asFeeds(config, scaled(initParams(config, 2), 20), randomWindows(config, 1, 4, 5));
    const grads = evaluate(grad(lm.loss, lm.params.map((p) => p.tensor)), feeds);
    const lossAt = (f: Record<string, NDArray>) => evaluate([lm.loss], f)[0]!.data[0]!;
    const r = rng(9);
    lm.params.forEach((p, k) => {
      const base = feeds[p.name]!;
      for (let s = 0; s < 3; s++) {
        const i = Math.floor(r() * base.data.length);
        const h = 1e-5;
        const plus = ndarray('float32', base.shape, base.data);
        const minus = ndarray('float32', base.shape, base.data);
        plus.data[i]! += h;
        minus.data[i]! -= h;
        const numeric = (lossAt({ ...feeds, [p.name]: plus }) - lossAt({ ...feeds, [p.name]: minus })) / (2 * h);
        const analytic = grads[k]!.data[i]!;
        assert.ok(Math.abs(numeric - analytic) <= 1e-6 + 1e-4 * Math.abs(numeric), `${p.name}[${i}]: ${analytic} vs ${numeric}`);
      }
    });
  });
}

test('training steps through ORT equal the reference interpreter step for step (AdamW, clipping, accumulation)', async () => {
  const config = periLn;
  const batches = [0, 1, 2, 3, 4, 5].map((s) => randomWindows(config, 2, 4, 10 + s));
  const init = initParams(config, 4);
  const optimizer = { lr: 0, weightDecay: 0.1, maxGradNorm: 0.5 };
  const trainer = await TrainStep.create({ build: () => buildLmGraph(config, 2, 4), optimizer, accumulation: 2, session: { threads: 1 } }, { step: 0, params: init });
  const ortLosses: number[] = [];
  for (let s = 0; s < 3; s++) ortLosses.push((await trainer.run([batches[2 * s]!, batches[2 * s + 1]!], 0.01)).loss);

  // The same three steps in the interpreter: mean gradient of two micro-batches, then the in-graph AdamW.
  const lm = buildLmGraph(config, 2, 4);
  const g = grad(lm.loss, lm.params.map((p) => p.tensor));
  const adamGraph = buildLmGraph(config, 2, 4);
  const accInputs = adamGraph.params.map((p) => adamGraph.graph.input(`acc.${p.name}`, p.tensor.shape));
  const adam = buildAdamW(adamGraph.graph, adamGraph.params, accInputs, { beta1: 0.9, beta2: 0.95, weightDecay: 0.1, maxGradNorm: 0.5 });
  let params = init;
  let moments: Record<string, NDArray> = {};
  for (const p of lm.params) {
    moments[stateNames(p.name).m] = ndarray('float32', p.tensor.shape as number[]);
    moments[stateNames(p.name).v] = ndarray('float32', p.tensor.shape as number[]);
  }
  const refLosses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const a = evaluate([lm.loss, ...g], asFeeds(config, params, batches[2 * s]!));
    const b = evaluate([lm.loss, ...g], asFeeds(config, params, batches[2 * s + 1]!));
    refLosses.push((a[0]!.data[0]! + b[0]!.data[0]!) / 2);
    const feeds: Record<string, NDArray> = { ...params, ...moments, 'optim.lr': ndarray('float32', [], [0.01]), 'optim.bias1': ndarray('float32', [], [1 - 0.9 ** (s + 1)]), 'optim.bias2': ndarray('float32', [], [1 - 0.95 ** (s + 1)]) };
    lm.params.forEach((p, i) => (feeds[`acc.${p.name}`] = ndarray('float32', a[i + 1]!.shape, a[i + 1]!.data.map((x, j) => (x + b[i + 1]!.data[j]!) / 2))));
    const next = evaluate(adam.states.flatMap((st) => [st.nextParam, st.nextM, st.nextV]), feeds);
    params = {};
    moments = {};
    adam.states.forEach((st, i) => {
      params[st.name] = next[3 * i]!;
      moments[stateNames(st.name).m] = next[3 * i + 1]!;
      moments[stateNames(st.name).v] = next[3 * i + 2]!;
    });
  }
  ortLosses.forEach((l, i) => assert.ok(Math.abs(l - refLosses[i]!) < 1e-4, `step ${i + 1}: ORT loss ${l} vs reference ${refLosses[i]}`));
  const moved = Object.entries(params).some(([n, v]) => v.data.some((x, j) => Math.abs(x - init[n]!.data[j]!) > 1e-3));
  assert.ok(moved, 'the steps actually changed the model');
  const snap = trainer.snapshot();
  for (const [name, v] of Object.entries(params)) {
    snap.params[name]!.data.forEach((x, j) => assert.ok(Math.abs(x - v.data[j]!) < 1e-4, `${name}[${j}] after 3 steps: ${x} vs ${v.data[j]}`));
  }
});

test('a non-finite loss skips the update and leaves the weights untouched', async () => {
  const config = llama;
  const init = initParams(config, 1);
  init['model.norm.weight'] = ndarray('float32', [16], new Array(16).fill(Infinity));
  const trainer = await TrainStep.create({ build: () => buildLmGraph(config, 1, 3), session: { threads: 1 } }, { step: 0, params: init });
  const result = await trainer.run([randomWindows(config, 1, 3, 1)], 0.1);
  assert.equal(result.skipped, true);
  assert.equal(trainer.step, 0);
  assert.deepEqual(Array.from(trainer.snapshot().params['model.layers.0.mlp.up_proj.weight']!.data), Array.from(Float32Array.from(init['model.layers.0.mlp.up_proj.weight']!.data)));
});

test('presets have the documented sizes and config.json validation names the field', () => {
  const millions = (name: string) => parameterCount(PRESETS[name]!.config) / 1e6;
  assert.ok(millions('nano') >= 1 && millions('nano') <= 3, `nano ${millions('nano')}M`);
  assert.ok(millions('micro') >= 8 && millions('micro') <= 10, `micro ${millions('micro')}M`);
  assert.ok(millions('small') >= 30 && millions('small') <= 50, `small ${millions('small')}M`);
  const s = PRESETS['s']!.config;
  assert.deepEqual([s.vocab_size, s.hidden_size, s.num_hidden_layers, s.num_attention_heads, s.num_key_value_heads, s.intermediate_size, s.tie_word_embeddings], [16384, 256, 6, 8, 4, 704, true]);
  const seed = PRESETS['seed-0.5b']!.config;
  assert.deepEqual([seed.vocab_size, seed.hidden_size, seed.num_hidden_layers, seed.intermediate_size, seed.tie_word_embeddings, seed.model_type], [110592, 1024, 24, 4096, true, 'llama']);
  assert.equal(PRESETS['micro-periln']!.config.model_type, 'hyperclovax');
  assert.throws(() => validateConfig({ ...s, num_key_value_heads: 3 }, 'm/config.json'), /m\/config\.json: field 'num_key_value_heads' must divide num_attention_heads \(8\) \(got 3\)/);
  assert.throws(() => validateConfig({ ...s, hidden_act: 'gelu' }, 'c.json'), /field 'hidden_act' must be 'silu'/);
  assert.throws(() => validateConfig({ ...s, rope_scaling: { rope_type: 'yarn', factor: 2 } }, 'c.json'), /rope_scaling.original_max_position_embeddings/);
});

test('rope scaling: linear divides frequencies, YaRN keeps high frequencies and interpolates low ones', () => {
  const base = makeConfig({ vocab_size: 8, hidden_size: 64, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, rope_theta: 10000 });
  const plain = ropeFrequencies(base).invFreq;
  const linear = ropeFrequencies({ ...base, rope_scaling: { rope_type: 'linear', factor: 4 } }).invFreq;
  linear.forEach((f, i) => assert.ok(Math.abs(f - plain[i]! / 4) < 1e-15));
  const yarn = ropeFrequencies({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 256 } });
  assert.equal(yarn.invFreq[0], plain[0], 'highest frequency untouched');
  assert.ok(Math.abs(yarn.invFreq.at(-1)! - plain.at(-1)! / 4) < 1e-15, 'lowest frequency interpolated');
  assert.ok(Math.abs(yarn.attentionScale - (0.1 * Math.log(4) + 1)) < 1e-12);
});

test('Qwen2/Qwen3/biased Llama: the parameters the config implies, and gradients reach every bias and q/k norm', () => {
  const names = (c: ModelConfig) => paramSpecs(c).map((s) => s.name).filter((n) => n.startsWith('model.layers.0.'));
  assert.deepEqual(names(qwen2).filter((n) => n.endsWith('.bias')), ['q_proj', 'k_proj', 'v_proj'].map((m) => `model.layers.0.self_attn.${m}.bias`));
  assert.deepEqual(names(qwen3).filter((n) => n.endsWith('.bias') || n.includes('_norm.weight') && n.includes('self_attn')), ['model.layers.0.self_attn.q_norm.weight', 'model.layers.0.self_attn.k_norm.weight']);
  assert.equal(names(biasedLlama).filter((n) => n.endsWith('.bias')).length, 7, 'q/k/v/o and gate/up/down');
  assert.deepEqual(paramSpecs(qwen3).find((s) => s.name.endsWith('q_norm.weight'))!.shape, [6]);
  for (const c of [qwen2, qwen3, biasedLlama]) {
    const lm = buildLmGraph(c, 1, 4);
    const feeds = asFeeds(c, scaled(initParams(c, 2), 20), randomWindows(c, 1, 4, 5));
    const grads = evaluate(grad(lm.loss, lm.params.map((p) => p.tensor)), feeds);
    lm.params.forEach((p, i) => {
      if (!p.name.endsWith('.bias') && !/q_norm|k_norm/.test(p.name)) return;
      assert.ok(grads[i]!.data.some((g) => Math.abs(g) > 1e-8), `${c.model_type}: gradient reaches ${p.name}`);
    });
  }
});

test('config.json: Qwen fields, refusals and round trips', () => {
  const qwen = { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rope_theta: 1e6, rms_norm_eps: 1e-6, tie_word_embeddings: true, use_sliding_window: false, sliding_window: 32768, max_window_layers: 21, torch_dtype: 'bfloat16' };
  const c = validateConfig(structuredClone(qwen), 'q/config.json');
  assert.equal(c.head_dim, 4, 'derived from hidden_size / heads');
  const back = JSON.parse(JSON.stringify(c)) as Record<string, unknown>;
  for (const [k, v] of Object.entries(qwen)) assert.deepEqual(back[k], v, `${k} written back as read`);
  assert.throws(() => validateConfig({ ...qwen, use_sliding_window: true }, 'q/config.json'), /use_sliding_window' is true: sliding-window attention is not supported/);
  assert.throws(() => validateConfig({ ...qwen, model_type: 'mistral' }, 'q/config.json'), /model_type' must be one of llama, hyperclovax, qwen2, qwen3/);
  assert.throws(() => validateConfig({ ...qwen, architectures: ['LlamaForCausalLM'] }, 'q/config.json'), /architectures' must name a Qwen2For… class for model_type 'qwen2'/);
  assert.throws(() => validateConfig({ ...qwen, model_type: 'qwen3', architectures: ['Qwen3ForCausalLM'], mlp_bias: true }, 'q/config.json'), /mlp_bias' is not part of qwen3/);
  const hcx = { ...qwen, architectures: ['HyperCLOVAXForCausalLM'], model_type: 'hyperclovax', embedding_multiplier: 2 };
  assert.throws(() => validateConfig(structuredClone(hcx), 'h/config.json'), /use_post_norm' is missing: a HyperCLOVAX config must state it/);
  assert.equal(validateConfig({ ...hcx, use_post_norm: false }, 'h/config.json').use_post_norm, false);
  assert.throws(() => validateConfig({ ...qwen, use_post_norm: true }, 'q/config.json'), /Peri-LN norms belong to HyperCLOVAX/);
  assert.equal(makeConfig({ vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2, logits_scaling: 0.5 }).use_post_norm, false, 'kolm writes the field for its own HyperCLOVAX configs');
});

test('Llama 3.1 RoPE follows transformers\' _compute_llama3_parameters', () => {
  const base = makeConfig({ vocab_size: 8, hidden_size: 128, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 1, rope_theta: 500000 });
  const s = { rope_type: 'llama3' as const, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  const plain = ropeFrequencies(base).invFreq;
  const scaled3 = ropeFrequencies({ ...base, rope_scaling: s }).invFreq;
  // The same computation written as transformers writes it (torch.where over wavelengths).
  plain.forEach((f, i) => {
    const wavelen = (2 * Math.PI) / f;
    const [low, high] = [8192 / 1, 8192 / 4];
    let want = wavelen > low ? f / 8 : f;
    const smooth = (8192 / wavelen - 1) / (4 - 1);
    if (!(wavelen < high) && !(wavelen > low)) want = ((1 - smooth) * want) / 8 + smooth * want;
    assert.ok(Math.abs(scaled3[i]! - want) <= 1e-15 * Math.max(1, want), `frequency ${i}: ${scaled3[i]} vs ${want}`);
  });
  assert.equal(scaled3[0], plain[0], 'high frequencies kept');
  assert.ok(Math.abs(scaled3.at(-1)! - plain.at(-1)! / 8) < 1e-18, 'low frequencies divided by factor');
  assert.throws(() => validateConfig({ ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'c.json'), /rope_scaling.low_freq_factor' must be a positive number for llama3/);
});

test('published config.json files validate as transformers reads them: Qwen2.5, Qwen3, Llama 3.2 (llama3 RoPE), SEED-Text', () => {
  const qwen25 = {
    architectures: ['Qwen2ForCausalLM'], attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, hidden_act: 'silu', hidden_size: 896, initializer_range: 0.02,
    intermediate_size: 4864, max_position_embeddings: 32768, max_window_layers: 21, model_type: 'qwen2', num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2,
    rms_norm_eps: 1e-6, rope_theta: 1000000.0, sliding_window: 32768, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.43.1', use_cache: true,
    use_sliding_window: false, vocab_size: 151936,
  };
  const qwen3 = {
    architectures: ['Qwen3ForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 151643, eos_token_id: 151645, head_dim: 128, hidden_act: 'silu', hidden_size: 1024,
    initializer_range: 0.02, intermediate_size: 3072, max_position_embeddings: 40960, max_window_layers: 28, model_type: 'qwen3', num_attention_heads: 16, num_hidden_layers: 28,
    num_key_value_heads: 8, rms_norm_eps: 1e-6, rope_scaling: null, rope_theta: 1000000, sliding_window: null, tie_word_embeddings: true, torch_dtype: 'bfloat16',
    transformers_version: '4.51.0', use_cache: true, use_sliding_window: false, vocab_size: 151936,
  };
  const llama32 = {
    architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: [128001, 128008, 128009], head_dim: 64, hidden_act: 'silu',
    hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072, mlp_bias: false, model_type: 'llama', num_attention_heads: 32,
    num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1, rms_norm_eps: 1e-5,
    rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
    rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.45.0.dev0', use_cache: true, vocab_size: 128256,
  };
  const q25 = validateConfig(structuredClone(qwen25), 'Qwen2.5-0.5B/config.json');
  assert.equal(q25.head_dim, 64);
  assert.equal(paramSpecs(q25).filter((s) => s.name.endsWith('.bias')).length, 3 * 24);
  assert.ok(Math.abs(parameterCount(q25) / 1e6 - 494) < 1, `${parameterCount(q25)} parameters (Qwen2.5-0.5B has 494M)`);
  const q3 = validateConfig(structuredClone(qwen3), 'Qwen3-0.6B/config.json');
  assert.equal(q3.head_dim, 128, 'explicit head_dim ≠ hidden / heads');
  assert.ok(Math.abs(parameterCount(q3) / 1e6 - 596) < 1, `${parameterCount(q3)} parameters (Qwen3-0.6B has 596M)`);
  const l32 = validateConfig(structuredClone(llama32), 'Llama-3.2-1B/config.json');
  assert.equal(l32.rope_scaling?.rope_type, 'llama3');
  assert.ok(Math.abs(parameterCount(l32) / 1e6 - 1236) < 1, `${parameterCount(l32)} parameters (Llama 3.2 1B has 1.24B)`);
  for (const [raw, c] of [[qwen25, q25], [qwen3, q3], [llama32, l32]] as const) {
    const back = JSON.parse(JSON.stringify(c)) as Record<string, unknown>;
    for (const [k, v] of Object.entries(raw)) assert.deepEqual(back[k], v, `${k} is written back as read`);
  }
  assert.throws(() => validateConfig({ ...qwen25, embedding_multiplier: 2 }, 'q/config.json'), /embedding_multiplier' is a HyperCLOVAX μP multiplier, not part of qwen2/);
});
