import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initParams } from '../../src/model/params.js';
import { Session } from '../../src/runtime/session.js';
import { evaluate } from '../../src/graph/interpreter.js';
import { buildSftGraph } from '../../src/train/sft.js';
import { encodeChat, nextTokenLabels } from '../../src/train/chat-data.js';
import { batchPairs, epochSteps } from '../../src/train/align-loop.js';
import { buildBatch, planBatches, type TokenSequence } from '../../src/train/packing.js';
import { smallTokenizer, tinyConfig } from './align-helpers.js';

const conversations = [
  [{ role: 'user', content: '서울은 어떤 도시인가요?' }, { role: 'assistant', content: '서울은 대한민국의 수도입니다.' }],
  [{ role: 'user', content: 'Hello! How are you?' }, { role: 'assistant', content: 'I am fine.' }, { role: 'user', content: '한국어로?' }, { role: 'assistant', content: '네, 좋아요.' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: '학교에서 무엇을 하나요?' }, { role: 'assistant', content: '학생들은 국어와 수학을 공부한다.' }],
];

test('packing never leaks attention: per-token losses of a packed row equal each conversation run alone', async () => {
  const tok = await smallTokenizer();
  const config = tinyConfig(tok);
  const params = initParams(config, 3);
  const seqs: TokenSequence[] = conversations.map((messages) => {
    const e = encodeChat(tok, messages);
    return { ids: e.ids, labels: nextTokenLabels(e.ids, e.targets) };
  });
  const total = seqs.reduce((n, s) => n + s.ids.length, 0);
  const T = total + 5; // and some padding at the end
  const packedGraph = buildSftGraph(config, 1, T);
  const packedSession = await Session.create({ logps: packedGraph.tokenLogps }, { threads: 1 });
  const { rows: layout, ...feeds } = buildBatch(config, [seqs], T, 0);
  const packed = (await packedSession.run({ ...feeds, ...params }))['logps']!.data as Float32Array;

  const alone: number[] = [];
  for (const s of seqs) {
    const g = buildSftGraph(config, 1, s.ids.length);
    const session = await Session.create({ logps: g.tokenLogps }, { threads: 1 });
    const { rows: _r, ...f } = buildBatch(config, [[s]], s.ids.length, 0);
    alone.push(...((await session.run({ ...f, ...params }))['logps']!.data as Float32Array));
  }
  assert.deepEqual(layout[0]!.map(([, start, n]) => [start, n]), [[0, seqs[0]!.ids.length], [seqs[0]!.ids.length, seqs[1]!.ids.length], [seqs[0]!.ids.length + seqs[1]!.ids.length, seqs[2]!.ids.length]]);
  let trained = 0;
  for (let t = 0; t < total; t++) {
    assert.ok(Math.abs(packed[t]! - alone[t]!) < 1e-4, `token ${t}: packed ${packed[t]} vs alone ${alone[t]}`);
    if (alone[t] !== 0) trained++;
  }
  assert.ok(trained > 20, `many trained tokens compared (${trained})`);
  for (let t = total; t < T; t++) assert.ok(packed[t] === 0, 'padding carries no loss');

  // The same check through the float64 interpreter, and a control: a plain causal mask over the packed row (attention
  // crossing conversations, positions not restarting) does change the later conversations' losses.
  const asNumbers = (x: { shape: number[]; data: BigInt64Array }) => ({ dtype: 'int64' as const, shape: x.shape, data: Array.from(x.data, Number) });
  const [ref] = evaluate([packedGraph.tokenLogps], { ...feeds, input_ids: asNumbers(feeds.input_ids), labels: asNumbers(feeds.labels), ...params });
  for (let t = 0; t < total; t++) assert.ok(Math.abs(ref!.data[t]! - alone[t]!) < 1e-4);
  const leaky = { ...feeds, mask: { ...feeds.mask, data: feeds.mask.data.map((_, i) => (i % T <= Math.floor(i / T) ? 0 : -1e9)) } };
  const leaked = (await packedSession.run({ ...leaky, ...params }))['logps']!.data as Float32Array;
  const start2 = seqs[0]!.ids.length;
  let maxDiff = 0;
  for (let t = start2; t < total; t++) maxDiff = Math.max(maxDiff, Math.abs(leaked[t]! - alone[t]!));
  assert.ok(maxDiff > 1e-3, `a leaking mask is detected (max diff ${maxDiff})`);
});

test('length-grouped packing respects the token budget, covers every sequence once and is reproducible by seed', () => {
  const lengths = Array.from({ length: 200 }, (_, i) => 5 + ((i * 37) % 60));
  const plan = planBatches(lengths, { seq: 64, rows: 4, seed: 9 });
  const seen = plan.batches.flat(2).sort((a, b) => a - b);
  assert.deepEqual(seen, [...lengths.keys()]);
  for (const batch of plan.batches) {
    assert.equal(batch.length, 4);
    for (const row of batch) assert.ok(row.reduce((n, i) => n + lengths[i]!, 0) <= 64);
  }
  assert.ok(plan.fill > 0.85, `packing fills rows (${plan.fill})`);
  assert.deepEqual(planBatches(lengths, { seq: 64, rows: 4, seed: 9 }), plan);
  assert.notDeepEqual(planBatches(lengths, { seq: 64, rows: 4, seed: 10 }).batches, plan.batches);
  const unpacked = planBatches(lengths, { seq: 64, rows: 4, seed: 9, pack: false });
  assert.ok(unpacked.batches.flat().every((row) => row.length <= 1));
  assert.throws(() => planBatches([70], { seq: 64, rows: 1 }), /sequence 0 has 70 tokens, more than the row length 64/);
});

test('epoch steps: steps from epochs and accumulation, every epoch covers each batch once and is drawn again with the next seed', () => {
  const lengths = Array.from({ length: 10 }, (_, i) => 3 + (i % 4));
  const seeds: number[] = [];
  const plan = (epoch: number) => {
    seeds.push(epoch);
    return planBatches(lengths, { seq: 8, rows: 2, seed: 7 + epoch, pack: false });
  };
  const seen: number[][] = [];
  const s = epochSteps(plan, { epochs: 2, accumulation: 2 }, (batch) => {
    seen.push(batch.flat());
    return { feeds: {}, tokens: batch.flat().length };
  });
  assert.equal(s.first.batches.length, 5);
  assert.equal(s.steps, 5); // ceil(2 epochs × 5 batches / 2 micro-batches per step)
  const step = [s.next(), s.next()]; // the first step's two micro-batches
  assert.equal(step[0]!.tokens + step[1]!.tokens, 4);
  for (let i = 2; i < 2 * s.steps; i++) s.next();
  assert.deepEqual(seeds, [0, 1]);
  for (const epoch of [seen.slice(0, 5), seen.slice(5, 10)]) assert.deepEqual(epoch.flat().sort((a, b) => a - b), [...lengths.keys()]);
  assert.equal(epochSteps(plan, { steps: 3, accumulation: 1 }, () => ({ feeds: {}, tokens: 0 })).steps, 3);
});

test('batch pairs: a short batch is filled with copies of its first pair and only the planned ones count as real', () => {
  assert.deepEqual(batchPairs([[4], [9]], 4), { pairs: [4, 9, 4, 4], real: 2 });
  assert.deepEqual(batchPairs([[1], [2], [3]], 3), { pairs: [1, 2, 3], real: 3 });
});
