/**
 * Abort listeners do not pile up on signals that outlive a request: thousands of requests through the scheduler, the
 * model's text stream and the HTTP server leave no listener behind, raise no MaxListenersExceededWarning, and leave
 * the heap (after garbage collection) where it was.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { rmSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { serve, type KolmServer } from '../../src/serve/server.js';
import type { Job } from '../../src/serve/engine.js';
import { tinyModel } from './serve-helpers.js';

// A full collection on demand, without needing --expose-gc on the command line.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let root: string;
let model: LanguageModel;
let server: KolmServer;
const warnings: string[] = []; // messages only: a warning object would keep its signal alive
const onWarning = (w: Error) => {
  if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
};

before(async () => {
  process.on('warning', onWarning);
  const made = await tinyModel();
  root = made.root;
  model = await loadModel(made.model, { threads: 1 });
  server = await serve(model, { port: 0, maxBatch: 16, maxQueue: 256 });
});

after(async () => {
  process.off('warning', onWarning);
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

/** heapUsed after full collections, once it stops falling. */
async function settledHeap(): Promise<number> {
  let last = Infinity;
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 16 * 1024) return Math.min(used, last);
    last = used;
  }
  return last;
}

/** `fn(i)` for i in 0..count-1, `width` at a time. */
async function pool(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < count) await fn(next++);
  }));
}

const MB = 1024 * 1024;

test('a signal shared by thousands of scheduled jobs and text streams keeps no abort listener once they settle', async (t) => {
  const shared = new AbortController(); // lives as long as the test, like a server-wide shutdown signal
  const prompt = model.tokenizer.encode('서울은');
  const job = { prompt, maxTokens: 1, sampling: { temperature: 0 }, signal: shared.signal } satisfies Job;
  let most = 0;
  const round = async (jobs: number, streams: number) => {
    // 8 at a time: below the default limit of 10 listeners, so only listeners left behind could raise the warning.
    await pool(jobs, 8, async () => {
      await server.engine.run(job);
      most = Math.max(most, abortListeners(shared.signal));
    });
    for (let i = 0; i < streams; i++) {
      for await (const _ of model.stream('봄에는', { maxNewTokens: 1, temperature: 0, signal: shared.signal })) { /* drain */ }
      most = Math.max(most, abortListeners(shared.signal));
    }
  };
  const started = performance.now();
  await round(200, 20); // warm-up
  const heapBefore = await settledHeap();
  for (let r = 0; r < 3; r++) await round(800, 100);
  const heapAfter = await settledHeap();
  t.diagnostic(`2600 jobs + 320 streams in ${Math.round(performance.now() - started)} ms; abort listeners on the shared signal: ${abortListeners(shared.signal)} at the end, at most ${most} while running; heap ${(heapBefore / MB).toFixed(1)} → ${(heapAfter / MB).toFixed(1)} MB`);
  assert.equal(abortListeners(shared.signal), 0);
  assert.ok(most < 8, `at most the running jobs' listeners (${most})`);
  assert.deepEqual(warnings, []);
  assert.ok(heapAfter - heapBefore < 2 * MB, `heap grew ${((heapAfter - heapBefore) / MB).toFixed(2)} MB over 2400 jobs and 300 streams`);
});

test('thousands of HTTP requests, streamed or not, with one prompt or many, leave no abort listener and no heap growth', async (t) => {
  // Watch each request's signal as its jobs settle: listeners only for its jobs still running, none after the last.
  const engine = server.engine;
  const run = engine.run.bind(engine);
  const unsettled = new Map<AbortSignal, number>();
  const excess: string[] = [];
  engine.run = async (job) => {
    const signal = job.signal!;
    unsettled.set(signal, (unsettled.get(signal) ?? 0) + 1);
    try {
      return await run(job);
    } finally {
      const left = unsettled.get(signal)! - 1;
      if (left) unsettled.set(signal, left);
      else unsettled.delete(signal);
      const listeners = abortListeners(signal);
      if (listeners > left && excess.length < 5) excess.push(`${listeners} abort listeners with ${left} jobs of the request running`);
    }
  };
  t.after(() => {
    engine.run = run;
  });
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.equal(res.status, 200, text);
  };
  const messages = [{ role: 'user', content: '오늘 날씨가 어때요?' }];
  const request = (i: number) => {
    if (i % 10 === 0) return post('/v1/completions', { model: 'model', prompt: Array.from({ length: 24 }, (_, k) => `봄에는 ${k}`), max_tokens: 1, temperature: 0 });
    return post('/v1/chat/completions', { model: 'model', messages, max_tokens: 1, temperature: 0, stream: i % 3 === 0 });
  };
  const started = performance.now();
  await pool(200, 24, request); // warm-up
  const heapBefore = await settledHeap();
  const rounds: number[] = [];
  for (let r = 0; r < 3; r++) {
    await pool(700, 24, request);
    rounds.push(await settledHeap());
  }
  const heapAfter = rounds.at(-1)!;
  t.diagnostic(`2300 requests (230 of them with 24 prompts) in ${Math.round(performance.now() - started)} ms; heap ${(heapBefore / MB).toFixed(1)} → ${rounds.map((h) => (h / MB).toFixed(1)).join(' → ')} MB`);
  assert.deepEqual(excess, []);
  assert.equal(unsettled.size, 0);
  assert.deepEqual(warnings, []);
  assert.equal(engine.scheduler.running + engine.scheduler.waiting, 0);
  assert.ok(heapAfter - heapBefore < 4 * MB, `heap grew ${((heapAfter - heapBefore) / MB).toFixed(2)} MB over 2100 requests`);
});
