import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/graph/tensor.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { ndarray } from '../../src/graph/ndarray.js';
import { sequenceAttention } from '../../src/model/attention.js';
import { decoder, weightsOf } from '../../src/model/decoder.js';
import { initParams } from '../../src/model/params.js';
import { paramSpecs } from '../../src/model/params.js';
import { ropeFrequencies, ropeTables } from '../../src/model/rope.js';
import { Session } from '../../src/runtime/session.js';
import { buildDpoGraph, dpoLoss, encodePairs } from '../../src/train/dpo.js';
import { parsePreferenceRecord } from '../../src/train/chat-data.js';
import { buildBatch } from '../../src/train/packing.js';
import { smallTokenizer, tinyConfig } from './align-helpers.js';

test('DPO sigmoid loss equals the hand-computed value (float64 interpreter), with and without label smoothing', () => {
  const g = new Graph();
  const inp = (name: string) => g.input(name, [2]);
  const [pc, pr, rc, rr, w] = ['pc', 'pr', 'rc', 'rr', 'w'].map(inp) as [ReturnType<typeof inp>, ReturnType<typeof inp>, ReturnType<typeof inp>, ReturnType<typeof inp>, ReturnType<typeof inp>];
  const plain = dpoLoss(pc, pr, rc, rr, w, { beta: 0.1 });
  const smoothed = dpoLoss(pc, pr, rc, rr, w, { beta: 0.1, labelSmoothing: 0.1 });
  const f = (data: number[]) => ndarray('float32', [2], data);
  // z₁ = 0.1·((−3 + 3.5) − (−4 + 3)) = 0.15, z₂ = 0.1·((−5 + 4) − (−2 + 2.5)) = −0.15.
  const feeds = { pc: f([-3, -5]), pr: f([-4, -2]), rc: f([-3.5, -4]), rr: f([-3, -2.5]), w: f([1, 1]) };
  const [loss, acc, margin, chosenReward] = evaluate([plain.loss, plain.metrics.accuracy, plain.metrics.margin, plain.chosenReward], feeds);
  // −log σ(0.15) = log(1 + e^−0.15) = 0.6209570477895321; −log σ(−0.15) = 0.770957047789532.
  assert.ok(Math.abs(loss!.data[0]! - (0.6209570477895321 + 0.770957047789532) / 2) < 1e-12, `loss ${loss!.data[0]}`);
  assert.equal(acc!.data[0], 0.5);
  assert.ok(Math.abs(margin!.data[0]!) < 1e-12);
  assert.ok(Math.abs(chosenReward!.data[0]! - 0.05) < 1e-12 && Math.abs(chosenReward!.data[1]! + 0.1) < 1e-12);
  // Only the first pair counts (weight 0 on the second); cDPO with ε = 0.1: 0.9·0.62095… + 0.1·0.77095… = 0.6359570477895321.
  const [ls] = evaluate([smoothed.loss], { ...feeds, w: f([1, 0]) });
  assert.ok(Math.abs(ls!.data[0]! - 0.6359570477895321) < 1e-12, `smoothed loss ${ls!.data[0]}`);
});

test('DPO graph on a tiny model: summed completion log-probs computed independently give the same loss, in ORT and the interpreter', async () => {
  const tok = await smallTokenizer();
  const config = tinyConfig(tok);
  const policy = initParams(config, 5);
  const ref = initParams(config, 6);
  const records = [
    { prompt: '서울은 어떤 도시인가요?', chosen: '서울은 대한민국의 수도입니다.', rejected: 'I cannot help with that.' },
    { prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello! How are you?' }], chosen: 'I am fine.', rejected: '네, 좋아요.' },
  ].map((r, i) => parsePreferenceRecord(r, `t:${i + 1}`));
  const pairs = encodePairs(tok, records, 64);
  const T = Math.max(...[...pairs.chosen, ...pairs.rejected].map((s) => s.ids.length));

  // Independent reference: each sequence alone through the decoder (plain causal attention), log-softmax in JS.
  const sumLogp = (weights: typeof policy, s: { ids: readonly number[]; labels: readonly number[] }) => {
    const g = new Graph();
    const w = Object.fromEntries(paramSpecs(config).map((p) => [p.name, g.input(p.name, p.shape)]));
    const ids = g.input('ids', [1, s.ids.length], 'int64');
    const { cos, sin } = ropeTables(ropeFrequencies(config), [...s.ids.keys()]);
    const { logits } = decoder(config, ids, { weight: weightsOf(w), attention: sequenceAttention(config, { cos: g.constant(cos), sin: g.constant(sin) }) });
    const [out] = evaluate([logits], { ...weights, ids: ndarray('int64', [1, s.ids.length], s.ids) });
    const V = config.vocab_size;
    let total = 0;
    s.labels.forEach((label, t) => {
      if (label === -100) return;
      const row = out!.data.subarray(t * V, (t + 1) * V);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      total += row[label]! - lse;
    });
    return total;
  };
  const beta = 0.1;
  const pc = pairs.chosen.map((s) => sumLogp(policy, s));
  const pr = pairs.rejected.map((s) => sumLogp(policy, s));
  const rc = pairs.chosen.map((s) => sumLogp(ref, s));
  const rr = pairs.rejected.map((s) => sumLogp(ref, s));
  const expected = pc.reduce((acc, _, i) => acc + Math.log1p(Math.exp(-beta * ((pc[i]! - rc[i]!) - (pr[i]! - rr[i]!)))), 0) / pc.length;

  const model = buildDpoGraph(config, 2, T, { beta });
  const { rows: _r, ...batch } = buildBatch(config, [...pairs.chosen.map((s) => [s]), ...pairs.rejected.map((s) => [s])], T, 0);
  const extra = { ref_logps: ndarray('float32', [4], [...rc, ...rr]), pair_weight: ndarray('float32', [2], [1, 1]) };
  const num = (x: { shape: number[]; data: BigInt64Array }) => ndarray('int64', x.shape, Array.from(x.data, Number));
  const [interp] = evaluate([model.loss], { ...batch, input_ids: num(batch.input_ids), labels: num(batch.labels), ...extra, ...policy });
  assert.ok(Math.abs(interp!.data[0]! - expected) < 1e-9, `interpreter ${interp!.data[0]} vs hand ${expected}`);
  const session = await Session.create({ loss: model.loss }, { threads: 1 });
  const ortLoss = (await session.run({ ...batch, ...extra, ...policy }))['loss']!.data[0] as number;
  assert.ok(Math.abs(ortLoss - expected) < 1e-4, `ORT ${ortLoss} vs hand ${expected}`);
  assert.ok(Math.abs(expected - Math.log(2)) > 1e-3, 'policy and reference differ, so the loss is not the trivial ln 2');
  // RPO (TRL's rpo_alpha): plus α × the chosen answers' token-mean NLL.
  const rpo = buildDpoGraph(config, 2, T, { beta, rpoAlpha: 0.5 });
  const chosenTokens = pairs.chosen.reduce((n, s) => n + s.labels.filter((l) => l !== -100).length, 0);
  const [withNll] = evaluate([rpo.loss], { ...batch, input_ids: num(batch.input_ids), labels: num(batch.labels), ...extra, ...policy });
  const expectedRpo = expected + 0.5 * (-(pc[0]! + pc[1]!) / chosenTokens);
  assert.ok(Math.abs(withNll!.data[0]! - expectedRpo) < 1e-9, `RPO ${withNll!.data[0]} vs hand ${expectedRpo}`);
});
