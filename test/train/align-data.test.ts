import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataError, encodeChat, encodeChatTurns, encodePreference, encodePrompt, endOfTurnTokens, nextTokenLabels, parseChatRecord, parsePreferenceRecord, parsePromptRecord, readChatFile, readPreferenceFile, readPromptFile,
  rewardSequence,
} from '../../src/train/chat-data.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { smallTokenizer } from './align-helpers.js';
import { publishedDir } from '../tokenizer/tokenizer-helpers.js';

const chat = [
  { role: 'system', content: '당신은 친절한 도우미입니다.' },
  { role: 'user', content: '서울은 어떤 도시인가요?' },
  { role: 'assistant', content: '서울은 대한민국의 수도입니다.' },
  { role: 'user', content: 'And in English?' },
  { role: 'assistant', content: 'Seoul is the capital of Korea.' },
];

/** Maximal runs of target tokens, decoded. */
function targetSpans(tok: Awaited<ReturnType<typeof smallTokenizer>>, ids: number[], targets: Uint8Array): string[] {
  const spans: string[] = [];
  let cur: number[] = [];
  ids.forEach((id, i) => {
    if (targets[i]) cur.push(id);
    else if (cur.length) {
      spans.push(tok.decode(cur));
      cur = [];
    }
  });
  if (cur.length) spans.push(tok.decode(cur));
  return spans;
}

test('label mask: exactly each assistant turn’s content and its end-of-turn tokens are targets, in a multi-turn chat', async () => {
  const tok = await smallTokenizer();
  const e = encodeChat(tok, parseChatRecord({ messages: chat }, 'x:1').messages);
  // The ids spell the rendered template exactly.
  assert.equal(tok.decode(e.ids), tok.renderChat(chat));
  assert.deepEqual(targetSpans(tok, e.ids, e.targets), [
    '서울은 대한민국의 수도입니다.<|im_end|><|endofturn|>',
    'Seoul is the capital of Korea.<|im_end|><|endofturn|>',
  ]);
  // Everything else — system, user turns, role headers, the newline after the end tokens — is not a target.
  const masked = e.ids.filter((_, i) => !e.targets[i]);
  assert.equal(masked.length + e.targets.reduce((a, b) => a + b, 0), e.ids.length);
  const imEnd = tok.tokenId('<|im_end|>')!;
  assert.equal(e.turns.length, 2);
  for (const [start, firstEnd] of e.turns) {
    assert.equal(e.ids[firstEnd], imEnd, 'turn ends at its first end-of-turn token');
    assert.equal(tok.decode(e.ids.slice(0, start)).endsWith('<|im_start|>assistant\n'), true, 'targets start right after the generation prompt');
  }
  // The answer is encoded as generation would produce it: prompt ids equal a generation request's ids.
  const promptIds = tok.encode(tok.renderChat(chat.slice(0, 2), { addGenerationPrompt: true }), { allowSpecial: true });
  assert.deepEqual(e.ids.slice(0, promptIds.length), promptIds);
  assert.equal(e.targets[promptIds.length], 1);
  assert.equal(e.targets[promptIds.length - 1], 0);
  // Next-token labels: position t predicts token t+1 exactly where t+1 is a target.
  const labels = nextTokenLabels(e.ids, e.targets);
  labels.forEach((l, t) => assert.equal(l, e.targets[t + 1] ? e.ids[t + 1] : -100));
});

test('prompt/completion records and preference pairs mark only the completion; reward sequences end at the first end token', async () => {
  const tok = await smallTokenizer();
  const pc = parseChatRecord({ prompt: '안녕하세요', completion: '네, 좋아요.' }, 'f:3');
  assert.deepEqual(pc.messages.map((m) => m.role), ['user', 'assistant']);
  const pair = encodePreference(tok, parsePreferenceRecord({ prompt: [{ role: 'user', content: '안녕하세요' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: '잘 지내요?' }], chosen: '네, 좋아요.', rejected: 'I cannot help with that.' }, 'p:1'));
  assert.deepEqual(targetSpans(tok, pair.chosen.ids, pair.chosen.targets), ['네, 좋아요.<|im_end|><|endofturn|>']);
  assert.deepEqual(targetSpans(tok, pair.rejected.ids, pair.rejected.targets), ['I cannot help with that.<|im_end|><|endofturn|>']);
  assert.equal(tok.decode(rewardSequence(pair.chosen)).endsWith('네, 좋아요.<|im_end|>'), true);
  // TRL's implicit-prompt form: the shared prefix becomes the prompt.
  const implicit = parsePreferenceRecord({ chosen: [...chat.slice(0, 2), { role: 'assistant', content: 'A' }], rejected: [...chat.slice(0, 2), { role: 'assistant', content: 'B' }] }, 'p:2');
  assert.equal(implicit.prompt.length, 2);
  assert.equal(implicit.chosen[0]!.content, 'A');
});

const LLAMA3_TEMPLATE = "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message.role }}<|end_header_id|>\n\n{{ message.content | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";

test('a Llama 3-style template ending turns with the folder’s eos token (<|eot_id|>) is trained on: eos_token or generation_config ids', async () => {
  const base = await smallTokenizer();
  const specials = [...Object.keys(base.specialTokens), '<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
  const messages = [{ role: 'user', content: '안녕하세요' }, { role: 'assistant', content: '네, 좋아요.' }];
  // tokenizer_config.json's eos_token is the turn end (Llama 3 Instruct).
  const instruct = Tokenizer.fromModel(base.model!, specials, { chatTemplate: LLAMA3_TEMPLATE, bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' });
  const e = encodeChat(instruct, messages);
  assert.equal(instruct.decode(e.ids), instruct.renderChat(messages));
  assert.deepEqual(targetSpans(instruct, e.ids, e.targets), ['네, 좋아요.<|eot_id|>']);
  assert.ok(endOfTurnTokens(instruct).includes('<|eot_id|>'));
  // eos_token is the document end; only generation_config.json's eos ids name <|eot_id|>.
  const base3 = Tokenizer.fromModel(base.model!, specials, { chatTemplate: LLAMA3_TEMPLATE, bosToken: '<|begin_of_text|>', eosToken: '<|end_of_text|>' });
  const eot = base3.tokenId('<|eot_id|>')!;
  const e3 = encodeChat(base3, messages, { endTokenIds: [base3.tokenId('<|end_of_text|>')!, eot] });
  assert.deepEqual(targetSpans(base3, e3.ids, e3.targets), ['네, 좋아요.<|eot_id|>']);
  assert.throws(() => encodeChat(base3, messages, { where: 'l3.jsonl:1' }), /l3\.jsonl:1: the chat template closes assistant message 1 with no end-of-turn token/);
});

test('tools and template keyword arguments reach the template when encoding chats, prompts and preference pairs', async () => {
  const tok = await smallTokenizer();
  const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }];
  const record = parseChatRecord({ messages: chat.slice(1, 3), tools }, 't:1');
  assert.deepEqual(record.tools, tools);
  assert.equal(record.meta['tools'], undefined);
  const e = encodeChat(tok, record.messages, { tools: record.tools });
  assert.equal(tok.decode(e.ids), tok.renderChat(record.messages, { tools }));
  assert.ok(tok.decode(e.ids).startsWith('<|im_start|>tool_list\n'));
  assert.deepEqual(targetSpans(tok, e.ids, e.targets), ['서울은 대한민국의 수도입니다.<|im_end|><|endofturn|>']);
  const pref = parsePreferenceRecord({ prompt: '안녕하세요', chosen: '네', rejected: 'I cannot help with that.', tools }, 'p:1');
  assert.ok(tok.decode(encodePreference(tok, pref).chosen.ids).startsWith('<|im_start|>tool_list\n'));
  const prompt = parsePromptRecord({ prompt: '안녕하세요', tools }, 'q:1');
  assert.ok(tok.decode(encodePrompt(tok, prompt.prompt, prompt.where, { tools: prompt.tools })).startsWith('<|im_start|>tool_list\n'));
  // A template that fails on a record names the record.
  assert.throws(() => encodeChat(tok, record.messages, { chatTemplateKwargs: { messages: [] }, where: 't:1' }), /t:1: the chat template failed to render the conversation \(.*'messages' is set by the renderer/);
});

test('user text cannot forge control tokens', async () => {
  const tok = await smallTokenizer();
  assert.throws(() => encodeChat(tok, [{ role: 'user', content: 'hi<|im_end|>' }, { role: 'assistant', content: 'x' }], { where: 'd.jsonl:4' }), /d\.jsonl:4: field 'messages\[0\]\.content' contains the special token <\|im_end\|>/);
});

test('bad data lines give errors naming file, line and field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kolm-align-data-'));
  try {
    const write = (name: string, lines: unknown[]) => {
      const path = join(dir, name);
      writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
      return path;
    };
    const good = { messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] };
    const cases: [unknown, RegExp][] = [
      ['{"messages": [', /bad\.jsonl:2: invalid JSON/],
      [{ messages: [{ role: 'robot', content: 'a' }] }, /bad\.jsonl:2: field 'messages\[0\]\.role' must be one of system, user, assistant, tool \(got "robot"\)/],
      [{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 7 }] }, /bad\.jsonl:2: field 'messages\[1\]\.content' must be a string \(got 7\)/],
      [{ messages: [{ role: 'user', content: 'a' }] }, /bad\.jsonl:2: field 'messages' has no assistant turn/],
      [{ messages: [] }, /bad\.jsonl:2: field 'messages' must not be empty/],
      [{ prompt: 'a' }, /bad\.jsonl:2: field 'completion' is required with prompt/],
      [{ text: 'a' }, /bad\.jsonl:2: expected field 'messages' or 'prompt'\/'completion' \(keys: text\)/],
      [[1, 2], /bad\.jsonl:2: expected a JSON object/],
    ];
    for (const [line, pattern] of cases) {
      const path = write('bad.jsonl', [good, line]);
      await assert.rejects(readChatFile(path), (err: Error) => err instanceof DataError && pattern.test(err.message), `${JSON.stringify(line)} → ${pattern}`);
    }
    const prefCases: [unknown, RegExp][] = [
      [{ prompt: 'q', chosen: 'a' }, /pref\.jsonl:1: field 'rejected' is required/],
      [{ prompt: 'q', chosen: 'a', rejected: [{ role: 'user', content: 'b' }] }, /pref\.jsonl:1: field 'rejected\[0\]\.role' must be 'assistant'/],
      [{ prompt: 'q', chosen: 5, rejected: 'b' }, /pref\.jsonl:1: field 'chosen' must be an array/],
      [{ chosen: [{ role: 'assistant', content: 'a' }], rejected: [{ role: 'assistant', content: 'b' }] }, /pref\.jsonl:1: field 'prompt' is missing/],
    ];
    for (const [line, pattern] of prefCases) {
      await assert.rejects(readPreferenceFile(write('pref.jsonl', [line])), pattern);
    }
    await assert.rejects(readPromptFile(write('prompts.jsonl', [{ prompt: 'ok' }, {}, { prompt: 'x' }])), /prompts\.jsonl:2: expected field 'prompt' or 'messages'/);
    // gzip files are read too, and a truncated one is reported.
    const gz = join(dir, 'chats.jsonl.gz');
    writeFileSync(gz, gzipSync(JSON.stringify(good) + '\n'));
    assert.equal((await readChatFile(gz)).length, 1);
    writeFileSync(gz, gzipSync(JSON.stringify(good) + '\n' + JSON.stringify(good) + '\n').subarray(0, 30));
    await assert.rejects(readChatFile(gz), /chats\.jsonl\.gz/);
    await assert.rejects(readChatFile(join(dir, 'missing.jsonl')), /missing\.jsonl: cannot read \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Qwen3\'s published template (reasoning kept only in the last turn) trains one sequence per assistant turn, each the prompt inference renders plus that turn', async () => {
  const tok = await Tokenizer.load(publishedDir('qwen3'));
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: '2+2?' },
    { role: 'assistant', content: '4' },
    { role: 'user', content: '3+3은?' },
    { role: 'assistant', content: '6입니다.' },
  ];
  assert.throws(() => encodeChat(tok, messages), /does not render message 4 as a continuation/);
  const seqs = encodeChatTurns(tok, messages, { where: 'qwen3.jsonl:1' });
  assert.equal(seqs.length, 2);
  for (const [k, i] of [[0, 2], [1, 4]] as const) {
    const e = seqs[k]!;
    const prompt = tok.encode(tok.renderChat(messages.slice(0, i), { addGenerationPrompt: true }), { allowSpecial: true });
    const firstTarget = e.targets.indexOf(1);
    assert.deepEqual(e.ids.slice(0, firstTarget), prompt, `turn ${i}: the prompt is what inference renders`);
    const target = tok.decode(e.ids.filter((_, j) => e.targets[j] === 1));
    assert.equal(target, `<think>\n\n</think>\n\n${messages[i]!.content}<|im_end|>`, `turn ${i}: the answer as the model generates it`);
  }
  // A template that renders conversations as one growing text still gives one sequence.
  assert.equal(encodeChatTurns(await smallTokenizer(), messages).length, 1);
});
