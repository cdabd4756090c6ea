import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeConfig } from '../../src/model/config.js';
import { generateIds } from '../../src/infer/generate.js';
import { Scheduler, QueueFullError } from '../../src/infer/scheduler.js';
import { KvCache } from '../../src/infer/kv-cache.js';
import { randomPrompt as randomPromptOf, tinyRuntime } from './infer-helpers.js';

const config = makeConfig({
  vocab_size: 97, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
  max_position_embeddings: 160, initializer_range: 0.3,
});
const dynamic = makeConfig({ ...config, rope_scaling: { rope_type: 'dynamic', factor: 2, original_max_position_embeddings: 32 } });

const runtime = (c = config) => tinyRuntime(c);
const randomPrompt = (n: number, seed: number) => randomPromptOf(n, seed, config.vocab_size);

for (const [label, c] of [['rope', config], ['dynamic NTK rope', dynamic]] as const) {
  test(`greedy outputs under continuous batching equal one-by-one generateIds: ${label}`, async () => {
    const rt = await runtime(c);
    const scheduler = new Scheduler(rt, { maxBatch: 4, maxQueue: 64 });
    // Different lengths, budgets and stop tokens; more requests than rows, so rows leave and others join mid-run.
    const requests = Array.from({ length: 11 }, (_, i) => ({
      prompt: randomPrompt(2 + ((i * 7) % 23), 100 + i),
      maxNewTokens: 5 + ((i * 13) % 60),
      stopTokenIds: i % 3 === 0 ? [7, 11, 13] : [],
    }));
    const expected: Awaited<ReturnType<typeof generateIds>> = [];
    for (const r of requests) expected.push((await generateIds(rt, [r.prompt], { maxNewTokens: r.maxNewTokens, stopTokenIds: r.stopTokenIds }))[0]!);
    // Staggered arrivals: half now, the rest after the batch has started decoding.
    const first = requests.slice(0, 6).map((r) => scheduler.submit(r));
    await new Promise((r) => setTimeout(r, 5));
    const rest = requests.slice(6).map((r) => scheduler.submit(r));
    const got = await Promise.all([...first, ...rest]);
    got.forEach((g, i) => {
      assert.deepEqual(g.ids, expected[i]!.ids, `request ${i}`);
      assert.equal(g.finishReason, expected[i]!.finishReason, `request ${i}`);
      assert.equal(g.promptTokens, requests[i]!.prompt.length);
    });
    assert.ok(scheduler.stats.decodeRows > scheduler.stats.decodeSteps, 'some decode steps carried several rows');
    assert.equal(scheduler.running + scheduler.waiting, 0);
  });
}

test('cancellation frees the row at once; a full queue rejects; onToken and constraints act per row', async () => {
  const rt = await runtime();
  const scheduler = new Scheduler(rt, { maxBatch: 2, maxQueue: 1 });
  const controller = new AbortController();
  let seen = 0;
  const long = scheduler.submit({ prompt: randomPrompt(5, 1), maxNewTokens: 150, signal: controller.signal, onToken: () => void (++seen === 3 && controller.abort()) });
  const other = scheduler.submit({ prompt: randomPrompt(4, 2), maxNewTokens: 20 });
  const queued = scheduler.submit({ prompt: randomPrompt(6, 3), maxNewTokens: 10 });
  await assert.rejects(scheduler.submit({ prompt: [1], maxNewTokens: 2 }), QueueFullError);
  const cancelled = await long;
  assert.equal(cancelled.finishReason, 'abort');
  assert.ok(cancelled.ids.length >= 3 && cancelled.ids.length < 150, `stopped after ${cancelled.ids.length} tokens`);
  assert.equal((await other).ids.length, 20);
  const [reference] = await generateIds(rt, [randomPrompt(6, 3)], { maxNewTokens: 10 });
  assert.deepEqual((await queued).ids, reference!.ids, 'the queued request ran once a row was free');
  // A constraint that allows only token 5, and onToken stopping after 4 tokens.
  let n = 0;
  const constrained = await scheduler.submit({
    prompt: randomPrompt(3, 4), maxNewTokens: 30,
    constrain: (logits, remaining) => {
      assert.equal(remaining, 30 - n);
      logits.fill(-Infinity);
      logits[5] = 0;
    },
    onToken: () => ++n === 4,
  });
  assert.deepEqual(constrained.ids, [5, 5, 5, 5]);
  assert.equal(constrained.finishReason, 'stop');
  await assert.rejects(scheduler.submit({ prompt: [] }), /empty/);
  await assert.rejects(scheduler.submit({ prompt: [1, 97] }), /outside the vocabulary/);
  await assert.rejects(scheduler.submit({ prompt: randomPrompt(170, 5) }), /context is 160/);
  const aborted = new AbortController();
  aborted.abort();
  assert.equal((await scheduler.submit({ prompt: [1, 2], signal: aborted.signal })).finishReason, 'abort');
});

test('batch cache: rows keep their own lengths through growth, removal and shrinking', () => {
  const cache = new KvCache(1, 1, 2, 4);
  const row = (len: number, base: number) => ({
    keys: [Float32Array.from({ length: len * 2 }, (_, i) => base + i)],
    values: [Float32Array.from({ length: len * 2 }, (_, i) => -(base + i))],
    batch: 0, steps: len, from: 0, length: len,
  });
  cache.addRow(row(3, 100));
  cache.addRow(row(9, 200)); // grows slots 4 → 16 and rows 1 → 2
  cache.addRow(row(2, 300));
  assert.equal(cache.slots, 16);
  cache.removeRow(0); // row 2 moves into row 0
  const { key, value } = cache.feeds(0);
  assert.deepEqual(key.shape, [2, 1, 2, 16]);
  const k = key.data as Float32Array;
  const v = value.data as Float32Array;
  // Row 0 is the third prompt: slot i, dim j holds 300 + 2i + j.
  assert.deepEqual([k[0], k[1], k[16], k[17]], [300, 302, 301, 303]);
  assert.deepEqual([v[0], v[1], v[2], v[3]], [-300, -301, -302, -303]);
  assert.equal(k[2 * 16 + 8], 216, 'row 1 slot 8 dim 0');
  cache.removeRow(1);
  cache.reserve(3); // every row fits a quarter of 16 slots: halve (but not to 4, where 3 would not fit a quarter)
  assert.equal(cache.slots, 8);
  assert.deepEqual(Array.from(cache.feeds(0).key.data.subarray(0, 16)), [300, 302, 0, 0, 0, 0, 0, 0, 301, 303, 0, 0, 0, 0, 0, 0]);
  // A limit (the most slots the running generations can use) stops growth short of the next power of two.
  cache.reserve(5, false, 6);
  assert.equal(cache.slots, 6);
  assert.deepEqual(Array.from(cache.feeds(0).key.data.subarray(0, 12)), [300, 302, 0, 0, 0, 0, 301, 303, 0, 0, 0, 0]);
  cache.reserve(7, false, 6); // never below what is asked for
  assert.equal(cache.slots, 7);
});
