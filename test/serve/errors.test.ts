import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { serve, type KolmServer } from '../../src/serve/server.js';
import { tinyModel } from './serve-helpers.js';

let root: string;
let model: LanguageModel;
let server: KolmServer;
const KEY = 'sk-errors';

before(async () => {
  const made = await tinyModel();
  root = made.root;
  model = await loadModel(made.model, { threads: 1 });
  server = await serve(model, { port: 0, apiKey: KEY, maxBodyBytes: 64 * 1024, maxBatch: 1, maxQueue: 1 });
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

async function call(path: string, body: string | object | undefined, opts: { key?: string | null; method?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = opts.key === undefined ? KEY : opts.key;
  if (key) headers['authorization'] = `Bearer ${key}`;
  const res = await fetch(`${server.url}${path}`, { method: opts.method ?? 'POST', headers, body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as ErrorBody & Record<string, unknown> };
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'model', messages: [{ role: 'user', content: '안녕' }], max_tokens: 2, temperature: 0, ...extra });

/** After every refusal the server still answers a good request. */
async function stillServing(): Promise<void> {
  const ok = await call('/v1/chat/completions', chat());
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
}

function assertError(r: Awaited<ReturnType<typeof call>>, status: number, param: string | null, pattern: RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, 'string');
  assert.equal(typeof r.json.error.type, 'string');
  assert.equal(r.json.error.param, param, JSON.stringify(r.json));
  assert.match(r.json.error.message, pattern);
}

test('malformed JSON and non-object bodies are 400 with an OpenAI-style error', async () => {
  assertError(await call('/v1/chat/completions', '{"model": "model", "messages": ['), 400, null, /could not parse the JSON body/);
  assertError(await call('/v1/chat/completions', ''), 400, null, /body is empty/);
  assertError(await call('/v1/chat/completions', '[1, 2]'), 400, 'body', /must be a JSON object/);
  await stillServing();
});

test('wrong types and values name the field', async () => {
  assertError(await call('/v1/chat/completions', chat({ temperature: 'hot' })), 400, 'temperature', /expected a number/);
  assertError(await call('/v1/chat/completions', chat({ temperature: 3 })), 400, 'temperature', /greater than the maximum of 2/);
  assertError(await call('/v1/chat/completions', chat({ max_tokens: 1.5 })), 400, 'max_tokens', /expected an integer/);
  assertError(await call('/v1/chat/completions', chat({ stream: 'yes' })), 400, 'stream', /expected a boolean/);
  assertError(await call('/v1/chat/completions', chat({ messages: 'hi' })), 400, 'messages', /expected an array/);
  assertError(await call('/v1/chat/completions', chat({ messages: [] })), 400, 'messages', /empty array/);
  assertError(await call('/v1/chat/completions', chat({ messages: [{ role: 'wizard', content: 'x' }] })), 400, 'messages[0].role', /supported values are/);
  assertError(await call('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 5 }] })), 400, 'messages[0].content', /expected a string or an array/);
  assertError(await call('/v1/chat/completions', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] })), 400, 'messages[0].content[0].type', /not supported/);
  assertError(await call('/v1/chat/completions', chat({ stop: [1] })), 400, 'stop[0]', /expected a string/);
  assertError(await call('/v1/chat/completions', chat({ n: 2 })), 400, 'n', /n=1/);
  assertError(await call('/v1/chat/completions', chat({ logit_bias: { abc: 1 } })), 400, 'logit_bias.abc', /not a token id/);
  assertError(await call('/v1/chat/completions', chat({ tool_choice: 'required' })), 400, 'tool_choice', /only allowed when 'tools'/);
  assertError(await call('/v1/chat/completions', chat({ tools: [{ type: 'function', function: { name: 'bad name!' } }] })), 400, 'tools[0].function.name', /does not match/);
  assertError(await call('/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] }), 400, 'model', /Missing required parameter: 'model'/);
  assertError(await call('/v1/completions', { model: 'model', prompt: [1, 99999] }), 400, 'prompt[1]', /Invalid token id/);
  assertError(await call('/v1/completions', { model: 'model', prompt: {} }), 400, 'prompt', /Invalid type for 'prompt'/);
  await stillServing();
});

test('unknown fields are refused with 400 naming them (as api.openai.com does), also inside messages', async () => {
  assertError(await call('/v1/chat/completions', chat({ temperatur: 0.5 })), 400, 'temperatur', /Unrecognized request argument supplied: temperatur/);
  assertError(await call('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'x', mood: 'happy' }] })), 400, 'messages[0].mood', /Unrecognized/);
  assertError(await call('/v1/completions', { model: 'model', prompt: 'x', frobnicate: true }), 400, 'frobnicate', /Unrecognized/);
  await stillServing();
});

test('bodies over the limit get 413 (declared or streamed without a length), and the server keeps serving', async () => {
  const huge = JSON.stringify(chat({ messages: [{ role: 'user', content: '가'.repeat(100_000) }] }));
  assertError(await call('/v1/chat/completions', huge), 413, null, /larger than the limit of 65536 bytes/);
  // Chunked upload: no content-length, the limit is enforced while reading.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    for (let i = 0; i < 20; i++) req.write('x'.repeat(8192));
    req.end();
  });
  assert.equal(status, 413);
  await stillServing();
});

test('a missing or wrong API key is 401; unknown model 404; unknown route 404; wrong method 405', async () => {
  const missing = await call('/v1/chat/completions', chat(), { key: null });
  assertError(missing, 401, null, /didn't provide an API key/);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer');
  assertError(await call('/v1/chat/completions', chat(), { key: 'sk-wrong' }), 401, null, /Incorrect API key/);
  assertError(await call('/v1/models', undefined, { key: null, method: 'GET' }), 401, null, /API key/);
  assertError(await call('/v1/chat/completions', chat({ model: 'gpt-4o' })), 404, 'model', /The model 'gpt-4o' does not exist/);
  assertError(await call('/v1/models/gpt-4o', undefined, { method: 'GET' }), 404, 'model', /does not exist/);
  assertError(await call('/v1/embeddings', { model: 'model', input: 'x' }), 404, null, /Invalid URL \(POST \/v1\/embeddings\)/);
  assertError(await call('/v1/chat/completions', undefined, { method: 'GET' }), 405, null, /not allowed/);
  assert.equal((await fetch(`${server.url}/health`)).status, 200, 'health needs no key');
  await stillServing();
});

test('context overflow is 400 context_length_exceeded', async () => {
  const long = await call('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 'Seoul is the capital. '.repeat(200) }] }));
  assertError(long, 400, 'messages', /maximum context length is 1024 tokens/);
  assert.equal(long.json.error.code, 'context_length_exceeded');
  assertError(await call('/v1/chat/completions', chat({ max_tokens: 5000 })), 400, 'messages', /you requested \d+ tokens/);
  await stillServing();
});

test('a full queue is 429 with Retry-After; a client that disconnects frees its row at once', async () => {
  // maxBatch 1, maxQueue 1: one running stream (kept long with ignore_eos), one waiting, the third is refused.
  const first = new AbortController();
  const running = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}` }, signal: first.signal,
    body: JSON.stringify(chat({ stream: true, max_tokens: 900, ignore_eos: true })),
  });
  const reader = running.body!.getReader();
  await reader.read(); // the stream has started
  const waiting = call('/v1/chat/completions', chat({ max_tokens: 3 }));
  for (let i = 0; i < 200 && server.engine.scheduler.waiting === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(server.engine.scheduler.waiting, 1);
  const refused = await call('/v1/chat/completions', chat());
  assertError(refused, 429, null, /busy/);
  assert.equal(refused.headers.get('retry-after'), '1');
  const cancelledBefore = server.metrics.cancelled.get();
  first.abort();
  await reader.cancel().catch(() => undefined);
  // The waiting request gets the freed row and completes; the disconnected stream was cancelled well short of 900.
  assert.equal((await waiting).status, 200);
  assert.equal(server.metrics.cancelled.get(), cancelledBefore + 1);
  assert.ok(server.engine.scheduler.stats.generatedTokens < 900, `generated ${server.engine.scheduler.stats.generatedTokens}`);
  assert.equal(server.engine.scheduler.running, 0);
  await stillServing();
});

test('deadlines: a generation past the request timeout is 504 (an error event when streaming); a body sent too slowly is 408', async () => {
  const strict = await serve(model, { port: 0, requestTimeoutMs: 1, receiveTimeoutMs: 200 });
  try {
    const body = JSON.stringify({ model: 'model', messages: [{ role: 'user', content: '안녕' }], max_tokens: 900, ignore_eos: true });
    const plain = await fetch(`${strict.url}/v1/chat/completions`, { method: 'POST', body });
    assert.equal(plain.status, 504);
    assert.equal(((await plain.json()) as ErrorBody).error.code, 'timeout');
    const streamed = await fetch(`${strict.url}/v1/chat/completions`, { method: 'POST', body: body.replace('"ignore_eos":true', '"ignore_eos":true,"stream":true') });
    const events = (await streamed.text()).split('\n\n').filter(Boolean);
    assert.ok(events.some((e) => e.includes('"code":"timeout"')), events.slice(-3).join(' | '));
    assert.equal(events.at(-1), 'data: [DONE]');
    // Headers and half a body, then silence: Node's receive deadline answers 408 and closes the connection.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${strict.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-length': '1000' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write('{"model": "mo');
    });
    assert.equal(status, 408);
    assert.equal(strict.engine.scheduler.running, 0);
  } finally {
    await strict.close();
  }
});

test('a completions request with more prompts than rows and queue together is served, not refused', async () => {
  // This server runs 1 row with 1 waiting: the request's 6 prompts go through a batch at a time.
  const r = await call('/v1/completions', { model: 'model', prompt: ['a', 'b', 'c', '서울', '학교', 'Seoul'], max_tokens: 2, temperature: 0 });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual((r.json['choices'] as { index: number }[]).map((c) => c.index), [0, 1, 2, 3, 4, 5]);
});
