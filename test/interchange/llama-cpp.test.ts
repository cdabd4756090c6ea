/**
 * The GGUF export checked with llama.cpp itself (node-llama-cpp 3.21.1, its prebuilt CPU binary from npm; never
 * built or downloaded here): it loads kolm's files, tokenizes exactly as kolm does, continues prompts greedily as kolm
 * does at f32, and agrees on the top next token at q8_0.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';
import { exportGguf, importGguf } from '../../src/interchange/gguf.js';
import { loadModelFolder } from '../../src/model/folder.js';
import { isQuantized } from '../../src/model/quantize.js';
import { quantizeFolder } from '../../src/model/quantize-folder.js';
import { initParams } from '../../src/model/params.js';
import type { ModelConfig } from '../../src/model/config.js';
import { loadModel, type LanguageModel } from '../../src/infer/model.js';
import { generateIds } from '../../src/infer/generate.js';
import type { Tokenizer } from '../../src/tokenizer/index.js';
import { configFor, fixtureTexts, fixtureTokenizer, saveWithTokenizer, trainBriefly } from '../../bench/decode.js';

const dir = mkdtempSync(join(tmpdir(), 'kolm-llama-cpp-'));
let tok: Tokenizer;
let llama: Llama;
const models: LlamaModel[] = [];

/** SEED-Text's structure scaled down: Llama, GQA, tied embeddings, explicit head_dim ≠ hidden / heads. */
const SEED_LIKE = { hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, max_position_embeddings: 512, rope_theta: 1e6, rms_norm_eps: 1e-5 };

async function exported(name: string, fields: Partial<ModelConfig>, type: 'f32' | 'q8_0', seed = 1): Promise<{ kolm: LanguageModel; cpp: LlamaModel; path: string }> {
  const path = join(dir, name);
  const config = configFor(tok, { ...SEED_LIKE, initializer_range: 0.3, ...fields });
  await saveWithTokenizer(path, config, initParams(config, seed), tok);
  return withGguf(path, type);
}

const SEQ = 128;
let trainedPath: Promise<string> | undefined;
let trainedLoss = NaN;

/** SEED_LIKE trained 80 steps on the mixed fixture text in windows of SEQ tokens (once per run). */
function trained(): Promise<string> {
  trainedPath ??= (async () => {
    const config = configFor(tok, SEED_LIKE);
    const { weights, loss } = await trainBriefly(config, tok.encode(fixtureTexts().mixed), { seq: SEQ, steps: 80 });
    trainedLoss = loss;
    const path = join(dir, 'trained');
    await saveWithTokenizer(path, config, weights, tok);
    return path;
  })();
  return trainedPath;
}

async function withGguf(path: string, type: 'f32' | 'q8_0'): Promise<{ kolm: LanguageModel; cpp: LlamaModel; path: string }> {
  const file = `${path}-${type}.gguf`;
  await exportGguf(path, file, { type });
  const cpp = await llama.loadModel({ modelPath: file });
  models.push(cpp);
  return { kolm: await loadModel(path, { threads: 1 }), cpp, path };
}

before(async () => {
  tok = await fixtureTokenizer();
  // The prebuilt binary or nothing: no source build, no download, CPU only.
  llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error });
});

after(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** llama.cpp's greedy continuation of `prompt` (one sequence, fresh context). */
async function cppGreedy(model: LlamaModel, prompt: number[], n: number): Promise<number[]> {
  const context = await model.createContext({ contextSize: 512, sequences: 1, threads: 1 });
  try {
    const out: number[] = [];
    for await (const t of context.getSequence().evaluate(prompt as Token[], { temperature: 0 })) {
      out.push(t);
      if (out.length === n) break;
    }
    return out;
  } finally {
    await context.dispose();
  }
}

test('llama.cpp loads the exported f32 GGUF and reads kolm\'s hyperparameters, special tokens and chat template', async () => {
  const { cpp, kolm } = await exported('seed-like', {}, 'f32');
  assert.equal(cpp.trainContextSize, 512);
  assert.equal(cpp.tokens.bos, tok.tokenId('<|endoftext|>'));
  assert.equal(cpp.tokens.eos, tok.tokenId('<|endoftext|>'));
  assert.equal(cpp.fileInsights.totalLayers - 1, kolm.config.num_hidden_layers, 'block count (node-llama-cpp counts the output layer too)');
  const md = cpp.fileInfo.metadata as unknown as { tokenizer: { chat_template: string; ggml: { pre: string } }; llama: { attention: { key_length: number } } };
  assert.equal(md.tokenizer.chat_template, kolm.tokenizer.config.chatTemplate);
  assert.equal(md.tokenizer.ggml.pre, 'qwen2');
  assert.equal(md.llama.attention.key_length, 32);
  // Special tokens are control tokens to llama.cpp: parsed as one token only when asked.
  const imStart = tok.tokenId('<|im_start|>')!;
  assert.deepEqual(cpp.tokenize('<|im_start|>', true), [imStart]);
  assert.notDeepEqual(cpp.tokenize('<|im_start|>', false), [imStart]);
  assert.equal(cpp.detokenize([imStart as Token], true), '<|im_start|>');
});

test('llama.cpp tokenizes Korean, English and code exactly as kolm does (every fixture line, with and without special tokens)', async () => {
  const { cpp, kolm } = await exported('tokenize', {}, 'f32', 2);
  const t = fixtureTexts();
  const samples = [
    ...t.korean.flatMap((x) => x.split('\n')),
    ...t.english.flatMap((x) => x.split('\n')),
    ...t.code.flatMap((x) => x.split('\n')),
    ...t.mixed.split('\n'),
    ...t.code, // whole files: newlines, tabs and indentation runs
    '가격은 12,345원이고 3.14%  할인!!  \n\n  탭\t문자와 이모지 😀👍🏽, 한자 漢字, ｆｕｌｌｗｉｄｔｈ',
    "I'm sure you'll see—it's they've/we'd   spaced   out.",
  ].filter((s) => s.length > 0);
  assert.ok(samples.length > 300, `${samples.length} samples`);
  let tokens = 0;
  for (const s of samples) {
    const ids = kolm.tokenizer.encode(s);
    assert.deepEqual(cpp.tokenize(s, false), ids, `tokenization differs for ${JSON.stringify(s.slice(0, 80))}`);
    tokens += ids.length;
  }
  const chat = kolm.tokenizer.renderChat([{ role: 'system', content: '친절하게 답하라.' }, { role: 'user', content: '서울의 인구는?' }], { addGenerationPrompt: true });
  assert.deepEqual(cpp.tokenize(chat, true), kolm.tokenizer.encode(chat, { allowSpecial: true }), 'a rendered chat, special tokens parsed');
  assert.deepEqual(cpp.tokenize(chat, false), kolm.tokenizer.encode(chat), 'a rendered chat, special tokens as text');
  assert.ok(tokens > 5000, `${tokens} tokens compared`);
  for (const s of samples.slice(0, 50)) assert.equal(cpp.detokenize(kolm.tokenizer.encode(s) as Token[]), s, 'llama.cpp decodes kolm ids back to the text');
});

test('greedy continuations at f32: llama.cpp equals kolm for 32 tokens from three prompts of a briefly trained model', async () => {
  const { cpp, kolm } = await withGguf(await trained(), 'f32');
  const ids = tok.encode(fixtureTexts().mixed);
  for (const start of [0, SEQ, 2 * SEQ]) {
    const prompt = ids.slice(start, start + 10);
    const [ref] = await generateIds(kolm, [prompt], { maxNewTokens: 32 });
    assert.equal(ref!.ids.length, 32);
    const got = await cppGreedy(cpp, prompt, 32);
    assert.deepEqual(got, ref!.ids, `continuation of ${JSON.stringify(kolm.tokenizer.decode(prompt))}`);
  }
});

/** Margin between kolm's best and second-best logit. */
function margin(row: Float32Array): { best: number; margin: number } {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  let second = -Infinity;
  for (let i = 0; i < row.length; i++) if (i !== best && row[i]! > second) second = row[i]!;
  return { best, margin: row[best]! - second };
}

test('random models at f32 (tied/explicit head_dim, untied, linear RoPE scaling): along kolm\'s greedy path llama.cpp picks the same token wherever kolm\'s choice is not a float32 tie', async () => {
  // Random weights make near-ties: a top-2 gap of 1e-3 flips with the last bits of either engine's arithmetic, so the
  // path is compared teacher-forced and positions whose gap is below 0.01 are counted, not compared (few are allowed).
  const prompts = ['서울은 대한민국의 수도이며', 'The students at the school', 'func main() {\n\tfmt.'];
  for (const [name, fields] of [
    ['greedy-seed-like', {}],
    ['greedy-untied', { tie_word_embeddings: false, num_key_value_heads: 4, head_dim: 16 }],
    ['greedy-rope-linear', { rope_scaling: { rope_type: 'linear' as const, factor: 2 } }],
  ] as const) {
    const { cpp, kolm } = await exported(name, fields, 'f32', 3);
    const context = await cpp.createContext({ contextSize: 512, sequences: 1, threads: 1 });
    let compared = 0;
    let ties = 0;
    try {
      for (const text of prompts) {
        const prompt = kolm.tokenizer.encode(text);
        const choices: { best: number; margin: number }[] = [];
        const [ref] = await generateIds(kolm, [prompt], { maxNewTokens: 40, onLogits: (_b, row) => void choices.push(margin(row)) });
        const path = [...prompt, ...ref!.ids];
        const sequence = context.getSequence();
        const next = await sequence.controlledEvaluate(path.slice(0, -1).map((id, i) => (i >= prompt.length - 1 ? [id as Token, { generateNext: { token: true, options: { temperature: 0 } } }] : (id as Token))));
        sequence.dispose();
        ref!.ids.forEach((id, k) => {
          if (choices[k]!.margin < 0.01) return void ties++;
          compared++;
          assert.equal(next[prompt.length - 1 + k]?.next.token, id, `${name}, ${JSON.stringify(text)}: step ${k} (kolm margin ${choices[k]!.margin})`);
        });
      }
    } finally {
      await context.dispose();
    }
    console.log(`# ${name}: ${compared} greedy steps agree, ${ties} near-ties (kolm top-2 gap < 0.01) not compared`);
    assert.ok(compared >= 100 && ties <= 12, `${name}: ${compared} steps compared, ${ties} near-ties skipped`);
  }
});

/** Teacher-forced top-1 of both engines over windows of `seq` tokens (each window a fresh context). */
async function topOneAgreement(cpp: LlamaModel, kolm: LanguageModel, ids: number[], seq: number): Promise<{ positions: number; agree: number; minMarginDisagreeing: number }> {
  const context = await cpp.createContext({ contextSize: 512, sequences: 1, batchSize: 512, threads: 1 });
  const sequence = context.getSequence();
  const V = kolm.config.vocab_size;
  let positions = 0;
  let agree = 0;
  let minMarginDisagreeing = Infinity;
  try {
    for (let w = 0; (w + 1) * seq <= ids.length; w++) {
      const window = ids.slice(w * seq, (w + 1) * seq);
      const logits = await kolm.logits(window);
      await sequence.clearHistory();
      const next = await sequence.controlledEvaluate(window.map((id) => [id as Token, { generateNext: { token: true, options: { temperature: 0 } } }]));
      for (let t = 0; t < window.length; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        let best = 0;
        for (let i = 1; i < V; i++) if (row[i]! > row[best]!) best = i;
        positions++;
        if (next[t]?.next.token === best) agree++;
        else minMarginDisagreeing = Math.min(minMarginDisagreeing, row[best]! - Math.max(...Array.from(row).filter((_, i) => i !== best)));
      }
    }
  } finally {
    await context.dispose();
  }
  return { positions, agree, minMarginDisagreeing };
}

test('q8_0: llama.cpp\'s top-1 next token agrees with kolm at ≥ 99% of 512 positions of a briefly trained model (f32: all)', async () => {
  const path = await trained();
  assert.ok(trainedLoss < 0.5, `training loss ${trainedLoss}`);
  const eval512 = tok.encode(fixtureTexts().mixed).slice(0, 4 * SEQ);
  for (const type of ['q8_0', 'f32'] as const) {
    const { cpp, kolm } = await withGguf(path, type);
    const r = await topOneAgreement(cpp, kolm, eval512, SEQ);
    assert.equal(r.positions, 512);
    const rate = r.agree / r.positions;
    console.log(`# ${type}: top-1 agreement ${(rate * 100).toFixed(2)}% of ${r.positions} positions (training loss ${trainedLoss.toFixed(3)})`);
    if (type === 'f32') assert.equal(r.agree, r.positions, `f32 disagrees at ${r.positions - r.agree} positions (smallest kolm margin among them ${r.minMarginDisagreeing})`);
    else assert.ok(rate >= 0.99, `q8_0 top-1 agreement ${(rate * 100).toFixed(2)}%`);
  }
});

test('kolm quantize int8/int4 → GGUF: the Q8_0/Q4_0 blocks the folder holds (byte-identical to a q8_0/q4_0 export of the float folder); llama.cpp agrees on the top-1 token; import keeps the layers bit for bit', async () => {
  const path = await trained();
  const eval512 = tok.encode(fixtureTexts().mixed).slice(0, 4 * SEQ);
  for (const [bits, type, floor] of [[8, 'q8_0', 0.99], [4, 'q4_0', 0.97]] as const) {
    const qpath = join(dir, `trained-int${bits}`);
    await quantizeFolder(path, qpath, { bits });
    const file = `${qpath}.gguf`;
    const summary = await exportGguf(qpath, file, { name: 'trained' });
    assert.equal(summary.type, type);
    await exportGguf(path, `${path}-${type}-float.gguf`, { type, name: 'trained' });
    assert.ok(readFileSync(file).equals(readFileSync(`${path}-${type}-float.gguf`)), `${type}: quantize → export equals exporting the float folder at ${type}`);
    const cpp = await llama.loadModel({ modelPath: file });
    models.push(cpp);
    const r = await topOneAgreement(cpp, await loadModel(qpath, { threads: 1 }), eval512, SEQ);
    const rate = r.agree / r.positions;
    console.log(`# int${bits} (${type}): top-1 agreement with llama.cpp ${(rate * 100).toFixed(2)}% of ${r.positions} positions`);
    assert.ok(rate >= floor, `int${bits} top-1 agreement ${(rate * 100).toFixed(2)}%`);

    const back = await importGguf(file, join(dir, `trained-int${bits}-back`));
    assert.deepEqual((back.config as unknown as { quantization_config: unknown }).quantization_config, JSON.parse(readFileSync(join(qpath, 'config.json'), 'utf8')).quantization_config);
    const [a, b] = [await loadModelFolder(qpath, { quantized: true }), await loadModelFolder(back.dir, { quantized: true })];
    for (const [name, w] of Object.entries(a.weights)) {
      const v = b.weights[name]!;
      if (!isQuantized(w)) continue;
      assert.ok(isQuantized(v), `${name} stays quantized`);
      assert.ok(Buffer.from(v.blocks).equals(Buffer.from(w.blocks)) && Buffer.from(v.scales.buffer).equals(Buffer.from(w.scales.buffer)), `${name} bit-identical`);
    }
  }
  // A quantized folder's type is fixed, and GGUF blocks hold 32 values.
  await assert.rejects(exportGguf(join(dir, 'trained-int4'), join(dir, 'x.gguf'), { type: 'f16' }), /the folder is quantized, so its GGUF type is q4_0, not f16/);
  await quantizeFolder(path, join(dir, 'trained-g64'), { bits: 4, groupSize: 64 });
  await assert.rejects(exportGguf(join(dir, 'trained-g64'), join(dir, 'y.gguf')), /group_size is 64; GGUF's q8_0\/q4_0 blocks hold 32 values/);
});
