import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeConfig } from '../../src/model/config.js';
import { generateIds, sequenceLogits } from '../../src/infer/generate.js';
import { Sampler, argmax } from '../../src/infer/sampler.js';
import { randomPrompt as randomPromptOf, tinyRuntime } from './infer-helpers.js';

const config = makeConfig({
  vocab_size: 97, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  max_position_embeddings: 96, initializer_range: 0.3,
});
const periLn = makeConfig({
  vocab_size: 97, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 1, head_dim: 12,
  max_position_embeddings: 96, initializer_range: 0.3, use_post_norm: true, embedding_multiplier: 2, attention_multiplier: 0.2, logits_scaling: 0.7, residual_multiplier: 0.8,
  rope_scaling: { rope_type: 'yarn', factor: 2, original_max_position_embeddings: 16 },
});

const runtime = (c = config) => tinyRuntime(c);
const randomPrompt = (n: number, seed: number) => randomPromptOf(n, seed, config.vocab_size);

for (const [label, c] of [['Llama', config], ['HyperCLOVAX + YaRN', periLn]] as const) {
  test(`greedy decoding with the KV cache equals recomputing the whole sequence every step: ${label}`, async () => {
    const rt = await runtime(c);
    const prompt = randomPrompt(7, 1);
    const cached: Float32Array[] = [];
    const [gen] = await generateIds(rt, [prompt], { maxNewTokens: 40, onLogits: (_b, logits) => cached.push(logits) });
    assert.equal(gen!.ids.length, 40);
    // Decoding runs past the KV cache's first capacity (64) to cover its growth.
    const seq = [...prompt];
    for (let step = 0; step < 40; step++) {
      const all = await sequenceLogits(rt, seq);
      const last = all.subarray((seq.length - 1) * c.vocab_size, seq.length * c.vocab_size);
      cached[step]!.forEach((v, i) => assert.ok(Math.abs(v - last[i]!) < 1e-4 * Math.max(1, Math.abs(v)), `step ${step} logit ${i}: cache ${v} vs full ${last[i]}`));
      const id = argmax(last);
      assert.equal(gen!.ids[step], id, `step ${step}`);
      seq.push(id);
    }
  });
}

test('KV cache grows past its initial capacity without changing results', async () => {
  const rt = await runtime();
  const prompt = randomPrompt(60, 2); // 60 + 30 crosses the 64-slot initial capacity
  const [gen] = await generateIds(rt, [prompt], { maxNewTokens: 30 });
  const seq = [...prompt];
  for (const id of gen!.ids) {
    const all = await sequenceLogits(rt, seq);
    assert.equal(id, argmax(all.subarray((seq.length - 1) * config.vocab_size)));
    seq.push(id);
  }
});

test('batch generation of prompts of different lengths equals one-by-one generation', async () => {
  const rt = await runtime();
  const prompts = [randomPrompt(3, 10), randomPrompt(9, 11), randomPrompt(5, 12)];
  const batched = await generateIds(rt, prompts, { maxNewTokens: 12 });
  for (let b = 0; b < prompts.length; b++) {
    const [single] = await generateIds(rt, [prompts[b]!], { maxNewTokens: 12 });
    assert.deepEqual(batched[b]!.ids, single!.ids, `prompt ${b}`);
  }
});

test('stop tokens end a sequence; context overflow is a clear error or a left truncation', async () => {
  const rt = await runtime();
  const prompt = randomPrompt(6, 4);
  const [free] = await generateIds(rt, [prompt], { maxNewTokens: 10 });
  const stopAt = free!.ids[3]!;
  const [stopped] = await generateIds(rt, [prompt], { maxNewTokens: 10, stopTokenIds: [stopAt] });
  assert.equal(stopped!.finishReason, 'stop');
  assert.deepEqual(stopped!.ids, free!.ids.slice(0, free!.ids.indexOf(stopAt) + 1));
  const long = randomPrompt(200, 5);
  await assert.rejects(generateIds(rt, [long]), /prompt 0 has 200 tokens; the model's context is 96/);
  const [truncated] = await generateIds(rt, [long], { truncate: 'left', maxNewTokens: 5 });
  assert.equal(truncated!.promptTokens, 95);
  assert.equal(truncated!.ids.length, 1, 'only one position left in the context');
  assert.equal(truncated!.finishReason, 'length');
  await assert.rejects(generateIds(rt, [[5, 1000]]), /token id 1000 is outside the vocabulary/);
});

test('samplers: top-k and top-p restrict the support, min-p too, a seed reproduces, penalties apply', () => {
  const logits = Float32Array.from([2, 1.5, 1, 0.5, 0, -1]);
  const support = (opts: ConstructorParameters<typeof Sampler>[0], n = 3000) => {
    const s = new Sampler(opts);
    const seen = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const id = s.sample(Float32Array.from(logits), []);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    return seen;
  };
  assert.deepEqual([...support({ temperature: 1, topK: 2, seed: 1 }).keys()].sort(), [0, 1]);
  // softmax(logits): p0 ≈ 0.39, p1 ≈ 0.24, p2 ≈ 0.14 → top-p 0.6 keeps {0, 1} (0.63 ≥ 0.6).
  assert.deepEqual([...support({ temperature: 1, topP: 0.6, seed: 2 }).keys()].sort(), [0, 1]);
  // min-p 0.3: keep tokens with p ≥ 0.3·p0 → e^{x-2} ≥ 0.3 → x ≥ 0.796: {0, 1, 2}
  assert.deepEqual([...support({ temperature: 1, minP: 0.3, seed: 3 }).keys()].sort(), [0, 1, 2]);
  const all = support({ temperature: 1, seed: 4 }, 20000);
  assert.equal(all.size, 6, 'plain sampling reaches every token');
  const p0 = all.get(0)! / 20000;
  const expected = Math.exp(2) / Array.from(logits).reduce((a, x) => a + Math.exp(x), 0);
  assert.ok(Math.abs(p0 - expected) < 0.02, `frequency ${p0} vs probability ${expected}`);
  const a = new Sampler({ temperature: 0.8, seed: 9 });
  const b = new Sampler({ temperature: 0.8, seed: 9 });
  const draws = (s: Sampler) => Array.from({ length: 50 }, () => s.sample(Float32Array.from(logits), []));
  assert.deepEqual(draws(a), draws(b));
  assert.equal(new Sampler({}).sample(Float32Array.from(logits), []), 0, 'greedy by default');
  assert.equal(new Sampler({ presencePenalty: 1 }).sample(Float32Array.from(logits), [0]), 1, 'presence penalty moves greedy off a used token');
  assert.equal(new Sampler({ repetitionPenalty: 2 }).sample(Float32Array.from(logits), [0]), 1, '2/2 = 1 < 1.5');
  assert.equal(new Sampler({ frequencyPenalty: 0.3 }).sample(Float32Array.from(logits), [0, 0]), 1, '2 - 0.6 < 1.5');
});
