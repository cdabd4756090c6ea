/**
 * `kolm bench decode [--model DIR | --preset micro|small|…] [--quantize int8|int4] [--json]`: prefill and decode
 * tokens/s of kolm's generation (batch 1 and batch 8) next to llama.cpp (node-llama-cpp) running the same weights in
 * the same run, with ratios: a float folder exported to GGUF f32, a quantized one (or `--quantize`) as the Q8_0/Q4_0
 * blocks it holds. `--profile DIR` adds ORT's per-op profile of kolm's decode steps.
 *
 * Both engines are timed the same way: the time to the first new token is the prefill (prompt evaluation plus one
 * greedy pick); the time from the first to the last of N+1 new tokens is N decode steps. Batch 8 runs 8 different
 * prompts of equal length (no padding) in lockstep (kolm) or as 8 sequences of one context (llama.cpp).
 *
 * Also exports the small fixtures the interchange tests share: a tokenizer trained on the repository's fixture texts,
 * random model folders, and a briefly trained one.
 */
import { parseArgs } from 'node:util';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { makeConfig, type ModelConfig } from '../src/model/config.js';
import { initParams, parameterCount } from '../src/model/params.js';
import { PRESETS } from '../src/model/presets.js';
import { loadConfig, saveModelFolder, type Weights } from '../src/model/folder.js';
import { folderQuantization } from '../src/model/compressed-tensors.js';
import { quantizeFolder } from '../src/model/quantize-folder.js';
import { trainTokenizer, type Tokenizer } from '../src/tokenizer/index.js';
import { TrainStep } from '../src/train/step.js';
import { buildLmGraph, windowsToBatch } from '../src/train/lm.js';
import { exportGguf } from '../src/interchange/gguf.js';
import { loadModel, type LanguageModel } from '../src/infer/model.js';
import { generateIds } from '../src/infer/generate.js';
import { ort } from '../src/runtime/session.js';
import { KolmError } from '../src/util/errors.js';
import { intOption } from '../src/cli/args.js';
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import { loadPeers } from './peers.js';

// ------------------------------------------------------------------------------------------------------ fixtures

/** The repository's test fixtures, found from the compiled module (dist/bench/decode.js → test/fixtures). */
export const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures');

function jsonlTexts(text: string, field: string): string[] {
  return text.split('\n').filter((l) => l.trim()).map((l) => String((JSON.parse(l) as Record<string, unknown>)[field]));
}

/** Korean, English and code texts from the fixtures: Korean prose, movie reviews, English prose, Go/Python code. */
export function fixtureTexts(): { korean: string[]; english: string[]; code: string[]; mixed: string } {
  const read = (...p: string[]) => readFileSync(join(FIXTURES, ...p), 'utf8');
  const korean = [...jsonlTexts(read('data', 'ko.jsonl'), 'text'), ...jsonlTexts(read('data', 'reviews.jsonl'), 'review')];
  const english = jsonlTexts(gunzipSync(readFileSync(join(FIXTURES, 'data', 'en.jsonl.gz'))).toString('utf8'), 'text');
  const code = jsonlTexts(read('data', 'code.jsonl'), 'text');
  return { korean, english, code, mixed: read('text', 'ko-en.txt') + read('data', 'notes.txt') };
}

/** A kolm tokenizer trained on the fixture texts (about a second; no lexicon needed). */
export async function fixtureTokenizer(vocabSize = 2000): Promise<Tokenizer> {
  const t = fixtureTexts();
  return trainTokenizer({ texts: [...t.korean, ...t.english, ...t.code, ...t.mixed.split('\n')], vocabSize, morpheme: false, progress: false });
}

/** A config of the given shape whose vocabulary and special ids follow the tokenizer. */
export function configFor(tok: Tokenizer, fields: Partial<ModelConfig> & Pick<ModelConfig, 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads'>): ModelConfig {
  const eot = tok.tokenId('<|endoftext|>') ?? null;
  return makeConfig({ vocab_size: tok.vocabSize, bos_token_id: eot, eos_token_id: eot, pad_token_id: tok.tokenId('<|pad|>') ?? null, ...fields });
}

/** Save a model folder with the tokenizer's files. */
export async function saveWithTokenizer(dir: string, config: ModelConfig, weights: Weights, tok: Tokenizer): Promise<void> {
  const tokDir = await mkdtemp(join(tmpdir(), 'kolm-tok-'));
  try {
    await tok.save(tokDir);
    await saveModelFolder(dir, config, weights, { tokenizerDir: tokDir });
  } finally {
    await rm(tokDir, { recursive: true, force: true });
  }
}

/**
 * Train `config` briefly on `ids` (non-overlapping windows of `seq` tokens, all in one batch, one ORT thread so the
 * result is reproducible): enough steps for a tiny model to learn the text, so its predictions there are confident.
 */
export async function trainBriefly(config: ModelConfig, ids: readonly number[], opts: { seq?: number; steps?: number; lr?: number; seed?: number } = {}): Promise<{ weights: Weights; loss: number }> {
  const seq = opts.seq ?? 128;
  const batch = Math.floor((ids.length - 1) / seq);
  if (batch < 1) throw new KolmError(`trainBriefly: ${ids.length} tokens do not make one window of ${seq} + 1`);
  const windows = Array.from({ length: batch }, (_, b) => ids.slice(b * seq, b * seq + seq + 1)).flat();
  const step = await TrainStep.create(
    { build: () => buildLmGraph(config, batch, seq), optimizer: { weightDecay: 0 }, session: { threads: 1 } },
    { step: 0, params: initParams(config, opts.seed ?? 3) },
  );
  const feeds = windowsToBatch(windows, batch, seq);
  const steps = opts.steps ?? 80;
  const lr = opts.lr ?? 2e-2;
  let loss = NaN;
  for (let s = 0; s < steps; s++) loss = (await step.run([feeds], lr * Math.min(1, (s + 1) / 10))).loss;
  const snap = step.snapshot();
  const weights: Weights = {};
  for (const [name, v] of Object.entries(snap.params)) weights[name] = { shape: [...v.shape], data: Float32Array.from(v.data) };
  return { weights, loss };
}

// ----------------------------------------------------------------------------------------------------- benchmark

interface Timing {
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Prompts of exactly `length` tokens cut from the fixture texts (different ones per sequence). */
function promptsOf(tok: Tokenizer, count: number, length: number): number[][] {
  const t = fixtureTexts();
  let ids = tok.encode([t.mixed, ...t.korean, ...t.english, ...t.code].join('\n'));
  while (ids.length < count * length) ids = ids.concat(ids);
  return Array.from({ length: count }, (_, i) => ids.slice(i * length, (i + 1) * length));
}

/** kolm: times of every new token of sequence 0 (all sequences advance in lockstep). */
async function kolmRun(model: LanguageModel, prompts: number[][], newTokens: number): Promise<Timing> {
  const times: number[] = [];
  const start = performance.now();
  await generateIds(model, prompts, { maxNewTokens: newTokens + 1, onToken: (b) => void (b === 0 && times.push(performance.now())) });
  if (times.length !== newTokens + 1) throw new Error(`kolm generated ${times.length} tokens, expected ${newTokens + 1}`);
  const prefill = (times[0]! - start) / 1e3;
  const decode = (times[newTokens]! - times[0]!) / 1e3;
  return { prefillTokensPerS: (prompts.length * prompts[0]!.length) / prefill, decodeTokensPerS: (prompts.length * newTokens) / decode };
}

type NodeLlamaCpp = typeof import('node-llama-cpp');

/** llama.cpp: each sequence generates greedily; decode time runs from the last first token to the last final one. */
async function llamaRun(sequences: LlamaContextSequence[], prompts: number[][], newTokens: number): Promise<Timing> {
  const used = sequences.slice(0, prompts.length);
  for (const s of used) await s.clearHistory();
  const start = performance.now();
  const traces = await Promise.all(
    prompts.map(async (prompt, i) => {
      const times: number[] = [];
      for await (const _ of used[i]!.evaluate(prompt as Token[], { temperature: 0 })) {
        times.push(performance.now());
        if (times.length === newTokens + 1) break;
      }
      return times;
    }),
  );
  if (traces.some((t) => t.length !== newTokens + 1)) throw new Error('llama.cpp stopped early');
  const firsts = traces.map((t) => t[0]!);
  const lasts = traces.map((t) => t[newTokens]!);
  const prefill = (Math.max(...firsts) - start) / 1e3;
  const decode = (Math.max(...lasts) - Math.max(...firsts)) / 1e3;
  return { prefillTokensPerS: (prompts.length * prompts[0]!.length) / prefill, decodeTokensPerS: (prompts.length * newTokens) / decode };
}


/** A random folder of a preset, vocabulary kept at the preset's size (a tokenizer trained on the fixtures fills its low ids). */
async function presetFolder(name: string, dir: string): Promise<void> {
  const preset = PRESETS[name];
  if (!preset) throw new KolmError(`unknown preset '${name}' (${Object.keys(PRESETS).join(', ')})`);
  const tok = await fixtureTokenizer(4000);
  const config = { ...preset.config, vocab_size: Math.max(preset.config.vocab_size, tok.vocabSize), bos_token_id: tok.tokenId('<|endoftext|>')!, eos_token_id: tok.tokenId('<|endoftext|>')! };
  await saveWithTokenizer(dir, config, initParams(config, 0), tok);
}

interface ProfileSummary {
  /** Decode runs profiled. All times are medians over runs (robust to the preemption a busy machine adds), in ms. */
  steps: number;
  /** Kernels (graph nodes) executed per run. */
  nodes: number;
  /** One decode run inside ORT (its profile's model_run). */
  run_ms: number;
  /** One `session.run` call as JS sees it (feeds converted, outputs wrapped). */
  session_run_ms: number;
  /** One whole generation step: the run plus kolm's JS work (masks, rotary tables, cache appends, sampling). */
  step_ms: number;
  /** Sum over nodes of each node's median kernel time. */
  kernel_ms: number;
  /** Idle time between consecutive kernels (ORT's executor), summed per run, and its median per node gap (µs). */
  between_kernels_ms: number;
  gap_us: number;
  /** Kernels shorter than 20 µs per run and their summed time: the fixed cost of many small ops. */
  small_kernels: number;
  small_kernels_ms: number;
  /** Kernel time by op type, largest first. */
  by_op: Record<string, number>;
  /** The slowest nodes, with their input shapes. */
  top_nodes: Array<{ node: string; op: string; ms: number; inputs: string }>;
  /** Where the traces are. */
  trace_dir?: string;
}

/**
 * Profile kolm's decode graph with ORT's profiler in a fresh process (sessions are cached per process, so the ones the
 * benchmark compiled cannot be reused with profiling on): every session that process creates writes a trace.
 */
function profileDecode(modelDir: string, prompt: number[], newTokens: number, outDir: string, threads: number | undefined): Promise<ProfileSummary> {
  const script = `import(${JSON.stringify(import.meta.url)}).then((m) => m.profileChild(${JSON.stringify(JSON.stringify({ modelDir, prompt, newTokens, outDir, threads }))}))`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new KolmError(`decode profile failed: ${stderr || err.message}`));
      resolve(JSON.parse(stdout) as ProfileSummary);
    });
  });
}

/** The profiling process: prints the summary as JSON. */
export async function profileChild(json: string): Promise<void> {
  const { modelDir, prompt, newTokens, outDir, threads } = JSON.parse(json) as { modelDir: string; prompt: number[]; newTokens: number; outDir: string; threads?: number };
  await mkdir(outDir, { recursive: true });
  const runDir = await mkdtemp(join(outDir, 'run-'));
  const prefix = join(runDir, 'kolm-decode');
  const original = ort.InferenceSession.create;
  (ort.InferenceSession as unknown as { create: unknown }).create = (bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) =>
    original.call(ort.InferenceSession, bytes, { ...options, enableProfiling: true, profileFilePrefix: prefix });
  let model: LanguageModel;
  try {
    model = await loadModel(modelDir, threads === undefined ? {} : { threads, decodeThreads: threads });
  } finally {
    (ort.InferenceSession as unknown as { create: unknown }).create = original;
  }
  const decode = model.sessions.decode;
  const run = decode.run.bind(decode);
  const runTimes: number[] = [];
  (decode as unknown as { run: typeof run }).run = async (...args) => {
    const t = performance.now();
    const out = await run(...args);
    runTimes.push(performance.now() - t);
    return out;
  };
  const tokenTimes: number[] = [];
  await generateIds(model, [prompt], { maxNewTokens: newTokens + 1, onToken: () => void tokenTimes.push(performance.now()) });
  decode.endProfiling();
  model.sessions.prefill.endProfiling();
  console.log(JSON.stringify({ ...(await summarizeProfile(runDir, runTimes, tokenTimes)), trace_dir: runDir }));
}

async function summarizeProfile(outDir: string, runTimes: number[], tokenTimes: number[]): Promise<ProfileSummary> {
  const files = (await readdir(outDir)).filter((f) => f.startsWith('kolm-decode') && f.endsWith('.json'));
  // ORT's Chrome-trace events: one 'model_run' (cat Session) per run, one '<node>_kernel_time' (cat Node) per kernel.
  type TraceEvent = { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string; input_type_shape?: unknown } };
  const isRun = (e: TraceEvent) => e.cat === 'Session' && e.name === 'model_run';
  let trace: TraceEvent[] = [];
  for (const f of files) {
    const events = JSON.parse(await readFile(join(outDir, f), 'utf8')) as TraceEvent[];
    if (events.filter(isRun).length > trace.filter(isRun).length) trace = events; // the decode session runs most
  }
  const runs = trace.filter(isRun);
  if (runs.length === 0) throw new KolmError(`${outDir}: no ORT profile with session runs was written`);
  const kernels = trace.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((x, y) => x.ts - y.ts);
  const byNode = new Map<string, { op: string; durs: number[]; inputs: string }>();
  for (const k of kernels) {
    const node = k.name.replace(/_kernel_time$/, '');
    const entry = byNode.get(node) ?? { op: k.args?.op_name ?? '?', durs: [], inputs: JSON.stringify(k.args?.input_type_shape ?? []) };
    entry.durs.push(k.dur);
    byNode.set(node, entry);
  }
  const nodes = [...byNode.entries()].map(([node, v]) => ({ node, op: v.op, us: median(v.durs), inputs: v.inputs }));
  const byOp: Record<string, number> = {};
  for (const n of nodes) byOp[n.op] = (byOp[n.op] ?? 0) + n.us / 1e3;
  // Gaps between consecutive kernels inside each run.
  const gaps: number[] = [];
  const runGaps: number[] = [];
  let k = 0;
  for (const r of runs) {
    while (k < kernels.length && kernels[k]!.ts < r.ts) k++;
    let total = 0;
    for (let prevEnd = -1; k < kernels.length && kernels[k]!.ts <= r.ts + r.dur; k++) {
      if (prevEnd >= 0) {
        gaps.push(kernels[k]!.ts - prevEnd);
        total += kernels[k]!.ts - prevEnd;
      }
      prevEnd = kernels[k]!.ts + kernels[k]!.dur;
    }
    runGaps.push(total);
  }
  const small = nodes.filter((n) => n.us < 20);
  const steps = tokenTimes.slice(1).map((t, i) => t - tokenTimes[i]!);
  const ms = (x: number) => +x.toFixed(3);
  return {
    steps: runs.length,
    nodes: nodes.length,
    run_ms: ms(median(runs.map((r) => r.dur)) / 1e3),
    session_run_ms: ms(median(runTimes)),
    step_ms: ms(median(steps)),
    kernel_ms: ms(nodes.reduce((s, n) => s + n.us, 0) / 1e3),
    between_kernels_ms: ms(median(runGaps) / 1e3),
    gap_us: median(gaps),
    small_kernels: small.length,
    small_kernels_ms: ms(small.reduce((s, n) => s + n.us, 0) / 1e3),
    by_op: Object.fromEntries(Object.entries(byOp).sort((x, y) => y[1] - x[1]).map(([op, v]) => [op, ms(v)])),
    top_nodes: nodes.sort((x, y) => y.us - x.us).slice(0, 8).map((n) => ({ node: n.node, op: n.op, ms: ms(n.us / 1e3), inputs: n.inputs })),
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      preset: { type: 'string' },
      'prompt-tokens': { type: 'string', default: '128' },
      'new-tokens': { type: 'string', default: '64' },
      batch: { type: 'string', default: '8' },
      repeats: { type: 'string', default: '3' },
      threads: { type: 'string' },
      profile: { type: 'string' },
      quantize: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const usage = 'usage: kolm bench decode (--model DIR | --preset micro|small|seed-0.5b|…) [--quantize int8|int4] [--prompt-tokens 128] [--new-tokens 64] [--batch 8] [--repeats 3] [--threads N] [--profile DIR] [--json]';
  if (values.help || (!values.model && !values.preset)) {
    console.log(usage);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const int = (k: 'prompt-tokens' | 'new-tokens' | 'batch' | 'repeats' | 'threads', min: number) => intOption(k, values[k], { min })!;
  const P = int('prompt-tokens', 1);
  const N = int('new-tokens', 2);
  const B = int('batch', 2);
  const repeats = int('repeats', 1);
  const threads = values.threads === undefined ? undefined : int('threads', 1);
  const quantization = values.quantize;
  if (quantization !== undefined && quantization !== 'int8' && quantization !== 'int4') throw new KolmError(`--quantize must be int8 or int4 (got "${quantization}")`);

  const { llamaCpp } = await loadPeers<{ llamaCpp: NodeLlamaCpp }>('decode', { llamaCpp: { pkg: 'node-llama-cpp', load: () => import('node-llama-cpp') } });
  const loadStart = loadavg()[0]!;
  const work = await mkdtemp(join(tmpdir(), 'kolm-bench-decode-'));
  try {
    let modelDir = values.model ?? join(work, 'model');
    if (!values.model) await presetFolder(values.preset!, modelDir);
    if (quantization) {
      await quantizeFolder(modelDir, join(work, 'quantized'), { bits: quantization === 'int8' ? 8 : 4 });
      modelDir = join(work, 'quantized');
    }
    // llama.cpp runs the same weights: a quantized folder as the Q8_0/Q4_0 blocks it holds, a float one in f32.
    const gguf = join(work, 'model.gguf');
    const ggufType = (await exportGguf(modelDir, gguf, { type: folderQuantization(await loadConfig(modelDir), modelDir) ? undefined : 'f32' })).type;

    const model = await loadModel(modelDir, threads === undefined ? { threads: 1, decodeThreads: 1 } : { threads, decodeThreads: threads });
    const c = model.config;
    if (P + N + 1 > c.max_position_embeddings) throw new KolmError(`--prompt-tokens + --new-tokens exceed the model's context (${c.max_position_embeddings})`);
    const prompts = promptsOf(model.tokenizer, B, P);
    const one = prompts.slice(0, 1);

    // Each engine runs at every thread count of the set (1 and all cores, or --threads) and is reported at its best,
    // separately for prefill, decode and batched decode: on a busy machine ggml's spinning thread pool can collapse
    // with more threads than free cores, and a decode step of small kernels often runs best on one thread, so neither
    // engine is judged by a setting that is bad for it here.
    const threadSet = threads === undefined ? [...new Set([1, cpus().length])] : [threads];
    const kolmBy = new Map<number, LanguageModel>();
    for (const t of threadSet) kolmBy.set(t, t === (threads ?? 1) ? model : await loadModel(modelDir, { threads: t, decodeThreads: t }));
    const llama = await llamaCpp.getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: llamaCpp.LlamaLogLevel.error });
    const lmodel = await llama.loadModel({ modelPath: gguf });
    const contextSize = Math.ceil((P + N + 8) / 256) * 256;
    const batchSize = Math.max(512, P);
    const llamaBy = new Map<number, LlamaContextSequence[]>();
    const contexts = [];
    for (const t of threadSet) {
      const context = await lmodel.createContext({ contextSize, sequences: B, batchSize, threads: t });
      contexts.push(context);
      llamaBy.set(t, Array.from({ length: B }, () => context.getSequence()));
    }

    // Rounds interleave the engines, so a busy machine slows both alike; a warm-up round first, then medians.
    type Measure = 'prefill' | 'decode' | 'decodeBatch';
    type Round = Record<'kolm' | 'llama', Map<number, Record<Measure, number>>>;
    const rounds: Round[] = [];
    for (let r = 0; r <= repeats; r++) {
      const round: Round = { kolm: new Map(), llama: new Map() };
      for (const t of threadSet) {
        const k1 = await kolmRun(kolmBy.get(t)!, one, N);
        const l1 = await llamaRun(llamaBy.get(t)!, one, N);
        const kB = await kolmRun(kolmBy.get(t)!, prompts, N);
        const lB = await llamaRun(llamaBy.get(t)!, prompts, N);
        round.kolm.set(t, { prefill: k1.prefillTokensPerS, decode: k1.decodeTokensPerS, decodeBatch: kB.decodeTokensPerS });
        round.llama.set(t, { prefill: l1.prefillTokensPerS, decode: l1.decodeTokensPerS, decodeBatch: lB.decodeTokensPerS });
      }
      if (r > 0) rounds.push(round);
    }
    for (const c of contexts) await c.dispose();
    await lmodel.dispose();
    await llama.dispose();
    const med = (engine: 'kolm' | 'llama', t: number, m: Measure) => median(rounds.map((r) => r[engine].get(t)![m]));
    const best = (engine: 'kolm' | 'llama', m: Measure) => threadSet.reduce((a, b) => (med(engine, b, m) > med(engine, a, m) ? b : a));
    const at = Object.fromEntries(
      (['kolm', 'llama'] as const).map((e) => [e, Object.fromEntries((['prefill', 'decode', 'decodeBatch'] as const).map((m) => [m, best(e, m)]))]),
    ) as Record<'kolm' | 'llama', Record<Measure, number>>;
    const value = (e: 'kolm' | 'llama', m: Measure) => med(e, at[e][m], m);
    const ratio = (m: Measure) => median(rounds.map((r) => r.kolm.get(at.kolm[m])![m] / r.llama.get(at.llama[m])![m]));
    const byThreads = (e: 'kolm' | 'llama', m: Measure) => Object.fromEntries(threadSet.map((t) => [String(t), +med(e, t, m).toFixed(1)]));
    const kolmB = { decodeTokensPerS: value('kolm', 'decodeBatch') };
    const llamaB = { decodeTokensPerS: value('llama', 'decodeBatch') };

    const round = (x: number, d = 1) => +x.toFixed(d);
    const result: Record<string, unknown> = {
      bench: 'decode',
      load_average: { start: +loadStart.toFixed(2), end: +loadavg()[0]!.toFixed(2), cores: cpus().length },
      model: values.model ?? `preset:${values.preset}`,
      parameters: parameterCount(c),
      vocab_size: c.vocab_size,
      prompt_tokens: P,
      new_tokens: N,
      batch: B,
      quantization: ggufType === 'q8_0' ? 'int8' : ggufType === 'q4_0' ? 'int4' : 'none',
      threads: { kolm: at.kolm, llama_cpp: at.llama },
      prefill_tokens_per_s_by_threads: byThreads('kolm', 'prefill'),
      decode_tokens_per_s_by_threads: byThreads('kolm', 'decode'),
      prefill_tokens_per_s: round(value('kolm', 'prefill')),
      decode_tokens_per_s: round(value('kolm', 'decode')),
      decode_tokens_per_s_batch8: round(kolmB.decodeTokensPerS),
      llama_cpp: {
        engine: `node-llama-cpp 3.21.1, prebuilt CPU binary, GGUF ${ggufType}`,
        prefill_tokens_per_s: round(value('llama', 'prefill')),
        prefill_tokens_per_s_by_threads: byThreads('llama', 'prefill'),
        decode_tokens_per_s: round(value('llama', 'decode')),
        decode_tokens_per_s_by_threads: byThreads('llama', 'decode'),
        decode_tokens_per_s_batch8: round(llamaB.decodeTokensPerS),
      },
      // Medians of the per-round ratios.
      ratio: {
        prefill: round(ratio('prefill'), 3),
        decode: round(ratio('decode'), 3),
        decode_batch8: round(ratio('decodeBatch'), 3),
      },
    };
    if (B !== 8) {
      result[`decode_tokens_per_s_batch${B}`] = result['decode_tokens_per_s_batch8'];
      delete result['decode_tokens_per_s_batch8'];
    }
    if (values.profile) result['kolm_decode_profile'] = await profileDecode(modelDir, prompts[0]!, N, values.profile, threads);
    if (values.json) {
      console.log(JSON.stringify(result));
      return;
    }
    const r = result as { llama_cpp: Record<string, number>; ratio: Record<string, number> };
    console.log(`decode benchmark: ${result['model']} (${(parameterCount(c) / 1e6).toFixed(1)}M parameters), prompt ${P}, ${N} new tokens`);
    console.log(`                      kolm      llama.cpp   ratio`);
    console.log(`prefill tok/s      ${String(result['prefill_tokens_per_s']).padStart(8)} ${String(r.llama_cpp['prefill_tokens_per_s']).padStart(12)}   ${r.ratio['prefill']}×`);
    console.log(`decode tok/s (b=1) ${String(result['decode_tokens_per_s']).padStart(8)} ${String(r.llama_cpp['decode_tokens_per_s']).padStart(12)}   ${r.ratio['decode']}×`);
    console.log(`decode tok/s (b=${B}) ${String(kolmB.decodeTokensPerS.toFixed(1)).padStart(8)} ${String(llamaB.decodeTokensPerS.toFixed(1)).padStart(12)}   ${r.ratio['decode_batch8']}×`);
    if (result['kolm_decode_profile']) console.log(JSON.stringify(result['kolm_decode_profile'], null, 2));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
