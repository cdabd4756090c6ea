import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { KolmBackend } from '../../src/eval/backend-kolm.js';
import { OpenAICompletionsBackend } from '../../src/eval/backend-openai.js';
import { encodePair, type LoglikelihoodRequest } from '../../src/eval/backend.js';
import { scoreTokens } from '../../src/eval/loglik.js';
import { TaskIndex } from '../../src/eval/config.js';
import { Task } from '../../src/eval/task.js';
import { evaluate, type EvalResults } from '../../src/eval/evaluator.js';
import { mergeRuns, renderReport } from '../../src/eval/report.js';
import { serve, type KolmServer } from '../../src/serve/index.js';
import { makeTinyModel, repoRoot, startCompletionsServer, type TestServer } from './eval-helpers.js';

const fixtures = join(repoRoot, 'test', 'fixtures', 'eval');
const dataDir = join(fixtures, 'data');
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
let tmp: string;
let modelDir: string;
let kolm: KolmBackend;
let server: TestServer;
let real: KolmServer;
const index = new TaskIndex([join(fixtures, 'tasks')]);
const fixtureTasks = () => index.resolve(['fixture_group', 'fixture_translation']);

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'kolm-eval-e2e-'));
  modelDir = await makeTinyModel(tmp);
  kolm = await KolmBackend.load(modelDir, { threads: 1 });
  server = await startCompletionsServer(kolm.model);
  real = await serve(kolm.model, { port: 0, web: false });
});

after(async () => {
  await server?.close();
  await real?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function logprobsByHand(logits: Float32Array, V: number, ctxLen: number, cont: number[]): number {
  let total = 0;
  cont.forEach((id, j) => {
    const row = ctxLen + j - 1;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[row * V + v]!);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[row * V + v]! - max);
    total += logits[row * V + id]! - max - Math.log(sum);
  });
  return total;
}

const requests: LoglikelihoodRequest[] = [
  { context: '질문: 대한민국의 수도는 어디인가?\n답:', continuation: ' 서울' },
  { context: '질문: 대한민국의 수도는 어디인가?\n답:', continuation: ' 부산' },
  { context: 'Seoul is', continuation: ' the capital of Korea.' },
  { context: '학교에서 ', continuation: '친구들과 공부했다.' },
  { context: '', continuation: '서울은 대한민국의 수도이다.' },
  { context: 'The weather in Seoul is cold in winter. '.repeat(4), continuation: 'Yes.' },
];

test('batched log-likelihoods equal one unbatched scoring pass per request, whatever the batch size', async () => {
  const m = kolm.model;
  const V = m.config.vocab_size;
  const byHand: number[] = [];
  for (const r of requests) {
    const [ctx, cont] = r.context === '' ? [[kolm.prefixToken], kolm.encode(r.continuation)] : encodePair(kolm, r.context, r.continuation);
    const logits = await m.logits([...ctx, ...cont]);
    byHand.push(logprobsByHand(logits, V, ctx.length, cont));
  }
  const big = await kolm.loglikelihood(requests);
  const toks = requests.map((r) => (r.context === '' ? { context: [kolm.prefixToken], continuation: kolm.encode(r.continuation) } : (([context, continuation]) => ({ context, continuation }))(encodePair(kolm, r.context, r.continuation))));
  const one = await scoreTokens(m, toks, { maxBatch: 1 });
  requests.forEach((_, i) => {
    assert.ok(Math.abs(big[i]!.logprob - byHand[i]!) < 1e-4, `batched ${big[i]!.logprob} vs ${byHand[i]}`);
    assert.ok(Math.abs(one[i]!.logprob - byHand[i]!) < 1e-4, `batch of one ${one[i]!.logprob} vs ${byHand[i]}`);
    assert.equal(big[i]!.isGreedy, one[i]!.isGreedy);
  });
  assert.ok(big.every((r) => r.logprob < 0 && Number.isFinite(r.logprob)));
});

test('a tiny task end to end on a kolm folder: accuracy equals a by-hand computation; generation, perplexity and groups', async () => {
  const { tasks, groups } = fixtureTasks();
  const samples: Record<string, unknown>[] = [];
  const res = await evaluate({ backend: kolm, tasks, groups, dataDir, bootstrapIters: 100, onSample: (s) => samples.push(s) });
  const mc = res.results['fixture_ko_mc']!;
  // By hand: lm-eval's context for each document, every choice scored with one pass, argmax against the label.
  const task = await Task.load(index.task('fixture_ko_mc'), dataDir);
  const V = kolm.model.config.vocab_size;
  let correct = 0, correctNorm = 0;
  for (const doc of task.evalDocs) {
    const ctx = task.fewshotContext(doc, 2);
    const choices = doc['choices'] as string[];
    const lls: number[] = [];
    for (const c of choices) {
      const [a, b] = encodePair(kolm, ctx, ` ${c}`);
      lls.push(logprobsByHand(await kolm.model.logits([...a, ...b]), V, a.length, b));
    }
    const arg = (xs: number[]) => xs.indexOf(Math.max(...xs));
    if (arg(lls) === doc['label']) correct++;
    if (arg(lls.map((l, i) => l / choices[i]!.length)) === doc['label']) correctNorm++;
  }
  assert.equal(mc['acc,none'], correct / task.evalDocs.length);
  assert.equal(mc['acc_norm,none'], correctNorm / task.evalDocs.length);
  assert.equal(typeof mc['acc_stderr,none'], 'number');
  assert.equal(res['n-shot']['fixture_ko_mc'], 2);
  assert.deepEqual(res['n-samples']['fixture_ko_mc'], { original: 8, effective: 8 });
  assert.equal(res.groups['fixture_group']!['acc,none'], mc['acc,none'], 'the group has one task with acc');
  const gen = res.results['fixture_ko_gen']!;
  for (const k of ['exact_match,strict-match', 'exact_match,raw', 'chrf,strict-match', 'chrf,raw']) assert.equal(typeof gen[k], 'number', k);
  const ppl = res.results['fixture_ppl']!;
  assert.ok((ppl['word_perplexity,none'] as number) > 1 && (ppl['bits_per_byte,none'] as number) > 0);
  // a random 600-token model: about log2(600) / 2 bits per byte on mostly 3-byte Korean characters, far from 0
  assert.ok((ppl['byte_perplexity,none'] as number) > 1.5);
  assert.equal(typeof res.results['fixture_translation']!['bleu,none'], 'number');
  const mcSamples = samples.filter((s) => s['task'] === 'fixture_ko_mc');
  assert.equal(mcSamples.length, 8);
  assert.equal((mcSamples[0]!['arguments'] as unknown[]).length, 4);
  const html = renderReport([{ label: 'tiny', results: res }, { label: 'tiny-again', results: res }]);
  assert.match(html, /<svg[^>]*>/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained');
  assert.match(html, /fixture_ko_mc/);
  // Two result files of one model (say, different --limit runs) merge into one column.
  const other = JSON.parse(JSON.stringify(res)) as EvalResults;
  other.results = { extra_task: { alias: 'extra_task', 'acc,none': 0.5 } };
  const merged = mergeRuns([{ label: 'tiny', results: res }, { label: 'tiny', results: other }, { label: 'b', results: other }]);
  assert.deepEqual(merged.map((r) => r.label), ['tiny', 'b']);
  assert.deepEqual(Object.keys(merged[0]!.results.results).sort(), [...Object.keys(res.results), 'extra_task'].sort());
});

test('the OpenAI-compatible backend gives the same log-likelihoods and results as the kolm folder', async () => {
  const tok = kolm.model.tokenizer;
  const codec = { encode: (t: string) => tok.encode(t, { allowSpecial: true }) };
  const ref = await kolm.loglikelihood(requests);
  const viaTokens = await new OpenAICompletionsBackend({ baseUrl: server.url, tokenizer: codec, prefixToken: kolm.prefixToken, maxLength: 256, batchSize: 4 }).loglikelihood(requests);
  const viaText = await new OpenAICompletionsBackend({ baseUrl: server.url + '/completions', batchSize: 3 }).loglikelihood(requests.slice(0, 4));
  const viaServe = await new OpenAICompletionsBackend({ baseUrl: real.url + '/v1', tokenizer: codec, prefixToken: kolm.prefixToken, maxLength: 256 }).loglikelihood(requests);
  for (const [name, got] of [['tokens', viaTokens], ['text', viaText], ['kolm serve', viaServe]] as const) {
    got.forEach((g, i) => {
      assert.ok(Math.abs(g.logprob - ref[i]!.logprob) < 1e-4, `${name} ${i}: ${g.logprob} vs ${ref[i]!.logprob}`);
      assert.equal(g.isGreedy, ref[i]!.isGreedy, `${name} ${i} greedy`);
    });
  }
  const body = server.requests.find((r) => Array.isArray((r as { prompt: unknown }).prompt)) as Record<string, unknown>;
  assert.deepEqual({ echo: body['echo'], logprobs: body['logprobs'], max_tokens: body['max_tokens'], temperature: body['temperature'] }, { echo: true, logprobs: 1, max_tokens: 1, temperature: 0 });
  const { tasks, groups } = index.resolve(['fixture_ko_mc', 'fixture_ppl', 'fixture_ko_gen']);
  const a = await evaluate({ backend: kolm, tasks, groups, dataDir, bootstrapIters: 0 });
  const b = await evaluate({ backend: new OpenAICompletionsBackend({ baseUrl: server.url, tokenizer: codec, prefixToken: kolm.prefixToken, maxLength: 256 }), tasks, groups, dataDir, bootstrapIters: 0 });
  for (const [task, r] of Object.entries(a.results)) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === 'number') assert.ok(Math.abs(v - (b.results[task]![k] as number)) < 1e-4 * Math.max(1, Math.abs(v)), `${task} ${k}: ${v} vs ${b.results[task]![k]}`);
    }
  }
});

test('kolm eval CLI: results JSON, samples JSONL, two models side by side, kolm eval report', async () => {
  const out = join(tmp, 'out');
  const run = (args: string[]) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const second = await makeTinyModel(join(tmp, 'second'), { seed: 2, tokenizerDir: join(tmp, 'tok') });
  run(['eval', '--model', `${modelDir},${second}`, '--tasks', 'fixture_ko_mc,fixture_ppl', '--include-path', join(fixtures, 'tasks'), '--data-dir', dataDir,
    '--limit', '3', '--out', out, '--bootstrap-iters', '50', '--threads', '1']);
  const dirs = [`${basename(tmp)}-model`, 'second-model'].map((d) => join(out, d));
  for (const d of dirs) {
    const r = JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as EvalResults;
    assert.deepEqual(r['n-samples']['fixture_ko_mc'], { original: 8, effective: 3 });
    assert.equal(typeof r.results['fixture_ko_mc']!['acc,none'], 'number');
    assert.equal(readFileSync(join(d, 'samples', 'fixture_ko_mc.jsonl'), 'utf8').trim().split('\n').length, 3);
  }
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /second[\s\S]*<svg/);
  const html = join(tmp, 'r.html');
  run(['eval', 'report', join(dirs[0]!, 'results.json'), join(dirs[1]!, 'results.json'), '--out', html]);
  assert.ok(existsSync(html));
  assert.throws(() => run(['eval', '--model', modelDir, '--tasks', 'no_such_task', '--data-dir', dataDir]), /unknown task, group or tag 'no_such_task'/);
});
