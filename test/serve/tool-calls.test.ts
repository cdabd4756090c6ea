import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../../src/util/random.js';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { ToolCallExtractor, extractToolCalls } from '../../src/serve/tool-calls.js';
import { LazyGrammar } from '../../src/serve/engine.js';
import { compileSchema, GrammarMatcher, JsonGrammar, TokenTrie } from '../../src/serve/json-grammar.js';
import { repoRoot } from './serve-helpers.js';

const names = new Set(['get_weather', 'lookup']);

/** Feed `text` in pieces of the given sizes; collect content and per-call name/arguments from the deltas. */
function streamed(text: string, sizes: number[]) {
  const x = new ToolCallExtractor(names);
  let content = '';
  const calls: { id?: string; name: string; args: string }[] = [];
  const take = (out: ReturnType<ToolCallExtractor['push']>) => {
    content += out.content;
    for (const d of out.calls) {
      const c = (calls[d.index] ??= { name: '', args: '' });
      if (d.id) c.id = d.id;
      c.name += d.function.name ?? '';
      c.args += d.function.arguments;
    }
  };
  let at = 0;
  for (let i = 0; at < text.length; i++) {
    const n = sizes[i % sizes.length]!;
    take(x.push(text.slice(at, at + n)));
    at += n;
  }
  take(x.finish());
  return { content, calls, final: x.calls };
}

test('tool-call blocks become calls; content around them stays; any chunking gives the same result', () => {
  const text = '확인해 볼게요. <tool_call>{"name": "get_weather", "arguments": {"city": "서울", "unit": "celsius"}}</tool_call>\n<tool_call>{"name": "lookup", "arguments": {"id": 7}}</tool_call>';
  const whole = extractToolCalls(text, names);
  assert.equal(whole.content, '확인해 볼게요. \n');
  assert.deepEqual(whole.calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]), [['get_weather', { city: '서울', unit: 'celsius' }], ['lookup', { id: 7 }]]);
  const r = rng(1);
  for (let trial = 0; trial < 50; trial++) {
    const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(r() * 7));
    const s = streamed(text, sizes);
    assert.equal(s.content, whole.content, `sizes ${sizes}`);
    assert.deepEqual(s.calls.map((c) => [c.name, c.args]), whole.calls.map((c) => [c.function.name, c.function.arguments]), `sizes ${sizes}`);
    assert.ok(s.calls.every((c) => c.id?.startsWith('call_')));
  }
});

test('blocks that are not calls of declared tools stay content; an unclosed call keeps its arguments so far', () => {
  for (const body of ['{"name": "rm_rf", "arguments": {}}', 'not json', '{"arguments": {}}']) {
    const text = `a <tool_call>${body}</tool_call> b`;
    assert.deepEqual(extractToolCalls(text, names), { content: text, calls: [] }, body);
  }
  const other = extractToolCalls('<tool_call>{"arguments": {"id": 1}, "name": "lookup"}</tool_call>', names);
  assert.deepEqual(other.calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]), [['lookup', { id: 1 }]], 'key order does not matter');
  const cut = streamed('<tool_call>{"name": "lookup", "arguments": {"id": 12', [4]);
  assert.deepEqual(cut.calls.map((c) => [c.name, c.args]), [['lookup', '{"id": 12']]);
  assert.equal(streamed('x <tool_ca', [3]).content, 'x <tool_ca', 'a partial tag is released at the end');
});

test('lazy grammar: free text until the model writes <tool_call>, then only a valid call of a declared tool', async () => {
  const texts = readFileSync(join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt'), 'utf8').split('\n');
  const tokenizer = await trainTokenizer({ texts, vocabSize: 600, morpheme: false, progress: false });
  const special = new Set(Object.values(tokenizer.specialTokens));
  const bytesOf = (id: number) => (special.has(id) ? undefined : tokenizer.decodeBytes([id]));
  const trie = new TokenTrie(tokenizer.vocabSize, bytesOf);
  const end = tokenizer.tokenId('<|im_end|>')!;
  const schema = { type: 'object', properties: { city: { type: 'string', maxLength: 6 } }, required: ['city'] };
  const grammar = new JsonGrammar([{ prefix: new TextEncoder().encode('{"name": "get_weather", "arguments": '), node: compileSchema(schema), suffix: new TextEncoder().encode('}</tool_call>') }]);
  const lazy = new LazyGrammar('<tool_call>', () => new GrammarMatcher(grammar, trie, bytesOf, [end]), bytesOf);
  const r = rng(2);
  const ids: number[] = [];
  // Free text written token by token; the trigger arrives split over tokens, with its last token carrying more bytes.
  for (const id of [...tokenizer.encode('날씨를 볼게요 <tool_'), ...tokenizer.encode('call>{')]) {
    const logits = new Float32Array(tokenizer.vocabSize);
    lazy.mask(logits, 500);
    assert.ok(lazy.engaged || logits.every((v) => v === 0), 'free text is not constrained');
    lazy.accept(id);
    ids.push(id);
  }
  assert.ok(lazy.engaged, 'the trigger engaged the grammar');
  let matched = false;
  for (let left = 400; lazy.engaged && left > 0; left--) {
    const logits = Float32Array.from({ length: tokenizer.vocabSize }, () => r() * 5);
    lazy.mask(logits, left);
    const allowed = [...logits.keys()].filter((i) => logits[i] !== -Infinity);
    const id = allowed[Math.floor(r() * allowed.length)]!;
    matched = lazy.accept(id);
    ids.push(id);
  }
  assert.ok(matched, 'the last token completed the call (with parallel_tool_calls false the output ends there)');
  const text = tokenizer.decode(ids);
  const { content, calls } = extractToolCalls(text, new Set(['get_weather']));
  assert.equal(content, '날씨를 볼게요 ');
  assert.equal(calls.length, 1, text);
  const args = JSON.parse(calls[0]!.function.arguments) as { city: string };
  assert.equal(typeof args.city, 'string');
  assert.ok([...args.city].length <= 6);
});
