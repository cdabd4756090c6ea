import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { rng } from '../../src/util/random.js';
import { generateIds } from '../../src/infer/generate.js';
import { loadModel } from '../../src/infer/model.js';
import { loadModelFolder } from '../../src/model/folder.js';
import { policyRuntime } from '../../src/train/policy-runtime.js';
import { exactMatchReward, gae, lastNumber, ppoCore, type PpoRecord } from '../../src/train/ppo.js';
import { toOrt } from '../../src/runtime/session.js';
import { tinyChatModel } from './align-helpers.js';

test('PPO raises the mean reward of a verifiable toy task while the KL penalty keeps the policy near the reference', async () => {
  // Vocabulary of 16 ids; reward = how many of the 6 sampled tokens are id 7. A random policy scores ≈ 6/16.
  const config = makeConfig({ vocab_size: 16, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, initializer_range: 0.05 });
  const policy = initParams(config, 3);
  const value = { ...initParams(config, 4), 'score.weight': { dtype: 'float32' as const, shape: [1, 32], data: new Float64Array(32) } };
  const random = rng(5);
  const prompts = Array.from({ length: 32 }, () => ({ ids: Array.from({ length: 3 }, () => 1 + Math.floor(random() * 15)), meta: {} }));
  const run = async (klCoef: number) => {
    const history: PpoRecord[] = [];
    const result = await ppoCore({
      config, padId: 0, policy, value, prompts, stopTokenIds: [], maxNewTokens: 6,
      score: async (rollouts) => rollouts.map((r) => r.response.filter((id) => id === 7).length),
      iterations: 24, rolloutBatch: 16, minibatch: 8, ppoEpochs: 2, lr: 1e-2, klCoef, seed: 1, threads: 1, quiet: true,
      onIteration: (r) => history.push(r),
    });
    const mean = (rs: PpoRecord[], k: 'score' | 'kl') => rs.reduce((a, r) => a + r[k], 0) / rs.length;
    return { result, history, first: mean(history.slice(0, 3), 'score'), last: mean(history.slice(-3), 'score'), kl: mean(history.slice(-3), 'kl') };
  };
  const penalised = await run(0.5);
  assert.ok(penalised.first < 0.8, `starts near chance (${penalised.first})`);
  assert.ok(penalised.last > 1.5, `mean reward rises: ${penalised.first.toFixed(3)} → ${penalised.last.toFixed(3)}`);
  assert.ok(penalised.history.every((r) => Number.isFinite(r.loss) && r.clipfrac >= 0 && r.clipfrac <= 1));
  // With β = 0.5 the KL-regularised optimum (π ∝ π_ref·exp(r/β)) stays a few nats from the reference; without the
  // penalty the policy collapses onto id 7 (6·ln 16 ≈ 16.6 nats at the limit).
  const free = await run(0);
  assert.ok(penalised.kl > 0 && penalised.kl < 6, `KL to the reference stays bounded with the penalty (${penalised.kl.toFixed(3)} nats)`);
  assert.ok(free.kl > 9 && free.last > 5, `without the penalty the policy drifts much further (KL ${free.kl.toFixed(3)}, reward ${free.last.toFixed(3)})`);
  // The returned policy is the trained one: greedy decoding now prefers id 7.
  const rt = await policyRuntime(config, () => Object.fromEntries(Object.entries(penalised.result.policy).map(([k, v]) => [k, toOrt(v, 'float32')])), { threads: 1 });
  const greedy = await generateIds(rt, prompts.slice(0, 8).map((p) => p.ids), { maxNewTokens: 6 });
  assert.ok(greedy.flatMap((g) => g.ids).filter((id) => id === 7).length > 24, 'greedy answers are mostly id 7');
});

test('generation from live weights equals generation from the compiled model folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kolm-policy-rt-'));
  try {
    const { modelDir } = await tinyChatModel(dir, {}, 9);
    const model = await loadModel(modelDir, { threads: 1 });
    const { weights, config } = await loadModelFolder(modelDir);
    const rt = await policyRuntime(config, () => weights, { threads: 1 });
    const prompts = ['서울은 대한민국의', 'Seoul is', '학교에서 학생들은 국어와'].map((p) => model.tokenizer.encode(p));
    const a = await generateIds(model, prompts, { maxNewTokens: 12 });
    const b = await generateIds(rt, prompts, { maxNewTokens: 12 });
    assert.deepEqual(b.map((g) => g.ids), a.map((g) => g.ids));
    const s1 = await generateIds(rt, prompts, { maxNewTokens: 8, temperature: 1, seed: 4 });
    const s2 = await generateIds(model, prompts, { maxNewTokens: 8, temperature: 1, seed: 4 });
    assert.deepEqual(s1.map((g) => g.ids), s2.map((g) => g.ids));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GAE and the verifiable exact-match reward', () => {
  // γ = 1, λ = 1: advantages are returns-to-go minus values.
  const { advantages, returns } = gae([0, 0, 1], [0.5, 0.2, 0.1], 1, 1);
  assert.deepEqual(returns.map((r) => +r.toFixed(12)), [1, 1, 1]);
  assert.deepEqual(advantages.map((a) => +a.toFixed(12)), [0.5, 0.8, 0.9]);
  // λ = 0: one-step TD errors.
  const td = gae([0, 0, 1], [0.5, 0.2, 0.1], 1, 0).advantages;
  assert.deepEqual(td.map((a) => +a.toFixed(12)), [-0.3, -0.1, 0.9]);
  assert.equal(lastNumber('3 + 4 = 7. 정답: 1,234'), 1234);
  assert.equal(exactMatchReward('그래서 답은 42개입니다.', { answer: '42' }), 1);
  assert.equal(exactMatchReward('The answer is 41.', { answer: 42 }), 0);
  assert.equal(exactMatchReward('no number', { answer: 42 }), 0);
  assert.throws(() => exactMatchReward('1', { where: 'p.jsonl:3' }), /p\.jsonl:3 has no numeric 'answer'/);
});
