/** Chat templates: keyword arguments and tools in the Jinja context, and chat_template.jinja in a folder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { CHAT_TEMPLATE_FILE } from '../../src/tokenizer/tokenizer.js';
import { checkTemplateKwargs, checkTools, DEFAULT_CHAT_TEMPLATE, renderChatTemplate } from '../../src/tokenizer/chat-template.js';
import { TOKENIZER_FILES } from '../../src/model/folder.js';
import { KolmError } from '../../src/util/errors.js';
import { fixtureTokenizer } from './tokenizer-helpers.js';

const KWARGS_TEMPLATE = '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% if enable_thinking %}<think>{% endif %}{{ suffix }}{% endif %}{{ eos_token }}';

test('keyword arguments reach the template next to messages, the generation prompt and special tokens', () => {
  const messages = [{ role: 'user', content: '안녕' }];
  const render = (kwargs?: Record<string, unknown>) => renderChatTemplate(KWARGS_TEMPLATE, messages, { addGenerationPrompt: true, kwargs, specialTokens: { eos_token: '</s>' } });
  assert.equal(render(), '[user]안녕[assistant]</s>');
  assert.equal(render({ enable_thinking: true, suffix: '!' }), '[user]안녕[assistant]<think>!</s>');
  assert.equal(render({ enable_thinking: false }), '[user]안녕[assistant]</s>');
});

test('keyword arguments that would replace what the renderer sets are refused, naming the variable', () => {
  for (const name of ['messages', 'tools', 'add_generation_prompt', 'eos_token']) {
    assert.throws(
      () => renderChatTemplate(KWARGS_TEMPLATE, [{ role: 'user', content: 'x' }], { kwargs: { [name]: 1 } }),
      (err: Error) => err instanceof KolmError && err.message.includes(`'${name}' is set by the renderer`),
    );
  }
  assert.throws(() => checkTemplateKwargs([1], '--chat-template-kwargs'), /--chat-template-kwargs must be a JSON object of template variables, got \[1\]/);
  assert.throws(() => checkTemplateKwargs(null, 'field x'), /field x must be a JSON object of template variables, got null/);
  assert.deepEqual(checkTemplateKwargs({ enable_thinking: true }, 'x'), { enable_thinking: true });
  // A template that raises is a KolmError carrying the template's message.
  const strict = "{% if not enable_thinking is defined %}{{ raise_exception('enable_thinking is required') }}{% endif %}ok";
  assert.throws(() => renderChatTemplate(strict, []), (err: Error) => err instanceof KolmError && /chat_template failed to render: .*enable_thinking is required/.test(err.message));
  assert.equal(renderChatTemplate(strict, [], { kwargs: { enable_thinking: false } }), 'ok');
});

test('tools must be OpenAI/TRL function tools; the default template lists them in a tool_list turn', () => {
  const tools = [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }];
  assert.deepEqual(checkTools(tools, 't'), tools);
  assert.throws(() => checkTools({}, 'tools.json'), /tools\.json must be a JSON array of tools/);
  assert.throws(() => checkTools([{ type: 'function', function: {} }], 'rec'), /rec\[0\] must be \{"type": "function"/);
  const text = renderChatTemplate(DEFAULT_CHAT_TEMPLATE, [{ role: 'user', content: 'q' }], { tools, addGenerationPrompt: true });
  assert.ok(text.startsWith('<|im_start|>tool_list\n{"type": "function"') || text.startsWith('<|im_start|>tool_list\n{"type":"function"'), text);
});

test('chat_template.jinja wins over tokenizer_config.json, and save writes the template back where the folder had it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-jinja-'));
  try {
    const tok = await fixtureTokenizer(false, 500);
    await tok.save(dir);
    assert.equal((await Tokenizer.load(dir)).config.chatTemplate, DEFAULT_CHAT_TEMPLATE);
    await writeFile(join(dir, CHAT_TEMPLATE_FILE), KWARGS_TEMPLATE);
    const loaded = await Tokenizer.load(dir);
    assert.equal(loaded.config.chatTemplate, KWARGS_TEMPLATE);
    assert.equal(loaded.renderChat([{ role: 'user', content: 'x' }], { addGenerationPrompt: true, kwargs: { enable_thinking: true } }), '[user]x[assistant]<think><|endoftext|>');

    // As transformers saves it: the template in chat_template.jinja, none in tokenizer_config.json.
    const out = join(dir, 'saved');
    await loaded.save(out);
    assert.equal(await readFile(join(out, CHAT_TEMPLATE_FILE), 'utf8'), KWARGS_TEMPLATE);
    assert.equal((JSON.parse(await readFile(join(out, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>)['chat_template'], undefined);
    assert.equal((await Tokenizer.load(out)).config.chatTemplate, KWARGS_TEMPLATE);

    // A template kept in tokenizer_config.json is saved there, and a stale .jinja (which would win) is removed.
    await tok.save(out);
    assert.equal(existsSync(join(out, CHAT_TEMPLATE_FILE)), false);
    assert.equal((await Tokenizer.load(out)).config.chatTemplate, DEFAULT_CHAT_TEMPLATE);
    // Model folders copy it with the other tokenizer files.
    assert.ok(TOKENIZER_FILES.includes(CHAT_TEMPLATE_FILE));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
