/** tokenizer.json / tokenizer_config.json: saving, loading, hashing, and errors that name the file and the field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { KolmError } from '../../src/util/errors.js';
import { fixtureTokenizer } from './tokenizer-helpers.js';

async function withSaved(fn: (dir: string, json: Record<string, any>) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-files-'));
  try {
    await (await fixtureTokenizer()).save(dir);
    await fn(dir, JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejects(dir: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(Tokenizer.load(dir), (err: unknown) => {
    assert.ok(err instanceof KolmError, String(err));
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

test('save/load keeps ids and the hash, which is the sha256 of tokenizer.json', async () => {
  await withSaved(async (dir) => {
    const tok = await fixtureTokenizer();
    const loaded = await Tokenizer.load(dir);
    const text = await readFile(join(dir, 'tokenizer.json'));
    assert.equal(loaded.hash, createHash('sha256').update(text).digest('hex'));
    assert.equal(loaded.hash, tok.hash);
    assert.equal(loaded.vocabSize, tok.vocabSize);
    assert.deepEqual(loaded.encode('토크나이저 저장 test 42'), tok.encode('토크나이저 저장 test 42'));
    await loaded.save(dir);
    assert.equal((await Tokenizer.load(dir)).hash, tok.hash);
  });
});

test('the written tokenizer.json uses the Qwen2 split, byte-level BPE and "a b" merges', async () => {
  await withSaved(async (_dir, json) => {
    assert.equal(json.model.type, 'BPE');
    assert.equal(json.model.byte_fallback, false);
    assert.equal(json.model.ignore_merges, false);
    assert.equal(typeof json.model.merges[0], 'string');
    assert.equal(json.pre_tokenizer.pretokenizers[0].pattern.Regex.startsWith("(?i:'s|'t|'re|'ve|'m|'ll|'d)"), true);
    assert.deepEqual(json.pre_tokenizer.pretokenizers[1], { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false });
    assert.equal(json.decoder.type, 'ByteLevel');
    assert.ok(json.added_tokens.every((t: { special: boolean }) => t.special));
    assert.equal(Object.keys(json.model.vocab).length + json.added_tokens.length, 3000);
  });
});

test('merges as [left, right] pairs (newer tokenizers) load to the same tokenizer', async () => {
  await withSaved(async (dir, json) => {
    json.model.merges = json.model.merges.map((m: string) => m.split(' '));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const tok = await fixtureTokenizer();
    assert.deepEqual((await Tokenizer.load(dir)).encode('같은 결과 same ids'), tok.encode('같은 결과 same ids'));
  });
});

test('a missing folder or file is an error naming tokenizer.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-missing-'));
  try {
    await rejects(dir, /tokenizer\.json/, /ENOENT/);
    await rejects(join(dir, 'nope'), /nope[/\\]tokenizer\.json/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const broken: [string, (json: Record<string, any>) => unknown, RegExp][] = [
  ['truncated JSON', () => undefined, /not valid JSON/],
  ['model missing', (j) => delete j.model, /field model must be an object/],
  ['another model type', (j) => (j.model.type = 'WordPiece'), /field model\.type is "WordPiece"/],
  ['continuing_subword_prefix on byte-level', (j) => (j.model.continuing_subword_prefix = '##'), /field model\.continuing_subword_prefix must be empty with a ByteLevel pre-tokenizer/],
  ['end_of_word_suffix on byte-level', (j) => (j.model.end_of_word_suffix = '</w>'), /field model\.end_of_word_suffix must be empty with a ByteLevel pre-tokenizer/],
  ['truncation', (j) => (j.truncation = { max_length: 8 }), /field truncation must be null/],
  ['dropout', (j) => (j.model.dropout = 0.1), /field model\.dropout is 0\.1; only null is supported/],
  ['vocab not an object', (j) => (j.model.vocab = []), /field model\.vocab must be an object/],
  ['negative id', (j) => (j.model.vocab['!'] = -1), /field model\.vocab\["!"\]/],
  ['merges not an array', (j) => (j.model.merges = 'x'), /field model\.merges must be an array/],
  ['bad merge', (j) => (j.model.merges[3] = 'onlyone'), /field model\.merges\[3\]/],
  ['merge of unknown tokens', (j) => (j.model.merges[5] = 'zzz qqq'), /model\.merges\[5\] "zzz qqq" uses "zzz"/],
  ['byte token missing', (j) => delete j.model.vocab['Ġ'], /model\.vocab lacks the byte token "Ġ"/],
  ['unknown pre-tokenizer', (j) => (j.pre_tokenizer = { type: 'BertPreTokenizer' }), /field pre_tokenizer\.type is "BertPreTokenizer"; supported: Split, ByteLevel/],
  ['unknown nested pre-tokenizer', (j) => (j.pre_tokenizer.pretokenizers[1].type = 'UnicodeScripts'), /field pre_tokenizer\.pretokenizers\[1\]\.type is "UnicodeScripts"/],
  ['unsupported regex', (j) => (j.pre_tokenizer.pretokenizers[0].pattern.Regex = '(?>a+)b'), /pretokenizers\[0\]\.pattern\.Regex: regex .* the group \(\?>/],
  ['split behaviour', (j) => (j.pre_tokenizer.pretokenizers[0].behavior = 'Glued'), /field pre_tokenizer\.pretokenizers\[0\]\.behavior is "Glued"; supported: Isolated/],
  ['normalizer', (j) => (j.normalizer = { type: 'BertNormalizer' }), /field normalizer\.type is "BertNormalizer"; supported: NFC/],
  ['decoder', (j) => (j.decoder = { type: 'WordPiece' }), /field decoder\.type is "WordPiece"; supported: ByteLevel/],
  ['post-processor', (j) => (j.post_processor = { type: 'BertProcessing' }), /field post_processor\.type is "BertProcessing"; supported: TemplateProcessing/],
  ['added token without content', (j) => (j.added_tokens[2].content = ''), /field added_tokens\[2\]\.content/],
  ['added token on a BPE id', (j) => (j.added_tokens[0].id = 300), /added_tokens\[0\]\.id 300 is already model\.vocab's/],
  ['added token with a BPE token\'s content', (j) => (j.added_tokens[0].content = Object.keys(j.model.vocab)[300]), /added_tokens\[0\]\.id is \d+, but its content .* is model\.vocab's id 300/],
];

for (const [name, damage, message] of broken) {
  test(`garbled tokenizer.json (${name}) is an error naming the file and field`, async () => {
    await withSaved(async (dir, json) => {
      damage(json);
      const text = name === 'truncated JSON' ? JSON.stringify(json).slice(0, 500) : JSON.stringify(json);
      await writeFile(join(dir, 'tokenizer.json'), text);
      await rejects(dir, /tokenizer\.json/, message);
    });
  });
}

test('a bad tokenizer_config.json is an error naming it and the field', async () => {
  await withSaved(async (dir) => {
    const path = join(dir, 'tokenizer_config.json');
    const config = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...config, chat_template: 42 }));
    await rejects(dir, /tokenizer_config\.json/, /field chat_template must be a string/);
    await writeFile(path, '{');
    await rejects(dir, /tokenizer_config\.json/, /not valid JSON/);
    await rm(path);
    assert.equal((await Tokenizer.load(dir)).renderChat([{ role: 'user', content: 'x' }]), '<|im_start|>user\nx<|im_end|>\n');
  });
});
