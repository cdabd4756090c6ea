import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { rng } from '../../src/util/random.js';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { compileSchema, GrammarMatcher, JsonGrammar, SchemaError, TokenTrie, type GrammarState } from '../../src/serve/json-grammar.js';
import { repoRoot } from './serve-helpers.js';

const ajv = new Ajv({ strict: false });
const utf8 = new TextEncoder();

const schemas: Record<string, unknown> = {
  any: true,
  object: { type: 'object' },
  person: {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 2, maxLength: 12 },
      age: { type: 'integer' },
      tags: { type: 'array', items: { enum: ['a', 'b', 'c d'] }, minItems: 1, maxItems: 3 },
      nick: { type: ['string', 'null'] },
      address: { type: 'object', properties: { city: { const: '서울' }, zip: { type: 'number' } }, required: ['city'], additionalProperties: false },
    },
    required: ['name', 'tags', 'address'],
    additionalProperties: false,
  },
  union: { anyOf: [{ type: 'number' }, { type: 'boolean' }, { type: 'array', items: { $ref: '#/$defs/pt' } }], $defs: { pt: { type: 'object', properties: { x: { type: 'integer' }, y: { type: 'integer' } }, required: ['x', 'y'] } } },
  number: { type: 'number' },
  enumNumbers: { enum: [1, 12, 123, 'x'] },
};

/** Bytes allowed next from a state within a byte budget; -1 stands for the end of the output. */
function allowedBytes(s: GrammarState, budget: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < 256; b++) {
    const next = JsonGrammar.step(s, b);
    if (next && JsonGrammar.tokensToFinish(next) <= budget - 1) out.push(b);
  }
  if (JsonGrammar.canEnd(s)) out.push(-1);
  return out;
}

test('random byte walks under the grammar always end, within the budget, in JSON that validates', () => {
  const r = rng(7);
  for (const [name, schema] of Object.entries(schemas)) {
    const grammar = JsonGrammar.forSchema(compileSchema(schema));
    const validate = ajv.compile(schema as object);
    const start = JsonGrammar.tokensToFinish(grammar.initial());
    for (let walk = 0; walk < 60; walk++) {
      const budget = start + Math.floor(r() * 40);
      let s = grammar.initial();
      const out: number[] = [];
      for (let left = budget; ; left--) {
        if (JsonGrammar.isDone(s)) break;
        const choices = allowedBytes(s, left);
        assert.ok(choices.length > 0, `${name}: no byte allowed after ${JSON.stringify(Buffer.from(out).toString())} with ${left} left`);
        // Prefer the end and structural bytes sometimes, random bytes otherwise, so walks cover nesting and strings.
        const b = choices[Math.floor(r() * choices.length)]!;
        if (b === -1) break;
        out.push(b);
        s = JsonGrammar.step(s, b)!;
      }
      assert.ok(out.length <= budget, `${name}: ${out.length} bytes > budget ${budget}`);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(out));
      const value = JSON.parse(text) as unknown;
      assert.ok(validate(value), `${name}: ${text} fails: ${ajv.errorsText(validate.errors)}`);
    }
  }
});

function accepts(schema: unknown, text: string): boolean {
  const s = JsonGrammar.feed(JsonGrammar.forSchema(compileSchema(schema)).initial(), utf8.encode(text));
  return s !== null && JsonGrammar.canEnd(s);
}

test('the recogniser accepts valid documents and rejects invalid ones byte by byte', () => {
  const person = schemas['person'];
  assert.ok(accepts(person, '{"name": "김철수", "tags": ["a", "c d"], "address": {"city": "서울", "zip": 4.5e+10}}'));
  assert.ok(accepts(person, '{"name":"ab","age":-3,"tags":["b"],"nick":null,"address":{"city":"서울"}}'));
  assert.ok(!accepts(person, '{"name":"a","tags":["b"],"address":{"city":"서울"}}'), 'minLength');
  assert.ok(!accepts(person, '{"name":"ab","tags":[],"address":{"city":"서울"}}'), 'minItems');
  assert.ok(!accepts(person, '{"name":"ab","tags":["b"]}'), 'required address');
  assert.ok(!accepts(person, '{"name":"ab","age":1.5,"tags":["b"],"address":{"city":"서울"}}'), 'integer');
  assert.ok(!accepts(person, '{"tags":["b"],"name":"ab","address":{"city":"서울"}}'), 'keys follow the order of properties');
  assert.ok(!accepts(person, '{"name":"ab","tags":["b"],"address":{"city":"부산"}}'), 'const');
  assert.ok(!accepts(person, '{"name":"ab","tags":["b"],"address":{"city":"서울"},"x":1}'), 'no additional keys');
  assert.ok(accepts(true, '[1, {"a": [true, false, null, "\\u00e9\\n"]}, -0.5E-3, ""]'));
  assert.ok(!accepts(true, '[01]'), 'leading zero');
  assert.ok(!accepts(true, '"\\ud800"'), 'no surrogate escapes');
  assert.ok(!accepts(true, '"a\u0001"'), 'raw control character');
  assert.ok(!accepts(true, ' {}'), 'no whitespace before the top-level value');
  assert.ok(!JsonGrammar.feed(JsonGrammar.forSchema(compileSchema(true)).initial(), Uint8Array.from([0x22, 0xc0, 0x80, 0x22])), 'overlong UTF-8');
  assert.ok(!JsonGrammar.feed(JsonGrammar.forSchema(compileSchema(true)).initial(), Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22])), 'UTF-8 surrogate');
  assert.ok(accepts(schemas['enumNumbers'], '12') && accepts(schemas['enumNumbers'], '1') && !accepts(schemas['enumNumbers'], '2'));
  const s = JsonGrammar.feed(JsonGrammar.forSchema(compileSchema({ type: 'object' })).initial(), utf8.encode('{"a":1}'))!;
  assert.ok(JsonGrammar.isDone(s), 'a closed top-level object ends the output');
});

test('tool-call grammar: a prefix per tool, then its arguments, then the closing tag', () => {
  const tool = (name: string, params: unknown) => ({ prefix: utf8.encode(`<tool_call>{"name": "${name}", "arguments": `), node: compileSchema(params), suffix: utf8.encode('}</tool_call>') });
  const g = new JsonGrammar([tool('get', { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] }), tool('get_weather', { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] })]);
  const feed = (t: string) => JsonGrammar.feed(g.initial(), utf8.encode(t));
  assert.ok(JsonGrammar.isDone(feed('<tool_call>{"name": "get_weather", "arguments": {"city": "Seoul"}}</tool_call>')!));
  assert.ok(JsonGrammar.isDone(feed('<tool_call>{"name": "get", "arguments": {"id": 3}}</tool_call>')!));
  assert.equal(feed('<tool_call>{"name": "get", "arguments": {"city": "Seoul"}}</tool_call>'), null, 'arguments follow the chosen tool');
  assert.equal(feed('<tool_call>{"name": "set"'), null);
});

test('unsupported or contradictory schemas are refused with the path named', () => {
  assert.throws(() => compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: 'x+' } } }), (e: unknown) => e instanceof SchemaError && e.path === '#/properties/a' && /pattern/.test(e.message));
  assert.throws(() => compileSchema({ anyOf: [{ type: 'object' }, { type: 'object', properties: {} }] }), /both start with '\{'/);
  assert.throws(() => compileSchema({ type: 'string', minLength: 3, maxLength: 2 }), /minLength > maxLength/);
  assert.throws(() => compileSchema({ type: 'object', properties: { a: {} }, required: ['b'] }), /required property 'b'/);
  assert.throws(() => compileSchema({ $ref: '#/$defs/n', $defs: { n: { type: 'array', items: { $ref: '#/$defs/n' } } } }), /deeper than 64/);
  assert.throws(() => compileSchema({ type: 'date' }), /unknown type "date" at #\/type/);
});

test('token masks over a real byte-level vocabulary: sampled tokens always give valid JSON within max tokens', async () => {
  const texts = readFileSync(join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt'), 'utf8').split('\n');
  const tokenizer = await trainTokenizer({ texts, vocabSize: 600, morpheme: false, progress: false });
  const special = new Set(Object.values(tokenizer.specialTokens));
  const bytesOf = (id: number) => (special.has(id) ? undefined : tokenizer.decodeBytes([id]));
  const trie = new TokenTrie(tokenizer.vocabSize, bytesOf);
  assert.ok(trie.allBytes, 'every byte is a token');
  const eos = tokenizer.tokenId('<|im_end|>')!;
  const r = rng(3);
  for (const name of ['person', 'union', 'object']) {
    const schema = schemas[name];
    const validate = ajv.compile(schema as object);
    for (let run = 0; run < 8; run++) {
      const matcher = new GrammarMatcher(JsonGrammar.forSchema(compileSchema(schema)), trie, bytesOf, [eos]);
      const maxTokens = matcher.tokensToFinish + 10 + Math.floor(r() * 30);
      const ids: number[] = [];
      for (let left = maxTokens; left > 0; left--) {
        const logits = Float32Array.from({ length: tokenizer.vocabSize }, () => r() * 4);
        matcher.mask(logits, left);
        const allowed = [...logits.keys()].filter((i) => logits[i] !== -Infinity);
        assert.ok(allowed.length > 0);
        const id = allowed[Math.floor(r() * allowed.length)]!;
        ids.push(id);
        if (matcher.accept(id)) break;
      }
      assert.ok(ids.length <= maxTokens);
      const text = tokenizer.decode(ids, { skipSpecial: true });
      const value = JSON.parse(text) as unknown;
      assert.ok(validate(value), `${name}: ${text}: ${ajv.errorsText(validate.errors)}`);
    }
  }
});
