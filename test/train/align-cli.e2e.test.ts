import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSftMix, parseCsv } from '../../src/data/sft-mix.js';
import { loadModel } from '../../src/infer/model.js';
import { answerLanguage } from '../../src/text/language.js';
import { isRefusal } from '../../src/text/refusal.js';
import { fakeSharedData, tinyChatModel } from './align-helpers.js';

const run = promisify(execFile);
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const kolm = async (...args: string[]) => (await run(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 })).stdout;
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kolm-align-cli-'));
  fakeSharedData(join(dir, 'shared'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const small = ['--chatbot', '8', '--dialogues', '4', '--gsm8k', '6', '--translation', '4', '--arithmetic', '8', '--code', '4', '--safety', '12', '--benign', '6', '--negatives', '6', '--ppo', '4', '--max-eval', '4'];

test('kolm data sft-mix: every source, license and count documented; reproducible by seed; held-out prompts never trained on', async () => {
  const out = await kolm('data', 'sft-mix', '--data', join(dir, 'shared'), '--out', join(dir, 'mix'), '--seed', '3', ...small);
  assert.match(out, /sft\.train\.jsonl/);
  const manifest = JSON.parse(readFileSync(join(dir, 'mix', 'manifest.json'), 'utf8'));
  for (const s of ['chatbot', 'dialogues', 'gsm8k', 'square', 'parallel', 'generated']) assert.ok(manifest.sources[s].license, `licence of ${s}`);
  const sft = manifest.files['sft.train.jsonl'].bySource;
  for (const s of ['chatbot', 'hg-tods', 'gsm8k', 'translation-ko-en', 'translation-en-ko', 'arithmetic', 'code', 'safety-refusal', 'benign-sensitive']) assert.ok(sft[s] > 0, `SFT has ${s}`);
  const pref = manifest.files['pref.train.jsonl'].bySource;
  for (const s of ['safety', 'square', 'arithmetic-wrong', 'translation-untranslated', 'over-refusal']) assert.ok(pref[s] > 0 || manifest.files['pref.valid.jsonl'].bySource[s] > 0, `preferences have ${s}`);
  assert.ok(manifest.files['eval/harmful.jsonl'].records > 0 && manifest.files['eval/benign.jsonl'].records > 0);
  const readme = readFileSync(join(dir, 'mix', 'README.md'), 'utf8');
  assert.match(readme, /\| chatbot \| MIT \|/);
  // The untranslated and %s-placeholder pairs are filtered out.
  assert.doesNotMatch(readFileSync(join(dir, 'mix', 'sft.train.jsonl'), 'utf8'), /Same text|%s/);
  // Training prompts and evaluation prompts are disjoint.
  const firstUser = (l: string) => (JSON.parse(l).messages ?? JSON.parse(l).prompt).find((m: { role: string }) => m.role === 'user').content;
  const trainPrompts = new Set(readFileSync(join(dir, 'mix', 'sft.train.jsonl'), 'utf8').trim().split('\n').map(firstUser));
  for (const f of ['eval/harmful.jsonl', 'eval/benign.jsonl', 'eval/math.jsonl']) {
    for (const line of readFileSync(join(dir, 'mix', f), 'utf8').trim().split('\n')) assert.ok(!trainPrompts.has(firstUser(line)), `${f} prompt also in training`);
  }
  // Same seed → identical files; another seed → different ones.
  const again = await buildSftMix({ data: join(dir, 'shared'), out: join(dir, 'mix-again'), seed: 3, counts: countsOf(small), maxEval: 4 });
  for (const [f, x] of Object.entries(again.files)) assert.equal(x.sha256, manifest.files[f].sha256, f);
  const other = await buildSftMix({ data: join(dir, 'shared'), out: join(dir, 'mix-other'), seed: 4, counts: countsOf(small), maxEval: 4 });
  assert.notEqual(other.files['sft.train.jsonl']!.sha256, manifest.files['sft.train.jsonl'].sha256);
  // Over-refusal pairs from dialogue openings add preference pairs only; the other training and held-out files stay as they were.
  const withDialogues = await buildSftMix({ data: join(dir, 'shared'), out: join(dir, 'mix-dialogue-refusals'), seed: 3, counts: { ...countsOf(small), dialogueRefusals: 2 }, maxEval: 4 });
  assert.equal(withDialogues.files['pref.train.jsonl']!.bySource['over-refusal'], manifest.files['pref.train.jsonl'].bySource['over-refusal'] + 2);
  for (const f of ['sft.train.jsonl', 'sft.valid.jsonl', 'pref.valid.jsonl', 'eval/harmful.jsonl', 'eval/benign.jsonl', 'eval/math.jsonl']) assert.equal(withDialogues.files[f]!.sha256, manifest.files[f].sha256, f);
  await assert.rejects(kolm('data', 'sft-mix', '--data', join(dir, 'shared'), '--out', join(dir, 'mix')), /already exists/);
});

function countsOf(args: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < args.length; i += 2) if (args[i] !== '--max-eval') out[args[i]!.slice(2)] = Number(args[i + 1]);
  return out;
}

test('bad source data is reported with file and line', async () => {
  const bad = join(dir, 'bad-shared');
  fakeSharedData(bad);
  writeFileSync(join(bad, 'external/chatbot_data/ChatbotData.csv'), 'Q,A,label\n안녕,반가워,0\n"열린 따옴표,x,0\n');
  await assert.rejects(buildSftMix({ data: bad, out: join(dir, 'bad-mix') }), /ChatbotData\.csv:3: unterminated quoted field/);
  writeFileSync(join(bad, 'external/chatbot_data/ChatbotData.csv'), 'Q,A,label\n안녕,반가워,0\n질문만,0\n');
  await assert.rejects(buildSftMix({ data: bad, out: join(dir, 'bad-mix') }), /ChatbotData\.csv:3: expected 3 fields/);
  rmSync(join(bad, 'external/gsm8k/train.jsonl.gz'));
  writeFileSync(join(bad, 'external/chatbot_data/ChatbotData.csv'), 'Q,A,label\n안녕,반가워,0\n');
  await assert.rejects(buildSftMix({ data: bad, out: join(dir, 'bad-mix') }), /gsm8k\/train\.jsonl\.gz: not found/);
  assert.deepEqual(parseCsv('a,"b,""c"""\n1,2', 'x.csv'), [['a', 'b,"c"'], ['1', '2']]);
});

test('kolm sft → rm → dpo → ppo → align-eval on a tiny model: folders load, summaries and metrics are written', async () => {
  const { modelDir } = await tinyChatModel(join(dir, 'base'), { max_position_embeddings: 512 });
  const mix = join(dir, 'mix');
  if (!existsSync(mix)) await kolm('data', 'sft-mix', '--data', join(dir, 'shared'), '--out', mix, '--seed', '3', ...small);
  const common = ['--threads', '1', '--quiet'];
  const sftOut = await kolm('sft', '--model', modelDir, '--data', join(mix, 'sft.train.jsonl'), '--valid', join(mix, 'sft.valid.jsonl'), '--out', join(dir, 'sft'), '--steps', '6', '--batch', '4', '--seq', '256', '--lr', '3e-3', ...common);
  assert.match(sftOut, /validation loss [\d.]+ → [\d.]+/);
  const sftSummary = JSON.parse(readFileSync(join(dir, 'sft', 'summary.json'), 'utf8'));
  assert.ok(sftSummary.val_loss_after < sftSummary.val_loss_before, `SFT lowers held-out loss (${sftSummary.val_loss_before} → ${sftSummary.val_loss_after})`);
  const sft = join(dir, 'sft', 'model');
  const rmOut = await kolm('rm', '--model', sft, '--data', join(mix, 'pref.train.jsonl'), '--valid', join(mix, 'pref.valid.jsonl'), '--out', join(dir, 'rm'), '--steps', '4', '--batch', '4', '--seq', '256', ...common);
  assert.match(rmOut, /held-out accuracy/);
  await kolm('dpo', '--model', sft, '--data', join(mix, 'pref.train.jsonl'), '--valid', join(mix, 'pref.valid.jsonl'), '--out', join(dir, 'dpo'), '--steps', '3', '--batch', '2', '--seq', '256', '--lr', '1e-3', ...common);
  const dpoSummary = JSON.parse(readFileSync(join(dir, 'dpo', 'summary.json'), 'utf8'));
  assert.ok(dpoSummary.val_accuracy_after > dpoSummary.val_accuracy_before, 'DPO implicit rewards move from zero (ties) towards the chosen answers');
  const ppoOut = await kolm('ppo', '--model', sft, '--prompts', join(mix, 'ppo.prompts.jsonl'), '--reward-model', join(dir, 'rm', 'model'), '--out', join(dir, 'ppo'),
    '--iterations', '2', '--rollout-batch', '4', '--minibatch', '2', '--ppo-epochs', '1', '--max-new-tokens', '8', '--lr', '1e-4', ...common);
  assert.match(ppoOut, /mean score/);
  const metrics = readFileSync(join(dir, 'ppo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(metrics.length, 2);
  for (const m of metrics) for (const k of ['score', 'kl', 'pg_loss', 'vf_loss', 'clipfrac']) assert.ok(Number.isFinite(m[k]), `${k} logged`);
  const cfg = JSON.parse(readFileSync(join(dir, 'ppo', 'value', 'config.json'), 'utf8'));
  assert.deepEqual(cfg.architectures, ['LlamaForSequenceClassification']);
  // Every policy folder is a loadable chat model.
  for (const m of ['sft', 'dpo', 'ppo']) {
    const model = await loadModel(join(dir, m, 'model'), { threads: 1 });
    const answer = await model.chat([{ role: 'user', content: '안녕하세요' }], { maxNewTokens: 4 });
    assert.equal(typeof answer.text, 'string');
  }
  const report = JSON.parse(await kolm('align-eval', '--model', sft, '--mix', mix, '--reward-model', join(dir, 'rm', 'model'), '--limit', '3', '--max-new-tokens', '6', '--threads', '1', '--out', join(dir, 'report.json')));
  for (const k of ['ended_turn_rate', 'refusal_rate_harmful', 'refusal_rate_benign', 'preference_logp_accuracy', 'reward_model_accuracy', 'mean_reward_benign']) assert.equal(typeof report[k], 'number', k);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).prompts, report.prompts);
  await assert.rejects(kolm('ppo', '--model', sft, '--prompts', join(mix, 'ppo.prompts.jsonl'), '--out', join(dir, 'ppo2')), /needs a reward/);
});

test('refusal and language detection', () => {
  assert.ok(isRefusal('죄송하지만 그 요청은 도와드릴 수 없습니다.'));
  assert.ok(isRefusal('I can’t help with hurting anyone.'));
  assert.ok(!isRefusal('터미널에서 kill 명령을 쓰세요.'));
  assert.ok(!isRefusal('Sure, here is the code.'));
  assert.equal(answerLanguage('서울은 한국의 수도입니다.'), 'ko');
  assert.equal(answerLanguage('Seoul is the capital.'), 'en');
  assert.equal(answerLanguage('파이썬 코드입니다.\n```python\ndef add(a, b):\n    return a + b\n```'), 'ko');
  assert.equal(answerLanguage('42'), 'none');
});
