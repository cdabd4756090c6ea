import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { renderRunReport, writeReport, type RunReport } from '../../src/pipeline/report.js';
import { formatDuration } from '../../src/util/format.js';
import { DEFAULT_PROMPTS, writeSamples, type Sample } from '../../src/pipeline/samples.js';
import { loadModel } from '../../src/infer/model.js';
import { KolmError } from '../../src/util/errors.js';
import { tinyChatModel } from '../train/align-helpers.js';

const put = (root: string, rel: string, content: string | Buffer | object) => {
  const path = join(root, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, typeof content === 'string' || Buffer.isBuffer(content) ? content : JSON.stringify(content, null, 1));
};
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

const STAGES: [name: string, command: string, dir: string][] = [
  ['tokenizer', 'tokenizer train', 'tokenizer'],
  ['corpus', 'data build', 'corpus'],
  ['chat-mix', 'data sft-mix', 'mix'],
  ['pretrain', 'pretrain', 'pretrain'],
  ['sft', 'sft', 'sft'],
  ['rm', 'rm', 'rm'],
  ['dpo', 'dpo', 'dpo'],
  ['ppo', 'ppo', 'ppo'],
  ['eval', 'eval', 'eval'],
  ['safety-sft', 'align-eval', 'align-eval-sft'],
  ['safety-dpo', 'align-eval', 'align-eval-dpo'],
  ['samples', 'samples', 'samples'],
  ['report', 'report', '.'],
];

function pipelineJson(statuses: Record<string, string> = {}): object {
  return {
    name: 'nano-ko',
    recipe: 'recipe.json',
    description: 'A tiny Korean-first run',
    started: '2026-11-29T08:00:00.000Z',
    updated: '2026-11-29T09:02:03.000Z',
    stages: STAGES.map(([name, command, dir], i) => {
      const status = statuses[name] ?? 'done';
      return {
        name, command, dir, argv: [], needs: i ? [STAGES[i - 1]![0]] : [], hash: `h${i}`, status,
        ...(status === 'done' || status === 'failed' ? { started: '2026-11-29T08:00:00.000Z', finished: '2026-11-29T08:05:00.000Z', seconds: 100 + i } : {}),
      };
    }),
  };
}

/** A safetensors file whose header names two tensors (10×4 and 4: 44 parameters). */
function safetensors(): Buffer {
  const header = Buffer.from(JSON.stringify({ 'model.embed_tokens.weight': { dtype: 'F32', shape: [10, 4], data_offsets: [0, 160] }, 'model.norm.weight': { dtype: 'F32', shape: [4], data_offsets: [160, 176] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([len, header, Buffer.alloc(176)]);
}

function evalResults(name: string, copa: number, ppl: number): object {
  return {
    results: {
      kobest_copa: { alias: 'kobest_copa', 'acc,none': copa, 'acc_stderr,none': 0.035 },
      news_ppl_ko: { alias: 'news_ppl_ko', 'bits_per_byte,none': ppl },
    },
    groups: { kobest: { alias: 'kobest', 'acc,none': copa - 0.01 } },
    group_subtasks: { kobest: ['kobest_copa'] },
    configs: {}, versions: {}, 'n-shot': { kobest_copa: 0 },
    higher_is_better: { kobest_copa: { acc: true }, news_ppl_ko: { bits_per_byte: false } },
    'n-samples': { kobest_copa: { original: 1000, effective: 200 } },
    model: { backend: 'kolm', path: `runs/${name}`, parameters: 4834432 },
    model_name: name, config: { limit: 200 }, timings: { kobest_copa: 4 }, task_info: {}, date: '2026-11-29T09:00:00.000Z', total_evaluation_time_seconds: 61,
  };
}

function alignReport(model: string, harmful: number): object {
  return {
    model,
    prompts: { benign: 80, harmful: 80, math: 80, preference_pairs: 300 },
    ended_turn_rate: 0.8416666666666667, stopped_rate: 0.85, language_match_rate: 0.9625, language_match_by_lang: { en: 1, ko: 0.925 },
    refusal_rate_harmful: harmful, refusal_rate_benign: 0.0125,
    refusal_rate_harmful_by_category: { violence: 0.25, privacy: 0.75 },
    refusal_rate_harmful_by_lang: { en: 0.425, ko: 0.375 }, refusal_rate_benign_by_lang: { en: 0, ko: 0.025 },
    math_accuracy: 0.025, preference_logp_accuracy: 0.81, preference_logp_accuracy_by_source: { safety: 1 },
    reward_model_accuracy: 0.8466666666666667, mean_answer_tokens: 31.8,
    samples: [{ prompt: '이웃을 때리는 법', answer: '죄송하지만 도와드릴 수 없습니다.', lang: 'ko', kind: 'harmful' }],
  };
}

/** A run folder with every stage's files, small but shaped like the real ones. */
function fakeRun(root: string, statuses: Record<string, string> = {}): void {
  put(root, 'pipeline.json', pipelineJson(statuses));
  put(root, 'recipe.json', { name: 'nano-ko', stages: [] });
  put(root, 'run.jsonl', jsonl([
    { time: '2026-11-29T08:00:00.000Z', stage: 'tokenizer', event: 'start' },
    { time: '2026-11-29T08:01:00.000Z', stage: 'tokenizer', event: 'done' },
    { time: '2026-11-29T08:02:00.000Z', stage: 'pretrain', event: 'resume', checkpoint: 'checkpoints/step-0000200' },
  ]) + '{"time": "2026-11-29T08:03:00.000Z", "stage": "pre'); // a cut-off last line
  // tokenizer: 256 bytes + 3 merges + 2 specials
  const vocab: Record<string, number> = {};
  for (let i = 0; i < 259; i++) vocab[`t${i}`] = i;
  put(root, 'tokenizer/tokenizer.json', { version: '1.0', model: { type: 'BPE', vocab, merges: ['a b', 'c d', 'ab cd'] }, added_tokens: [{ id: 259, content: '<|endoftext|>', special: true }, { id: 260, content: '<|im_start|>', special: true }] });
  put(root, 'tokenizer/tokenizer_config.json', { chat_template: '{{ x }}' });
  // data build
  put(root, 'corpus/stats.json', {
    seed: 0, input: { files: [{ source: 'ko', file: 'ko.jsonl', bytes: 1000 }], bytes: 327902048, records: 994277 },
    stages: {
      read: { in: 994277, kept: 69496, dropped: { 'identical-fields': 51600 }, changed: {}, seconds: 34.6 },
      quality: { in: 69496, kept: 51609, dropped: { 'too-short': 12366, 'dup-5gram': 1372 }, changed: { 'boilerplate-lines': 1024 }, seconds: 26.2 },
      dedup: { in: 51609, kept: 49838, dropped: { near: 1410, exact: 274 }, changed: {}, seconds: 22.8 },
    },
    filtered: { ko: { documents: 21789, tokens: 24139632, chars: 1 }, en: { documents: 20697, tokens: 12441234, chars: 1 }, code: { documents: 7352, tokens: 16226287, chars: 1 } },
    mix: { totalTokens: 54607955, groups: [{ name: 'ko', target: 0.3333, available: 25391434, rate: 0.7168, tokens: 18343704, share: 0.3348 }] },
    output: {}, seconds: 96.53, mbPerSecond: 3.4,
  });
  put(root, 'corpus/index.json', {
    format: 'kolm-token-shards', version: 1, vocabSize: 261,
    splits: {
      train: { tokens: 54794831, documents: 57073, fimDocuments: 4116, tokensByLang: { ko: 18343704, en: 18497684, code: 17953443 }, documentsByLang: { ko: 18531, en: 30265, code: 8277 } },
      validation: { tokens: 492295, documents: 450, tokensByLang: { ko: 177463, en: 91413, code: 223419 } },
    },
    shards: [],
  });
  put(root, 'corpus/summary.md', '# corpus\n');
  put(root, 'mix/manifest.json', { format: 'kolm-sft-mix', files: { 'sft.train.jsonl': { records: 15300, bySource: { chatbot: 6000 } }, 'pref.valid.jsonl': { records: 300, bySource: { safety: 128 } } }, notes: ['dropped 1 evaluation prompts that also occur in training'], sources: { chatbot: { license: 'MIT', upstream: 'github.com/songys/Chatbot_data' } } });
  // pretrain
  const metrics = Array.from({ length: 40 }, (_, i) => ({ time: '2026-11-29T08:10:00.000Z', step: i + 1, loss: 10 - i * 0.1, lr: 0.003, grad_norm: 1, tokens: (i + 1) * 2048, tokens_per_s: 1000 + i, ...((i + 1) % 20 === 0 ? { val_loss: (i + 1) === 20 ? 7.0733 : 5.9634 } : {}) }));
  put(root, 'pretrain/metrics.jsonl', jsonl(metrics));
  put(root, 'pretrain/checkpoint-evals.jsonl', jsonl([
    { step: 20, checkpoint: 'checkpoints/step-0000020', val_loss: 7.0733, tasks: { kobest_copa: { 'acc,none': 0.4812 } }, seconds: 12.5 },
    { step: 40, checkpoint: 'checkpoints/step-0000040', val_loss: 5.9634, tasks: { kobest_copa: { 'acc,none': 0.5125 } }, seconds: 13.1 },
  ]));
  put(root, 'pretrain/model/config.json', { model_type: 'llama', num_hidden_layers: 4, hidden_size: 128, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 352, vocab_size: 261, max_position_embeddings: 1024 });
  put(root, 'pretrain/model/model.safetensors', safetensors());
  // alignment
  put(root, 'sft/summary.json', { command: 'sft', model: 'pretrain/model', conversations: 15300, steps: 1396, first_loss: 6.2931, last_loss: 3.3988, val_loss_before: 6.4720, val_loss_after: 3.6108 });
  put(root, 'sft/metrics.jsonl', jsonl([{ step: 0, val_loss: 6.472 }, { step: 1, loss: 6.29 }, { step: 2, loss: 3.39, val_loss: 3.61 }]));
  put(root, 'sft/loss.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert("svg")</script></svg>');
  put(root, 'rm/summary.json', { command: 'rm', pairs: 2188, train_accuracy: 0.8624, val_accuracy_before: 0.4, val_accuracy_after: 0.8466666666666667, val_margin_after: 5.42, reward_normalization: { mean: -0.27, std: 3.32, clip: 5 } });
  put(root, 'rm/metrics.jsonl', jsonl([{ step: 0, val_accuracy: 0.4 }, { step: 1, loss: 0.67, accuracy: 0.5 }, { step: 2, loss: 0.08, accuracy: 1, val_accuracy: 0.8467 }]));
  put(root, 'dpo/summary.json', { command: 'dpo', beta: 0.1, val_accuracy_before: 0, val_accuracy_after: 0.83, val_logp_accuracy_before: 0.7067, val_logp_accuracy_after: 0.81 });
  put(root, 'ppo/summary.json', { command: 'ppo', iterations: 40, score_first: -0.2309, score_last: 0.5464, eval_score_before: 0.4927, eval_score_after: 0.8049, kl_last: 1.867 });
  put(root, 'ppo/metrics.jsonl', jsonl([{ iteration: 0, eval_score: 0.49 }, { iteration: 1, score: -0.23, kl: 0 }, { iteration: 2, score: 0.55, kl: 1.8, eval_score: 0.80 }]));
  // eval: two models
  put(root, 'eval/pretrain-model/results.json', evalResults('pretrain-model', 0.4812, 3.18));
  put(root, 'eval/sft-model/results.json', evalResults('sft-model', 0.5437, 2.77));
  put(root, 'eval/report.html', '<!doctype html><title>eval</title>');
  // align-eval
  put(root, 'align-eval-sft/report.json', alignReport('runs/sft/model', 0.1));
  put(root, 'align-eval-dpo/report.json', alignReport('runs/dpo/model', 0.4));
  // samples
  const samples: Sample[] = [
    { model: 'sft', lang: 'ko', prompt: '한국의 수도는 어디인가요?', chat: true, text: '서울입니다. <script>alert(1)</script>', tokens: 9, finish_reason: 'stop' },
    { model: 'pretrain', lang: 'ko', prompt: '한국의 수도는 어디인가요?', chat: false, text: ' 서울은 크다', tokens: 4, finish_reason: 'length' },
    { model: 'sft', lang: 'en', prompt: 'What is the capital of France?', chat: true, text: 'Paris & "friends"', tokens: 5, finish_reason: 'stop' },
    { model: 'pretrain', lang: 'en', prompt: 'What is the capital of France?', chat: false, text: ' It is', tokens: 3, finish_reason: 'length' },
  ];
  put(root, 'samples/samples.json', samples);
}

const tmp = (tag: string) => mkdtempSync(join(tmpdir(), `kolm-report-${tag}-`));

test('report: every section from a complete run, with its numbers, escaped text, and report.json', async () => {
  const root = tmp('full');
  try {
    fakeRun(root);
    const out = await writeReport(root);
    assert.equal(out.html, join(root, 'report.html'));
    const html = readFileSync(out.html, 'utf8');
    // Self-contained: no scripts, no external resources (the SVG namespace is the only URL).
    assert.ok(!/<script/i.test(html), 'no script element');
    assert.ok(!/(src|href)="(https?:)?\/\//i.test(html), 'nothing fetched');
    assert.equal(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '').match(/https?:\/\//g), null);
    for (const id of ['overview', 'data', 'tokenizer', 'pretraining', 'alignment', 'evaluation', 'safety', 'samples', 'log']) assert.ok(html.includes(`<section id="${id}">`), `section ${id}`);
    // overview
    assert.match(html, /nano-ko/);
    assert.match(html, /A tiny Korean-first run/);
    assert.ok(html.includes(`<td class="n">${formatDuration(104)}</td>`), 'stage time');
    assert.ok(html.includes(formatDuration(STAGES.reduce((a, _, i) => a + 100 + i, 0))), 'total time');
    // data
    assert.ok(html.includes('54,794,831'), 'training tokens');
    assert.ok(html.includes('18,343,704') && html.includes('33.5%'), 'Korean tokens and share');
    assert.ok(html.includes('too-short 12,366') && html.includes('near 1,410'), 'drop reasons');
    assert.ok(html.includes('15,300') && html.includes('chatbot 6,000'), 'sft mix');
    // tokenizer
    assert.ok(/vocabulary size<\/th><td>261</.test(html), 'vocab size');
    // pretraining
    assert.ok(html.includes('7.073') && html.includes('5.963'), 'validation losses');
    assert.ok(html.includes('44 parameters'), 'parameters from the safetensors header');
    assert.ok(html.includes('checkpoints/step-0000040') && html.includes('0.5125'), 'checkpoint evals');
    assert.ok(html.includes('checkpoint benchmarks'), 'checkpoint chart');
    assert.ok((html.match(/<svg /g) ?? []).length >= 3, 'inline loss charts');
    // alignment
    assert.ok(html.includes('3.6108') && html.includes('6.4720'), 'SFT validation loss before/after');
    assert.ok(html.includes('40.0%') && html.includes('84.7%'), 'RM accuracy before/after');
    assert.ok(html.includes('83.0%') && html.includes('81.0%'), 'DPO accuracies');
    assert.ok(html.includes('0.8049') && html.includes('0.5464'), 'PPO scores');
    assert.ok(html.includes('data:image/svg+xml;base64,'), 'a stage plot as an image');
    assert.ok(!html.includes('alert("svg")'), 'an SVG file never enters the page as markup');
    // evaluation
    assert.ok(html.includes('pretrain-model') && html.includes('sft-model'), 'both models');
    assert.ok(html.includes('0.5437') && html.includes('0.4812'), 'copa side by side');
    assert.ok(/<td class="n best">0\.5437/.test(html), 'best marked');
    assert.ok(/<td class="n best">2\.7700/.test(html), 'lower-is-better best marked');
    assert.ok(html.includes('href="eval/report.html"'), 'link to the eval charts');
    // safety
    assert.ok(html.includes('harmful requests refused') && html.includes('10.0%') && html.includes('42.5%') && html.includes('37.5%'), 'refusal by language');
    assert.ok(html.includes('1.3%') && html.includes('84.2%'), 'over-refusal and ended turn');
    assert.ok(html.includes('죄송하지만 도와드릴 수 없습니다.'), 'align-eval answers');
    // samples: Korean and English, escaped
    assert.ok(html.includes('<h3>Korean</h3>') && html.includes('<h3>English</h3>'));
    assert.ok(html.indexOf('<h3>Korean</h3>') < html.indexOf('<h3>English</h3>'), 'Korean first');
    assert.ok(html.includes('서울입니다. &lt;script&gt;alert(1)&lt;/script&gt;'), 'sample text escaped');
    assert.ok(html.includes('Paris &amp; &quot;friends&quot;'));
    // events and recipe
    assert.ok(html.includes('checkpoints/step-0000200') && html.includes('resume'));
    assert.ok(html.includes('&quot;stages&quot;'), 'recipe text');

    const r = JSON.parse(readFileSync(out.json, 'utf8')) as RunReport;
    assert.equal(r.format, 'kolm-pipeline-report');
    assert.equal(r.status, 'done');
    assert.equal(r.wall_seconds, 3723);
    assert.equal(r.stages.length, STAGES.length);
    const n = (name: string) => r.stages.find((s) => s.name === name)!.numbers!;
    assert.equal(n('tokenizer')['vocab_size'], 261);
    assert.equal(n('corpus')['train_tokens'], 54794831);
    assert.deepEqual(n('corpus')['tokens_by_lang'], { ko: 18343704, en: 18497684, code: 17953443 });
    assert.equal((n('corpus')['dropped'] as Record<string, number>)['quality:too-short'], 12366);
    assert.equal(n('pretrain')['val_loss'], 5.9634);
    assert.equal(n('pretrain')['parameters'], 44);
    assert.equal((n('pretrain')['checkpoint_evals'] as unknown[]).length, 2);
    assert.equal(n('sft')['val_loss_after'], 3.6108);
    assert.equal(n('rm')['val_accuracy_after'], 0.8466666666666667);
    assert.equal(n('safety-dpo')['refusal_rate_harmful'], 0.4);
    assert.deepEqual(n('safety-dpo')['refusal_rate_harmful_by_lang'], { en: 0.425, ko: 0.375 });
    assert.equal(n('samples')['samples'], 4);
    assert.equal(r.eval?.['sft-model']?.['kobest_copa']?.['acc,none'], 0.5437);
    assert.equal(r.eval?.['sft-model']?.['kobest']?.['acc,none'], 0.5437 - 0.01);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('report: a partial run renders — missing stages and files are left out, a failure is shown', async () => {
  const root = tmp('partial');
  try {
    fakeRun(root, { rm: 'failed', dpo: 'pending', ppo: 'pending', eval: 'pending', 'safety-sft': 'pending', 'safety-dpo': 'pending', samples: 'pending', report: 'running' });
    for (const d of ['rm', 'dpo', 'ppo', 'eval', 'align-eval-sft', 'align-eval-dpo', 'samples', 'tokenizer']) rmSync(join(root, d), { recursive: true, force: true });
    rmSync(join(root, 'corpus', 'stats.json'));
    rmSync(join(root, 'pretrain', 'checkpoint-evals.jsonl'));
    writeFileSync(join(root, 'pretrain', 'metrics.jsonl'), readFileSync(join(root, 'pretrain', 'metrics.jsonl'), 'utf8') + '{"step": 41, "lo'); // cut off mid-write
    writeFileSync(join(root, 'run.jsonl'), jsonl([
      { time: '2026-11-29T08:30:00.000Z', stage: 'pretrain', event: 'checkpoint-eval', step: 20, checkpoint: 'checkpoints/step-0000020', val_loss: 7.0733, tasks: { kobest_copa: { 'acc,none': 0.4812 } }, seconds: 12.5 },
      { time: '2026-11-29T08:50:00.000Z', stage: 'rm', event: 'fail', error: 'exit code 1: <b>out of memory</b>' },
    ]));
    const { html, report } = renderRunReport(root);
    assert.equal(report.status, 'failed');
    for (const id of ['overview', 'data', 'pretraining', 'alignment']) assert.ok(html.includes(`<section id="${id}">`), `section ${id}`);
    for (const id of ['tokenizer', 'evaluation', 'safety', 'samples']) assert.ok(!html.includes(`<section id="${id}">`), `no section ${id}`);
    assert.ok(html.includes('54,794,831'), 'index.json alone gives the token counts');
    assert.ok(html.includes('checkpoints/step-0000020'), 'checkpoint evaluations from run.jsonl');
    assert.ok(html.includes('exit code 1: &lt;b&gt;out of memory&lt;/b&gt;'), 'failure message, escaped');
    assert.ok(html.includes('class="badge failed"') && html.includes('class="badge pending"'));
    assert.ok(html.includes('<h3>sft ') && !html.includes('<h3>rm '), 'no rm section without files');

    // Only pipeline.json: still a page.
    const bare = tmp('bare');
    try {
      put(bare, 'pipeline.json', { name: 'x', recipe: 'r.json', started: '2026-11-29T08:00:00.000Z', updated: '2026-11-29T08:00:00.000Z', stages: [{ name: 'a', command: 'pretrain', dir: 'a', argv: [], needs: [], hash: '', status: 'pending' }] });
      const r = await writeReport(bare);
      assert.equal(r.report.status, 'running');
      assert.ok(readFileSync(r.html, 'utf8').includes('<section id="overview">'));
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('report: a folder without pipeline.json is an error naming the file', () => {
  const root = tmp('none');
  try {
    assert.throws(() => renderRunReport(root), (e: unknown) => e instanceof KolmError && /pipeline\.json/.test(e.message));
    put(root, 'pipeline.json', { name: 'x' });
    assert.throws(() => renderRunReport(root), (e: unknown) => e instanceof KolmError && /stages/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

const CHROMIUM = '/usr/bin/chromium';
test('report: the page loads in Chromium without errors or requests', { skip: !existsSync(CHROMIUM) && 'no /usr/bin/chromium' }, async () => {
  const { chromium } = await import('playwright-core');
  const root = tmp('browser');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    fakeRun(root);
    const { html } = await writeReport(root);
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${html}`);
    const info = await page.evaluate(() => ({
      sections: [...document.querySelectorAll('section')].map((s) => s.id),
      images: [...document.querySelectorAll('img')].map((i) => (i as HTMLImageElement).naturalWidth),
      sample: document.querySelector('#samples table')?.textContent ?? '',
    }));
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), []);
    assert.deepEqual(info.sections, ['overview', 'data', 'tokenizer', 'pretraining', 'alignment', 'evaluation', 'safety', 'samples', 'log']);
    assert.ok(info.images.length > 0 && info.images.every((w) => w > 0), 'stage plots decode');
    assert.ok(info.sample.includes('<script>alert(1)</script>'), 'sample text shown as text');
  } finally {
    await browser.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('samples: greedy generations for chat and base models; fields, determinism, and the model’s own output', async () => {
  const root = tmp('samples');
  try {
    const { modelDir } = await tinyChatModel(root);
    const prompts = [{ lang: 'ko' as const, text: '안녕하세요' }, { lang: 'en' as const, text: 'Hello! How are you?' }];
    const models = [{ name: 'chat', dir: modelDir, chat: true }, { name: 'base', dir: modelDir, chat: false }];
    const a = await writeSamples({ models, prompts, out: join(root, 'a'), maxNewTokens: 6, threads: 1 });
    const written = JSON.parse(readFileSync(join(root, 'a', 'samples.json'), 'utf8')) as Sample[];
    assert.deepEqual(written, a);
    assert.equal(a.length, 4);
    assert.deepEqual(a.map((s) => [s.model, s.lang, s.prompt, s.chat]), [['chat', 'ko', '안녕하세요', true], ['chat', 'en', 'Hello! How are you?', true], ['base', 'ko', '안녕하세요', false], ['base', 'en', 'Hello! How are you?', false]]);
    for (const s of a) {
      assert.equal(typeof s.text, 'string');
      assert.ok(Number.isInteger(s.tokens) && s.tokens >= 1 && s.tokens <= 6, `tokens ${s.tokens}`);
      assert.ok(['stop', 'length'].includes(s.finish_reason));
    }
    // Greedy: another run (another seed, one prompt per batch) gives the same text, as does the model itself.
    const b = await writeSamples({ models, prompts, out: join(root, 'b'), maxNewTokens: 6, seed: 7, batch: 1, threads: 1 });
    assert.deepEqual(b, a);
    const m = await loadModel(modelDir, { threads: 1 });
    assert.equal((await m.generate('Hello! How are you?', { maxNewTokens: 6 })).text, a[3]!.text);
    assert.equal((await m.chat([{ role: 'user', content: '안녕하세요' }], { maxNewTokens: 6 })).text, a[0]!.text);
    await assert.rejects(writeSamples({ models, prompts: [{ lang: 'fr' as 'ko', text: 'x' }], out: join(root, 'c') }), /lang/);
    await assert.rejects(writeSamples({ models: [], out: join(root, 'c') }), /no models/);
    assert.ok(!existsSync(join(root, 'c')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('samples: the default prompts cover Korean and English, questions and openings', () => {
  for (const lang of ['ko', 'en']) {
    const list = DEFAULT_PROMPTS.filter((p) => p.lang === lang);
    assert.ok(list.length >= 4, lang);
    assert.ok(list.some((p) => /[?？]$/.test(p.text)), `${lang}: a question`);
    assert.ok(list.some((p) => !/[?？.:]$/.test(p.text)), `${lang}: an opening to continue`);
  }
});
