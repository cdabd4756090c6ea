import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SPECIAL_TOKENS, SPECIAL_TOKENS, Tokenizer } from '../../src/tokenizer/index.js';
import { fixtureTokenizer } from './tokenizer-helpers.js';

test('special tokens take the ids right after the BPE vocabulary, in the documented order', async () => {
  const tok = await fixtureTokenizer();
  assert.equal(tok.vocabSize, 3000);
  const bpeSize = tok.vocabSize - DEFAULT_SPECIAL_TOKENS.length;
  DEFAULT_SPECIAL_TOKENS.forEach((content, i) => {
    assert.equal(tok.tokenId(content), bpeSize + i);
    assert.equal(tok.specialTokens[content], bpeSize + i);
  });
  assert.equal(tok.tokenId('<|fim_prefix|>'), bpeSize + 6);
  assert.equal(tok.tokenId('<|no_such_token|>'), undefined);
});

test('special tokens never arise from plain text, only when allowed', async () => {
  const tok = await fixtureTokenizer();
  const specialIds = new Set(Object.values(tok.specialTokens));
  for (const content of DEFAULT_SPECIAL_TOKENS) {
    for (const text of [content, `x${content}y`, ` ${content}\n`, content + content]) {
      const plain = tok.encode(text);
      assert.ok(plain.every((id) => !specialIds.has(id)), `${text} leaked a special id`);
      assert.equal(tok.decode(plain), text);
    }
    assert.deepEqual(tok.encode(content, { allowSpecial: true }), [tok.tokenId(content)]);
  }
  const ids = tok.encode('문서<|endoftext|>다음 문서', { allowSpecial: true });
  assert.equal(ids.filter((id) => id === tok.tokenId(SPECIAL_TOKENS.endOfText)).length, 1);
  assert.equal(tok.decode(ids), '문서<|endoftext|>다음 문서');
  assert.equal(tok.decode(ids, { skipSpecial: true }), '문서다음 문서');
});

test('tokenizer_config.json names bos/eos/pad and carries the chat template', async () => {
  const tok = await fixtureTokenizer();
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-config-'));
  try {
    await tok.save(dir);
    const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(config.bos_token, '<|endoftext|>');
    assert.equal(config.eos_token, '<|endoftext|>');
    assert.equal(config.pad_token, '<|pad|>');
    assert.equal(config.added_tokens_decoder[String(tok.tokenId('<|im_end|>'))].content, '<|im_end|>');
    assert.equal(typeof config.chat_template, 'string');
    const reloaded = await Tokenizer.load(dir);
    assert.equal(reloaded.renderChat([{ role: 'user', content: 'hi' }]), tok.renderChat([{ role: 'user', content: 'hi' }]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the chat template renders ChatML turns, tool calls and the generation prompt', async () => {
  const tok = await fixtureTokenizer();
  const messages = [
    { role: 'system', content: '당신은 도움이 되는 비서입니다.' },
    { role: 'user', content: '서울 날씨는?' },
    { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'weather', arguments: { city: '서울' } } }] },
    { role: 'tool', content: '{"temp": 3}' },
    { role: 'assistant', content: '3도입니다.' },
    { role: 'user', content: '고마워' },
  ];
  const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }];
  // Checked against Python jinja2 with transformers' settings (trim_blocks, lstrip_blocks, tojson ensure_ascii=False).
  assert.equal(
    tok.renderChat(messages, { addGenerationPrompt: true, tools }),
    '<|im_start|>tool_list\n{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}\n<|im_end|>\n' +
      '<|im_start|>system\n당신은 도움이 되는 비서입니다.<|im_end|>\n' +
      '<|im_start|>user\n서울 날씨는?<|im_end|>\n' +
      '<|im_start|>assistant\n<tool_call>{"name": "weather", "arguments": {"city": "서울"}}</tool_call>\n<|im_end|><|stop|>\n' +
      '<|im_start|>tool\n{"temp": 3}<|im_end|>\n' +
      '<|im_start|>assistant\n3도입니다.<|im_end|><|endofturn|>\n' +
      '<|im_start|>user\n고마워<|im_end|>\n' +
      '<|im_start|>assistant\n',
  );
  const plain = tok.renderChat([{ role: 'user', content: 'hi' }]);
  assert.equal(plain, '<|im_start|>user\nhi<|im_end|>\n');
  const ids = tok.encode(plain, { allowSpecial: true });
  assert.equal(ids[0], tok.tokenId('<|im_start|>'));
  assert.equal(ids.at(-2), tok.tokenId('<|im_end|>'));
});
