/**
 * A HyperCLOVA X SEED 0.5B-shaped folder end to end: a Llama config with bf16 weights, a GPT-2-style byte-level BPE
 * tokenizer (ByteLevel pre-tokenizer with GPT-2's regex) with SEED's special tokens, the folder's own chat template in SEED's conventions (an always-present `tool_list`
 * turn, tools as one JSON list, assistant turns closed by `<|im_end|><|endofturn|>`, tool calls by
 * `<|im_end|><|stop|>`, and keyword arguments `force_reasoning` and `today`), and generation_config.json ending
 * generation at `<|endofturn|>` or `<|stop|>`.
 *
 * The template is deliberately unlike kolm's default, so every check below proves the folder's template is the one
 * used: by `kolm serve` (through the `openai` client), `kolm chat`, SFT tokenization and `eval --chat`. The truth
 * for a prompt is the template rendered here with @huggingface/jinja and encoded by the tokenizer. The weights are
 * random; rows of the output layer for special tokens are zero, so the model never ends a turn by itself and stops
 * are forced with `logit_bias` (or the token budget), which makes every finish reason deterministic.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';
import OpenAI from 'openai';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { DEFAULT_CHAT_TEMPLATE, renderChatTemplate, type ChatMessage } from '../../src/tokenizer/chat-template.js';
import { makeConfig } from '../../src/model/config.js';
import { initParams } from '../../src/model/params.js';
import { saveModelFolder } from '../../src/model/folder.js';
import { readSafetensorsHeader } from '../../src/formats/safetensors.js';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { loadChatModel } from '../../src/train/align-common.js';
import { DataError, encodeChat as encodeTrainingChat, parseChatRecord } from '../../src/train/chat-data.js';
import { chatPrompt } from '../../src/eval/chat-prompt.js';
import { repoRoot } from './serve-helpers.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** SEED's chat conventions, written for this test (not kolm's default template). */
const SEED_TEMPLATE = [
  "{% if force_reasoning is defined and force_reasoning is not boolean %}{{ raise_exception('force_reasoning must be true or false') }}{% endif %}",
  '{% if tools %}<|im_start|>tool_list\n{{ tools | tojson }}<|im_end|>\n{% else %}<|im_start|>tool_list\n<|im_end|>\n{% endif %}',
  '{% if today %}<|im_start|>system\n오늘은 {{ today }}이다.<|im_end|>\n{% endif %}',
  '{% for message in messages %}',
  "{% if message.role == 'assistant' %}",
  '<|im_start|>assistant\n{% if message.content %}{{ message.content }}{% endif %}',
  '{% if message.tool_calls %}{% for call in message.tool_calls %}<tool_call>{{ call.function | tojson }}</tool_call>{% endfor %}<|im_end|><|stop|>\n',
  '{% else %}<|im_end|><|endofturn|>\n{% endif %}',
  '{% else %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endif %}',
  '{% endfor %}',
  '{% if add_generation_prompt %}<|im_start|>assistant\n{% if force_reasoning %}<think>\n{% endif %}{% endif %}',
].join('');

const TOOLS = [
  {
    type: 'function',
    function: { name: 'get_weather', description: '도시의 날씨', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];

const TODAY = '2025년 04월 24일(목)';

let root: string;
let dir: string;
let tok: Tokenizer;
let model: LanguageModel;
let server: ChildProcess;
let client: OpenAI;
let baseUrl: string;
const ids: Record<string, number> = {};

/** The independent truth: the folder's template rendered by @huggingface/jinja, as transformers would call it. */
function truth(messages: ChatMessage[], vars: Record<string, unknown> = {}, addGenerationPrompt = true): string {
  return new Template(SEED_TEMPLATE).render({
    messages: messages as unknown as Record<string, unknown>[],
    add_generation_prompt: addGenerationPrompt,
    bos_token: '<|endoftext|>',
    eos_token: '<|endofturn|>',
    pad_token: '<|endoftext|>',
    ...vars,
  });
}

async function buildSeedFolder(): Promise<void> {
  const texts = readFileSync(join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt'), 'utf8').split('\n');
  const trained = await trainTokenizer({ texts, vocabSize: 600, morpheme: false, progress: false });
  const tokDir = join(root, 'tok');
  await trained.save(tokDir);
  // GPT-2's byte-level pre-tokenizer (its own regex inside ByteLevel), as SEED's GPT2Tokenizer files have it.
  const jsonPath = join(tokDir, 'tokenizer.json');
  const tj = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(jsonPath, JSON.stringify({ ...tj, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true } }));
  const configPath = join(tokDir, 'tokenizer_config.json');
  const tc = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(configPath, JSON.stringify({
    ...tc, tokenizer_class: 'GPT2Tokenizer', bos_token: '<|endoftext|>', eos_token: '<|endofturn|>', pad_token: '<|endoftext|>', chat_template: SEED_TEMPLATE,
  }, null, 2));
  const t = await Tokenizer.load(tokDir);
  for (const s of ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|endofturn|>', '<|stop|>']) ids[s] = t.tokenId(s)!;
  const config = makeConfig({
    model_type: 'llama', vocab_size: t.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 1024, initializer_range: 0.5, bos_token_id: ids['<|endoftext|>'], eos_token_id: ids['<|endofturn|>'], pad_token_id: ids['<|endoftext|>'],
    tie_word_embeddings: false, torch_dtype: 'bfloat16',
  });
  const weights = initParams(config, 7);
  const head = weights['lm_head.weight']!;
  for (const id of Object.values(t.specialTokens)) head.data.fill(0, id * config.hidden_size, (id + 1) * config.hidden_size);
  await saveModelFolder(dir, config, weights, {
    tokenizerDir: tokDir,
    dtype: 'BF16',
    generationConfig: { bos_token_id: ids['<|endoftext|>'], eos_token_id: [ids['<|endofturn|>'], ids['<|stop|>']], pad_token_id: ids['<|endoftext|>'] },
  });
}

function startServer(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [cli, 'serve', '--model', dir, '--port', '0', '--threads', '1', '--no-web', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`kolm serve exited (${code}): ${out}`)));
  });
}

function runCli(args: string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

async function postJson(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'kolm-seed-'));
  dir = join(root, 'seed-0.5b');
  await buildSeedFolder();
  tok = await Tokenizer.load(dir);
  model = await loadModel(dir, { threads: 1 });
  let url: string;
  ({ child: server, url } = await startServer(['--chat-template-kwargs', JSON.stringify({ today: TODAY })]));
  baseUrl = url;
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0, timeout: 30_000 });
});

after(() => {
  server?.kill();
  rmSync(root, { recursive: true, force: true });
});

const conversation: ChatMessage[] = [
  { role: 'system', content: '너는 날씨를 알려주는 도우미다.' },
  { role: 'user', content: '서울 날씨 어때?' },
];

test('the folder is SEED-shaped: Llama config, bf16 weights, SEED special tokens, its own template, two eos ids', async () => {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['model_type'], 'llama');
  assert.deepEqual(config['architectures'], ['LlamaForCausalLM']);
  const header = await readSafetensorsHeader(join(dir, 'model.safetensors'));
  assert.ok(Object.values(header.tensors).every((t) => t.dtype === 'BF16'));
  const generation = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(generation['eos_token_id'], [ids['<|endofturn|>'], ids['<|stop|>']]);
  assert.equal(tok.config.chatTemplate, SEED_TEMPLATE);
  assert.equal(tok.config.eosToken, '<|endofturn|>');
  const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as { pre_tokenizer: { type: string } };
  assert.equal(tj.pre_tokenizer.type, 'ByteLevel');
  assert.equal(tok.decode(tok.encode('서울 날씨 어때? Hello, world!')), '서울 날씨 어때? Hello, world!');
  for (const id of [ids['<|endofturn|>']!, ids['<|stop|>']!]) assert.ok(model.endTokenIds.includes(id));
  // Not kolm's default: the empty tool_list turn and the generation prompt differ.
  const rendered = tok.renderChat(conversation, { addGenerationPrompt: true });
  assert.equal(rendered, truth(conversation));
  assert.ok(rendered.startsWith('<|im_start|>tool_list\n<|im_end|>\n<|im_start|>system\n'));
  assert.notEqual(rendered, renderChatTemplate(DEFAULT_CHAT_TEMPLATE, conversation, { addGenerationPrompt: true }));
});

test('kolm serve: prompt ids equal the folder template rendered independently, with tools, request kwargs and the server default', async () => {
  const cases: { body: Record<string, unknown>; vars: Record<string, unknown> }[] = [
    { body: {}, vars: { today: TODAY } },
    { body: { tools: TOOLS, chat_template_kwargs: { force_reasoning: true } }, vars: { tools: TOOLS, today: TODAY, force_reasoning: true } },
    { body: { chat_template_kwargs: { today: '2026년 01월 01일(목)' } }, vars: { today: '2026년 01월 01일(목)' } },
  ];
  for (const { body, vars } of cases) {
    const text = truth(conversation, vars);
    const expected = tok.encode(text, { allowSpecial: true });
    const r = await postJson('/tokenize', { model: 'seed-0.5b', messages: conversation, ...body });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json['tokens'], expected, text);
    const c = await client.chat.completions.create({ model: 'seed-0.5b', messages: conversation, max_tokens: 2, temperature: 0, ...body } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(c.usage!.prompt_tokens, expected.length);
  }
  // The tools arrive in the template as one JSON list in the tool_list turn, and the kwarg changes the generation prompt.
  const withTools = truth(conversation, { tools: TOOLS, force_reasoning: true });
  assert.ok(withTools.startsWith('<|im_start|>tool_list\n[{"type": "function"') || withTools.startsWith('<|im_start|>tool_list\n[{"type":"function"'), withTools);
  assert.ok(withTools.endsWith('<|im_start|>assistant\n<think>\n'));
});

test('kolm serve: chat completions stop at <|endofturn|> and <|stop|>, or at the token budget, streamed and not', async () => {
  const base = { model: 'seed-0.5b', messages: conversation as OpenAI.ChatCompletionMessageParam[], temperature: 0 } as const;
  for (const end of ['<|endofturn|>', '<|stop|>']) {
    const r = await client.chat.completions.create({ ...base, max_tokens: 8, logit_bias: { [ids[end]!]: 100 } });
    assert.equal(r.choices[0]!.finish_reason, 'stop', end);
    assert.equal(r.choices[0]!.message.content, '');
    assert.equal(r.usage!.completion_tokens, 1);
  }
  const long = await client.chat.completions.create({ ...base, max_tokens: 6 });
  assert.equal(long.choices[0]!.finish_reason, 'length');
  assert.equal(long.usage!.completion_tokens, 6);
  assert.ok(long.choices[0]!.message.content!.length > 0);

  let streamed = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of await client.chat.completions.create({ ...base, max_tokens: 6, stream: true, stream_options: { include_usage: true } })) {
    streamed += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  assert.equal(streamed, long.choices[0]!.message.content);
  assert.equal(finish, 'length');
  assert.equal(usage!.completion_tokens, 6);

  finish = null;
  for await (const chunk of await client.chat.completions.create({ ...base, max_tokens: 6, stream: true, logit_bias: { [ids['<|endofturn|>']!]: 100 } })) {
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'stop');
});

test('kolm serve: tools and chat_template_kwargs together; a forced tool call; bad chat_template_kwargs are 400 naming the field', async () => {
  const body = { model: 'seed-0.5b', messages: conversation as OpenAI.ChatCompletionMessageParam[], temperature: 0, tools: TOOLS, chat_template_kwargs: { force_reasoning: true } };
  const r = await client.chat.completions.create({ ...body, max_tokens: 8, logit_bias: { [ids['<|stop|>']!]: 100 } } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  assert.equal(r.choices[0]!.finish_reason, 'stop');
  const forced = await client.chat.completions.create({ ...body, max_tokens: 64, tool_choice: 'required' } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  assert.equal(forced.choices[0]!.finish_reason, 'tool_calls');
  const call = forced.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof (JSON.parse(call.function.arguments) as { city: unknown }).city, 'string');

  for (const [kwargs, param] of [[5, 'chat_template_kwargs'], [[true], 'chat_template_kwargs'], [{ messages: [] }, 'chat_template_kwargs.messages'], [{ add_generation_prompt: false }, 'chat_template_kwargs.add_generation_prompt']] as const) {
    const e = await postJson('/v1/chat/completions', { model: 'seed-0.5b', messages: conversation, chat_template_kwargs: kwargs });
    assert.equal(e.status, 400, JSON.stringify(kwargs));
    assert.equal((e.json['error'] as { param: string }).param, param);
  }
  const onlyMessages = await postJson('/tokenize', { model: 'seed-0.5b', prompt: 'x', chat_template_kwargs: { today: 'x' } });
  assert.equal(onlyMessages.status, 400);
  // The folder's template raising on a keyword argument is the request's error (400), and the server keeps serving.
  const raised = await postJson('/v1/chat/completions', { model: 'seed-0.5b', messages: conversation, chat_template_kwargs: { force_reasoning: 'yes' } });
  assert.equal(raised.status, 400);
  const error = raised.json['error'] as { param: string; code: string; message: string };
  assert.equal(error.param, 'messages');
  assert.equal(error.code, 'chat_template_error');
  assert.match(error.message, /force_reasoning must be true or false/);
  assert.equal((await client.chat.completions.create({ ...body, max_tokens: 1 } as OpenAI.ChatCompletionCreateParamsNonStreaming)).choices.length, 1);
});

test('kolm chat: the folder template with --tools and --chat-template-kwargs, read from piped stdin; bad flags name the flag', async () => {
  const toolsFile = join(root, 'tools.json');
  writeFileSync(toolsFile, JSON.stringify(TOOLS));
  const history: ChatMessage[] = [{ role: 'user', content: '서울 날씨 어때?' }];
  const expected = await model.chat(history, { maxNewTokens: 8, tools: TOOLS, chatTemplateKwargs: { force_reasoning: true } });
  const plain = await model.chat(history, { maxNewTokens: 8 });
  assert.notEqual(expected.text, plain.text, 'the tools and kwarg change the prompt, so the greedy answer');
  assert.equal(model.renderChatPrompt(history, { tools: TOOLS, chatTemplateKwargs: { force_reasoning: true } }), truth(history, { tools: TOOLS, force_reasoning: true }));
  const r = await runCli(['chat', '--model', dir, '--threads', '1', '--max-new-tokens', '8', '--tools', toolsFile, '--chat-template-kwargs', '{"force_reasoning": true}'], '서울 날씨 어때?\n/exit\n');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(`> ${expected.text}\n`), r.stdout);

  const bad: [string[], RegExp][] = [
    [['--chat-template-kwargs', '{oops'], /--chat-template-kwargs must be a JSON object \(got "\{oops"/],
    [['--chat-template-kwargs', '[1]'], /--chat-template-kwargs must be a JSON object of template variables, got \[1\]/],
    [['--chat-template-kwargs', '{"messages": 1}'], /--chat-template-kwargs: 'messages' is set by the renderer/],
    [['--tools', join(root, 'missing.json')], /--tools .*missing\.json: cannot read \(ENOENT\)/],
    [['--tools', toolsFile.replace('tools.json', 'config.json')], /--tools .*must be a JSON array of tools/],
  ];
  writeFileSync(join(root, 'config.json'), '{}');
  for (const [args, pattern] of bad) {
    const e = await runCli(['chat', '--model', dir, ...args], '/exit\n');
    assert.equal(e.code, 1, args.join(' '));
    assert.match(e.stderr, pattern);
  }
});

test('SFT tokenization of a TRL record with tools: only assistant content and its end tokens are targets, under the folder template', async () => {
  const m = await loadChatModel(dir);
  for (const id of [ids['<|endofturn|>']!, ids['<|stop|>']!]) assert.ok(m.endIds.includes(id));
  const call = { type: 'function', function: { name: 'get_weather', arguments: { city: '서울' } } };
  const record = {
    messages: [
      { role: 'user', content: '서울 날씨 어때?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', content: '{"weather": "맑음"}' },
      { role: 'assistant', content: '서울은 맑습니다.' },
    ],
    tools: TOOLS,
  };
  const ex = parseChatRecord(record, 'seed.jsonl:1');
  assert.deepEqual(ex.tools, TOOLS);
  const e = encodeTrainingChat(m.tokenizer, ex.messages, { tools: ex.tools, chatTemplateKwargs: { today: TODAY }, endTokenIds: m.endIds, where: ex.where });
  assert.equal(m.tokenizer.decode(e.ids), truth(ex.messages, { tools: TOOLS, today: TODAY }, false));
  const spans: string[] = [];
  let cur: number[] = [];
  e.ids.forEach((id, i) => {
    if (e.targets[i]) cur.push(id);
    else if (cur.length) {
      spans.push(m.tokenizer.decode(cur));
      cur = [];
    }
  });
  if (cur.length) spans.push(m.tokenizer.decode(cur));
  const callJson = new Template('{{ f | tojson }}').render({ f: call.function });
  assert.deepEqual(spans, [`<tool_call>${callJson}</tool_call><|im_end|><|stop|>`, '서울은 맑습니다.<|im_end|><|endofturn|>']);
  assert.deepEqual(e.turns.map(([, end]) => e.ids[end]), [ids['<|im_end|>'], ids['<|im_end|>']]);

  assert.throws(() => parseChatRecord({ ...record, tools: { get_weather: {} } }, 'seed.jsonl:2'), (err: Error) => err instanceof DataError && /seed\.jsonl:2: field 'tools' must be a JSON array of tools/.test(err.message));
  assert.throws(() => parseChatRecord({ ...record, tools: [{ name: 'x' }] }, 'seed.jsonl:3'), /seed\.jsonl:3: field 'tools'\[0\] must be \{"type": "function"/);
  const sft = await runCli(['sft', '--model', dir, '--data', join(root, 'none.jsonl'), '--out', join(root, 'sft'), '--chat-template-kwargs', '"x"']);
  assert.equal(sft.code, 1);
  assert.match(sft.stderr, /--chat-template-kwargs must be a JSON object of template variables, got "x"/);
});

test('eval --chat renders each prompt with the folder template and the keyword arguments', async () => {
  const render = chatPrompt(tok, { force_reasoning: true, today: TODAY });
  assert.equal(render('질문: 하늘은 무슨 색인가?'), truth([{ role: 'user', content: '질문: 하늘은 무슨 색인가?' }], { force_reasoning: true, today: TODAY }));
  assert.equal(chatPrompt(tok)('q'), truth([{ role: 'user', content: 'q' }]));
  const e = await runCli(['eval', '--model', dir, '--tasks', 'kobest_copa', '--chat-template-kwargs', '{"force_reasoning": true}']);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /--chat-template-kwargs needs --chat/);
});
