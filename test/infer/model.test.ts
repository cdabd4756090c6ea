import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { makeConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { saveModelFolder } from '../../src/model/folder.js';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = join(root, 'test', 'fixtures', 'text', 'ko-en.txt');
let dir: string;
let model: LanguageModel;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kolm-model-'));
  const tokenizer = await trainTokenizer({ texts: readFileSync(fixture, 'utf8').split('\n'), vocabSize: 600, morpheme: false, progress: false });
  await tokenizer.save(join(dir, 'tok'));
  const config = makeConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 256, initializer_range: 0.5, eos_token_id: tokenizer.tokenId('<|endoftext|>')!,
  });
  await saveModelFolder(join(dir, 'model'), config, initParams(config, 1), { tokenizerDir: join(dir, 'tok') });
  model = await loadModel(join(dir, 'model'), { threads: 1 });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('generate, stream and batch agree; streamed Korean arrives whole and concatenates to the final text', async () => {
  const prompt = '서울은 대한민국의';
  const full = await model.generate(prompt, { maxNewTokens: 24 });
  assert.equal(full.promptTokens, model.tokenizer.encode(prompt).length);
  assert.equal(full.completionTokens, full.ids.length);
  assert.equal(full.text, model.tokenizer.decode(full.ids, { skipSpecial: true }));
  const deltas: string[] = [];
  for await (const d of model.stream(prompt, { maxNewTokens: 24 })) deltas.push(d);
  assert.equal(deltas.join(''), full.text);
  for (const d of deltas) assert.ok(!/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(d), 'no delta ends or starts inside a surrogate pair');
  const [batched] = await model.generateBatch([prompt, 'Students at the'], { maxNewTokens: 24 });
  assert.equal(batched!.text, full.text);
});

test('stop strings end the completion before them; leaving a stream early stops generation', async () => {
  const free = await model.generate('Seoul is', { maxNewTokens: 30 });
  const cut = free.text.slice(3, 6);
  assert.ok(cut.length === 3);
  const stopped = await model.generate('Seoul is', { maxNewTokens: 30, stop: [cut] });
  assert.equal(stopped.text, free.text.slice(0, free.text.indexOf(cut)));
  assert.equal(stopped.finishReason, 'stop');
  let n = 0;
  const it = model.stream('Seoul is', { maxNewTokens: 200 });
  for await (const _ of it) if (++n === 2) break;
  const again = await model.generate('Seoul is', { maxNewTokens: 5 });
  assert.equal(again.completionTokens, 5, 'the model is usable again after an abandoned stream');
});

test('chat renders the model folder’s template and sampling with a seed reproduces', async () => {
  const messages = [{ role: 'system', content: '당신은 도우미입니다.' }, { role: 'user', content: '안녕하세요' }];
  const rendered = model.tokenizer.renderChat(messages, { addGenerationPrompt: true });
  assert.match(rendered, /<\|im_start\|>user\n안녕하세요<\|im_end\|>/);
  const a = await model.chat(messages, { maxNewTokens: 12, temperature: 0.9, topP: 0.9, seed: 5 });
  const b = await model.chat(messages, { maxNewTokens: 12, temperature: 0.9, topP: 0.9, seed: 5 });
  assert.deepEqual(a.ids, b.ids);
  assert.equal(a.promptTokens, model.tokenizer.encode(rendered, { allowSpecial: true }).length);
});

test('kolm generate --json prints ids, text and token counts of the completion', () => {
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  const out = execFileSync(process.execPath, [cli, 'generate', '--model', join(dir, 'model'), '--prompt', '학교에서', '--max-new-tokens', '8', '--json', '--threads', '1'], { encoding: 'utf8' });
  const json = JSON.parse(out) as { ids: number[]; text: string; prompt_tokens: number; completion_tokens: number };
  assert.equal(json.ids.length, json.completion_tokens);
  assert.equal(json.completion_tokens, 8);
  assert.equal(json.prompt_tokens, model.tokenizer.encode('학교에서').length);
  assert.equal(typeof json.text, 'string');
  assert.throws(() => execFileSync(process.execPath, [cli, 'generate', '--model', join(dir, 'nope'), '--prompt', 'x'], { stdio: 'pipe' }), /config\.json: not found/);
});

test('generation_config.json with several eos_token_id (SEED: <|endofturn|> and <|stop|>): generate, stream and batch (and so chat and the server, which share endTokenIds) stop at each', async () => {
  const prompt = '서울은 대한민국의';
  const free = await model.generate(prompt, { maxNewTokens: 24 });
  assert.equal(free.ids.length, 24, 'no end token on the free-running path');
  // Two ordinary tokens of the path declared end tokens, as a checkpoint lists its ids: each one ends generation.
  const [first, second] = [free.ids[6]!, free.ids[12]!].map((id) => ({ id, at: free.ids.indexOf(id) }));
  for (const [ids, end] of [[[first!.id, second!.id], first!], [[second!.id, 1], second!]] as const) {
    const copy = join(dir, `model-eos-${end.id}`);
    execFileSync('cp', ['-r', join(dir, 'model'), copy]);
    const generation = JSON.parse(readFileSync(join(copy, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(copy, 'generation_config.json'), JSON.stringify({ ...generation, eos_token_id: ids }));
    const m = await loadModel(copy, { threads: 1 });
    for (const id of ids) assert.ok(m.endTokenIds.includes(id), `${id} is an end token`);
    const got = await m.generate(prompt, { maxNewTokens: 24 });
    assert.deepEqual(got.ids, free.ids.slice(0, end.at + 1), `stops at ${end.id}`);
    assert.equal(got.finishReason, 'stop');
    let streamed = '';
    for await (const d of m.stream(prompt, { maxNewTokens: 24 })) streamed += d;
    assert.equal(streamed, got.text);
    const [batched] = await m.generateBatch([prompt], { maxNewTokens: 24 });
    assert.deepEqual(batched!.ids, got.ids);
  }
});
