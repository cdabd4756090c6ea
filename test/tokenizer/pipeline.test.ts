/**
 * Each pipeline stage against HF tokenizers' Rust build: tokenizer.json variants (kolm's fixture tokenizer for
 * byte-level stages, Llama 2's published file for char-level ones) with one component changed must give the same ids
 * and decodes in kolm and in the Rust peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { allFixtureLines, fixtureTokenizer, publishedDir, randomText, rng } from './tokenizer-helpers.js';

const rust = createRequire(import.meta.url)('@anush008/tokenizers') as typeof import('@anush008/tokenizers');

type Json = Record<string, any>;

const next = rng(23);
const TEXTS = [
  ...allFixtureLines().filter((_, i) => i % 6 === 0),
  ...Array.from({ length: 600 }, () => randomText(next, 12)),
  'Hello  world,  HELLO World! hello-world 123 4567 x1y22z333',
  "I'M here, it'S fine; DON'T  panic  —  ok?",
  '  leading and trailing spaces  ',
  'ＡＢＣ ｆｕｌｌ ｗｉｄｔｈ ①②③ ﬁ ﬂ Å ß ẞ',
  '학교에서 공부했다. 공부 공부하고 hello world ABC abc',
  'a\u0301e\u0300 한글 \u1100\u1161\u11a8',
];

async function compare(json: Json, texts: string[] = TEXTS): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kolm-tok-pipeline-'));
  try {
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
    const tok = await Tokenizer.load(dir);
    const peer = rust.Tokenizer.fromFile(join(dir, 'tokenizer.json'));
    for (const addSpecialTokens of [false, true]) {
      const theirs: number[][] = [];
      for (const e of await peer.encodeBatch(texts, { addSpecialTokens })) theirs.push(e.getIds());
      texts.forEach((s, i) => {
        assert.deepEqual(tok.encode(s, { allowSpecial: true, addSpecialTokens }), theirs[i], `add_special_tokens ${addSpecialTokens}: ${JSON.stringify(s)}`);
      });
      for (let i = 0; i < theirs.length; i += 4) {
        assert.equal(tok.decode(theirs[i]!), await peer.decode(theirs[i]!, false), `decode ${JSON.stringify(texts[i])}`);
        assert.equal(tok.decode(theirs[i]!, { skipSpecial: true }), await peer.decode(theirs[i]!, true), `decode skipping specials ${JSON.stringify(texts[i])}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let kolmJson: Json | undefined;
async function kolmBase(): Promise<Json> {
  kolmJson ??= JSON.parse((await fixtureTokenizer()).toJsonText()) as Json;
  return structuredClone(kolmJson);
}
let llama2Json: Json | undefined;
async function llama2Base(): Promise<Json> {
  llama2Json ??= JSON.parse(await readFile(join(publishedDir('llama2'), 'tokenizer.json'), 'utf8')) as Json;
  return structuredClone(llama2Json);
}

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
const QWEN = (j: Json) => j.pre_tokenizer.pretokenizers[0].pattern.Regex as string;
const split = (pattern: Json, behavior: string, invert = false) => ({ type: 'Split', pattern, behavior, invert });
const withPre = (j: Json, ...pre: Json[]) => ((j.pre_tokenizer = { type: 'Sequence', pretokenizers: [...pre, BYTE_LEVEL] }), j);

const byteLevelVariants: [string, (j: Json) => Json][] = [
  ['ByteLevel with its regex', (j) => ((j.pre_tokenizer = { ...BYTE_LEVEL, use_regex: true }), j)],
  ['ByteLevel with its regex and add_prefix_space', (j) => ((j.pre_tokenizer = { ...BYTE_LEVEL, use_regex: true, add_prefix_space: true }), j)],
  ['ByteLevel alone, no regex', (j) => ((j.pre_tokenizer = BYTE_LEVEL), j)],
  ...(['Removed', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous', 'Isolated'] as const).flatMap((b): [string, (j: Json) => Json][] => [
    [`Split ${b}`, (j) => withPre(j, split({ Regex: '\\s+|\\p{N}' }, b))],
    [`Split ${b} inverted`, (j) => withPre(j, split({ Regex: '\\p{L}+' }, b, true))],
    [`Split ${b}, string pattern`, (j) => withPre(j, split({ String: ' ' }, b))],
  ]),
  ['Split then the Qwen2 split', (j) => withPre(j, split({ Regex: '\\p{N}{1,3}' }, 'Isolated'), split({ Regex: QWEN(j) }, 'Isolated'))],
  ['case-insensitive groups', (j) => withPre(j, split({ Regex: "(?i:hello|world|'s|'t|'m|'ll|'d|'re|'ve|ß|k)|\\p{L}+|\\s+|." }, 'Isolated'))],
  ['possessive quantifiers', (j) => withPre(j, split({ Regex: '[a-z]*+[a-z]|\\p{L}++|\\s?+\\p{N}|[^\\s\\p{L}]++|\\s++' }, 'Isolated'))],
  ['classes, escapes and dots', (j) => withPre(j, split({ Regex: '[\\-\\[\\]{}()|/]+|[^\\S\\n]+|\\d+|[A-Z][a-z]*|.' }, 'Isolated'))],
  ['Digits', (j) => withPre(j, { type: 'Digits', individual_digits: false })],
  ['Digits, individual', (j) => withPre(j, { type: 'Digits', individual_digits: true })],
  ['Punctuation', (j) => withPre(j, { type: 'Punctuation', behavior: 'Isolated' })],
  ['Whitespace', (j) => withPre(j, { type: 'Whitespace' })],
  ['WhitespaceSplit', (j) => withPre(j, { type: 'WhitespaceSplit' })],
  ['NFKC', (j) => ((j.normalizer = { type: 'NFKC' }), j)],
  ['NFD', (j) => ((j.normalizer = { type: 'NFD' }), j)],
  ['NFKD', (j) => ((j.normalizer = { type: 'NFKD' }), j)],
  ['Lowercase', (j) => ((j.normalizer = { type: 'Lowercase' }), j)],
  ['Replace (regex and string), Prepend, Strip', (j) => ((j.normalizer = { type: 'Sequence', normalizers: [
    { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
    { type: 'Replace', pattern: { String: 'a' }, content: 'b' },
    { type: 'Strip', strip_left: true, strip_right: true },
    { type: 'Prepend', prepend: '>' },
  ] }), j)],
  ['TemplateProcessing', (j) => {
    const bos = j.added_tokens[0];
    const eos = j.added_tokens[3];
    j.post_processor = { type: 'Sequence', processors: [{ ...BYTE_LEVEL, type: 'ByteLevel' }, {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: eos.content, type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] }, [eos.content]: { id: eos.content, ids: [eos.id], tokens: [eos.content] } },
    }] };
    return j;
  }],
  ['merges listed twice (the last rank counts)', (j) => {
    for (let k = 0; k < 40; k += 2) j.model.merges.push(j.model.merges[k]);
    return j;
  }],
  // More than eight distinct first characters: the matcher scans with its table instead of indexOf per character.
  ['added tokens with many first characters', (j) => {
    let id = Math.max(...j.added_tokens.map((t: Json) => t.id)) + 1;
    // (Contents that are not model tokens: the Rust peer gives such a token the model's id instead.)
    const contents = ['ther', 'andr', '학교에', '공부하', 'ingly', 'erz', '1234', '!!!', '   ', '\n\n\n', 'worldw'].filter((c) => !(c in j.model.vocab));
    assert.ok(new Set(contents.map((c) => c[0])).size > 8, contents.join(','));
    for (const content of contents) j.added_tokens.push({ id: id++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
    return j;
  }],
  ['added tokens with flags', (j) => {
    let id = Math.max(...j.added_tokens.map((t: Json) => t.id)) + 1;
    const add = (content: string, flags: Json) => j.added_tokens.push({ id: id++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false, ...flags });
    add('공부', { single_word: true });
    add('hello', { lstrip: true });
    add('world', { rstrip: true });
    add('ABC', { normalized: true });
    add('fine', { special: true, lstrip: true, rstrip: true });
    j.normalizer = { type: 'Lowercase' };
    return j;
  }],
];

for (const [name, change] of byteLevelVariants) {
  test(`byte-level stage: ${name} gives the Rust peer's ids`, async () => {
    await compare(change(await kolmBase()));
  });
}

const charVariants: [string, (j: Json) => Json][] = [
  ['Metaspace pre-tokenizer and decoder (prepend always)', (j) => {
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
    j.decoder = { type: 'Sequence', decoders: [{ type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true }, { type: 'ByteFallback' }, { type: 'Fuse' }] };
    return j;
  }],
  ['Metaspace, prepend first, no split', (j) => {
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
    j.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
    return j;
  }],
  ['Metaspace, never prepend', (j) => {
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true };
    j.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'never', split: true };
    return j;
  }],
  ['unknown token without byte fallback, fused', (j) => ((j.model.byte_fallback = false), j)],
  ['unknown token without byte fallback, not fused', (j) => ((j.model.byte_fallback = false), (j.model.fuse_unk = false), j)],
  ['ignore_merges', (j) => ((j.model.ignore_merges = true), j)],
  ['end_of_word_suffix', (j) => ((j.model.end_of_word_suffix = '▁'), j)],
  // Tokens spanning a word start ("o▁w", first in rank): kolm must not cut pieces into words after an "o".
  ['merges across a word start', (j) => {
    j.model.vocab['o▁'] = 32000;
    j.model.vocab['o▁w'] = 32001;
    j.model.merges.unshift('o ▁', 'o▁ w');
    return j;
  }],
  ['Strip and Replace decoders', (j) => {
    // (The Rust Strip decoder panics when its cuts overlap or it cuts the end of an empty string; avoided here.)
    j.decoder = { type: 'Sequence', decoders: [
      { type: 'Strip', content: 'e', start: 0, stop: 1 },
      { type: 'Strip', content: '▁', start: 1, stop: 0 },
      { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 2, stop: 0 },
    ] };
    return j;
  }],
];

for (const [name, change] of charVariants) {
  test(`char-level stage: ${name} gives the Rust peer's ids`, async () => {
    await compare(change(await llama2Base()));
  });
}
