/**
 * `kolm bench serve [--model DIR | --preset micro] [--tokens 64] [--streams 1,8,32] [--json]`: aggregate output
 * tokens/s and time to first token of `kolm serve` under 1, 8 and 32 concurrent streaming clients.
 *
 * The server runs as its own process (`kolm serve`), as in deployment; this process only generates load, over plain
 * HTTP keep-alive connections, with `stream: true` chat completions of a fixed length (`ignore_eos`); each of the
 * `streams` clients sends `rounds` requests one after another. Without
 * --model, a randomly initialised model of the preset's shape is written to a temp folder, with a small tokenizer
 * trained on the repository's Korean/English fixture (the output layer keeps the preset's vocabulary size). Its output
 * rows for special tokens are zero, so it writes text rather than the end/role tokens a random model otherwise falls
 * into: time to first token is measured to the first streamed text, and special tokens carry none.
 */
import { parseArgs } from 'node:util';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import { PRESETS } from '../src/model/presets.js';
import { makeConfig } from '../src/model/config.js';
import { initParams, parameterCount } from '../src/model/params.js';
import { saveModelFolder } from '../src/model/folder.js';
import { trainTokenizer } from '../src/tokenizer/index.js';
import { KolmError } from '../src/util/errors.js';
import { intOption } from '../src/cli/args.js';

const compiledRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const repoRoot = resolve(compiledRoot, '..');

interface Level {
  streams: number;
  requests: number;
  output_tokens: number;
  wall_s: number;
  output_tokens_per_s: number;
  ttft_p50_ms: number;
  ttft_p99_ms: number;
}

async function benchModel(preset: string): Promise<{ dir: string; cleanup: () => void; params: number }> {
  const p = PRESETS[preset];
  if (!p) throw new KolmError(`unknown preset '${preset}'; choose one of ${Object.keys(PRESETS).join(', ')}`);
  const fixture = join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt');
  if (!existsSync(fixture)) throw new KolmError(`${fixture} not found: run from the repository, or pass --model DIR`);
  const root = mkdtempSync(join(tmpdir(), 'kolm-bench-serve-'));
  const tokenizer = await trainTokenizer({ texts: readFileSync(fixture, 'utf8').split('\n'), vocabSize: 600, morpheme: false, progress: false });
  await tokenizer.save(join(root, 'tok'));
  const config = makeConfig({ ...p.config, vocab_size: Math.max(p.config.vocab_size, tokenizer.vocabSize), tie_word_embeddings: false, eos_token_id: tokenizer.tokenId('<|endoftext|>')! });
  const weights = initParams(config, 1);
  const head = weights['lm_head.weight']!;
  for (const id of Object.values(tokenizer.specialTokens)) head.data.fill(0, id * config.hidden_size, (id + 1) * config.hidden_size);
  await saveModelFolder(join(root, 'model'), config, weights, { tokenizerDir: join(root, 'tok') });
  return { dir: join(root, 'model'), cleanup: () => rmSync(root, { recursive: true, force: true }), params: parameterCount(config) };
}

function startServer(model: string, maxBatch: number, decodeThreads: string | undefined): Promise<{ url: string; child: ChildProcess }> {
  const cli = join(compiledRoot, 'src', 'cli', 'main.js');
  const args = [cli, 'serve', '--model', model, '--port', '0', '--max-batch', String(maxBatch), '--queue', '256', '--no-web'];
  if (decodeThreads) args.push('--decode-threads', decodeThreads);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolveStart, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/[^\s]+) \(/.exec(out);
      if (m) resolveStart({ url: m[1]!, child });
    });
    child.once('exit', (code) => reject(new KolmError(`kolm serve exited with ${code}: ${out}`)));
  });
}

/** One streaming chat completion; resolves with the time to the first content chunk and the tokens generated. */
function streamOnce(url: string, agent: Agent, model: string, content: string, tokens: number): Promise<{ ttftMs: number; tokens: number }> {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: tokens, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
  return new Promise((resolveReq, reject) => {
    const started = performance.now();
    let ttft = -1;
    let generated = -1;
    let buffer = '';
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new KolmError(`HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const line = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
          // Parse only what is needed (the first text, the usage), so the load generator stays light.
          if (ttft >= 0 && !line.includes('"usage"')) continue;
          const event = JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[]; usage?: { completion_tokens: number } };
          if (ttft < 0 && event.choices[0]?.delta.content) ttft = performance.now() - started;
          if (event.usage) generated = event.usage.completion_tokens;
        }
      });
      res.on('end', () => (generated < 0 ? reject(new KolmError('stream ended without usage')) : resolveReq({ ttftMs: ttft < 0 ? performance.now() - started : ttft, tokens: generated })));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const PROMPTS = ['서울은 어떤 도시인가요?', '한국어 문법을 설명해 주세요.', 'What grows along the Han River?', '학교에서 무엇을 배우나요?', '봄과 가을의 차이는?', 'Tell me about Korean particles.'];

async function level(url: string, model: string, streams: number, rounds: number, tokens: number): Promise<Level> {
  const agent = new Agent({ keepAlive: true, maxSockets: streams });
  const ttfts: number[] = [];
  let total = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: streams }, async (_, w) => {
      for (let r = 0; r < rounds; r++) {
        const out = await streamOnce(url, agent, model, `${PROMPTS[(w + r) % PROMPTS.length]} (${w}.${r})`, tokens);
        ttfts.push(out.ttftMs);
        total += out.tokens;
      }
    }),
  );
  const wall = (performance.now() - started) / 1e3;
  agent.destroy();
  ttfts.sort((a, b) => a - b);
  return {
    streams,
    requests: ttfts.length,
    output_tokens: total,
    wall_s: +wall.toFixed(2),
    output_tokens_per_s: Math.round(total / wall),
    ttft_p50_ms: +percentile(ttfts, 50).toFixed(1),
    ttft_p99_ms: +percentile(ttfts, 99).toFixed(1),
  };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, preset: { type: 'string', default: 'micro' }, tokens: { type: 'string', default: '64' }, streams: { type: 'string', default: '1,8,32' },
      rounds: { type: 'string', default: '3' }, repeat: { type: 'string', default: '3' }, 'decode-threads': { type: 'string' }, json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const usage = 'usage: kolm bench serve [--model DIR | --preset micro] [--tokens 64] [--streams 1,8,32] [--rounds 3] [--repeat 3] [--decode-threads N] [--json]';
  if (values.help) {
    console.log(usage);
    return;
  }
  const tokens = intOption('tokens', values.tokens, { min: 1 })!;
  const rounds = intOption('rounds', values.rounds, { min: 1 })!;
  const repeat = intOption('repeat', values.repeat, { min: 1 })!;
  const levels = values.streams!.split(',').map((s) => intOption('streams', s, { min: 1 })!);
  const made = values.model ? undefined : await benchModel(values.preset!);
  const modelDir = values.model ?? made!.dir;
  const { url, child } = await startServer(modelDir, Math.max(...levels), values['decode-threads']);
  try {
    // The server names the model after its folder; the bench sends whatever /v1/models reports.
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string; max_model_len: number }[] };
    const id = models.data[0]!.id;
    // Warm-up: every level once (first runs at a new batch or cache shape allocate in ONNX Runtime).
    await warm(url, id, tokens);
    for (const n of levels) await level(url, id, n, 1, tokens);
    // Levels are measured in turn, `repeat` times over, and each reports its median run: on a shared machine the
    // load of the moment then weighs on every level alike.
    const runs = new Map<number, Level[]>(levels.map((n) => [n, []]));
    for (let r = 0; r < repeat; r++) for (const n of levels) runs.get(n)!.push(await level(url, id, n, rounds, tokens));
    const results = levels.map((n) => {
      const sorted = [...runs.get(n)!].sort((a, b) => a.output_tokens_per_s - b.output_tokens_per_s);
      return sorted[Math.floor(sorted.length / 2)]!;
    });
    const single = results.find((r) => r.streams === 1);
    const top = results.at(-1)!;
    // The speedup is taken within each repeat (levels measured minutes apart may see different machine load), then
    // the median over repeats.
    const ratios = single && top !== single
      ? runs.get(1)!.map((one, r) => runs.get(top.streams)![r]!.output_tokens_per_s / one.output_tokens_per_s).sort((a, b) => a - b)
      : [];
    const summary = {
      bench: 'serve',
      model: values.model ?? `${values.preset} (random weights, ${made!.params} parameters)`,
      max_tokens: tokens,
      rounds,
      repeat,
      levels: results,
      ...(ratios.length ? { [`speedup_${top.streams}_vs_1`]: +ratios[Math.floor(ratios.length / 2)]!.toFixed(2), [`speedup_${top.streams}_vs_1_per_repeat`]: ratios.map((x) => +x.toFixed(2)) } : {}),
    };
    if (values.json) console.log(JSON.stringify(summary));
    else {
      console.log(`kolm bench serve: ${summary.model}, ${tokens} tokens per request`);
      for (const r of results) console.log(`  ${String(r.streams).padStart(3)} streams  ${String(r.output_tokens_per_s).padStart(6)} tok/s  TTFT p50 ${r.ttft_p50_ms} ms  p99 ${r.ttft_p99_ms} ms  (${r.requests} requests)`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    made?.cleanup();
  }
}

/** One request so sessions, JIT and allocations are warm before measuring. */
async function warm(url: string, model: string, tokens: number): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  await streamOnce(url, agent, model, 'warm up', tokens);
  agent.destroy();
}
