import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { generateIds, type Generation } from '../../src/infer/generate.js';
import { serve, type KolmServer } from '../../src/serve/server.js';
import { encodeChat } from '../../src/serve/openai.js';
import { tinyModel } from './serve-helpers.js';

let root: string;
let model: LanguageModel;
let server: KolmServer;

before(async () => {
  const made = await tinyModel();
  root = made.root;
  model = await loadModel(made.model, { threads: 1 });
  server = await serve(model, { port: 0, maxBatch: 16 });
});

after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const QUESTIONS = [
  '서울은 어떤 도시인가요?', 'What is the capital of Korea?', '한국어는 교착어인가요?', '봄에는 무엇이 피나요?', 'Tell me about the Han River.',
  '학교에서 무엇을 공부하나요?', '오늘 날씨가 어때요?', 'Who checks homework?', '어제 무엇을 했나요?', '도서관에 가서 책을 읽었습니다. 그리고?',
  'Cherry blossoms bloom in', '가을에는 단풍이', '음악을 들었습니다', 'Korean particles attach to', '선생님은 매일 아침', 'A',
];

test('16 simultaneous streaming clients all complete, each with exactly its single-request greedy output', async () => {
  const conversations = QUESTIONS.map((q, i) => [...(i % 4 === 0 ? [{ role: 'system' as const, content: '간결하게 답하세요.' }] : []), { role: 'user' as const, content: q }]);
  const budgets = QUESTIONS.map((_, i) => 20 + ((i * 7) % 25));
  const references: Generation[] = [];
  for (const [i, messages] of conversations.entries()) {
    const [g] = await generateIds(model, [encodeChat(model.tokenizer, messages)], { maxNewTokens: budgets[i], stopTokenIds: model.endTokenIds });
    references.push(g!);
  }
  const stepsBefore = server.engine.scheduler.stats.decodeSteps;
  const results = await Promise.all(
    conversations.map(async (messages, i) => {
      // One client (and connection pool) per stream, as independent users would have.
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60_000 });
      const stream = await client.chat.completions.create({ model: 'model', messages, max_tokens: budgets[i], temperature: 0, stream: true, stream_options: { include_usage: true } });
      let text = '';
      let finish: string | null = null;
      let completionTokens = -1;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
      }
      return { text, finish, completionTokens };
    }),
  );
  results.forEach((r, i) => {
    const ref = references[i]!;
    assert.equal(r.text, model.tokenizer.decode(ref.ids, { skipSpecial: true }), `client ${i}`);
    assert.equal(r.completionTokens, ref.ids.length, `client ${i}`);
    assert.equal(r.finish, ref.finishReason === 'length' ? 'length' : 'stop', `client ${i}`);
  });
  const stats = server.engine.scheduler.stats;
  assert.ok(stats.peakBatch > 1, `sequences shared decode steps (peak batch ${stats.peakBatch})`);
  const total = references.reduce((s, r) => s + r.ids.length, 0);
  assert.ok(stats.decodeSteps - stepsBefore < total - references.length, 'fewer decode steps than tokens: steps were shared');
  assert.equal(server.engine.scheduler.running, 0);
});
