/**
 * `kolm pipeline`: recipe validation, up-to-date checks by input hashes, and the shipped tiny recipe end to end with a
 * crash injected mid-pretraining (the whole process group is killed) that the next run survives without redoing
 * finished stages.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRecipe } from '../../src/pipeline/recipe.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const MAIN = join(here, '..', '..', 'src', 'cli', 'main.js');
const fixtureText = join(repoRoot, 'test', 'fixtures', 'text', 'ko-en.txt');

function kolm(args: string[], cwd = repoRoot) {
  return spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, KOLM_PROGRESS: 'off' } });
}

const events = (run: string) => readFileSync(join(run, 'run.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stage: string; event: string; step?: number });

test('recipe errors name the stage and field', () => {
  const bad = (raw: unknown, pattern: RegExp) => assert.throws(() => parseRecipe(raw, '/r.yaml'), pattern);
  bad({ name: 'x', stages: { a: { run: 'frobnicate' } } }, /stages\.a\.run: unknown command 'frobnicate'/);
  bad({ name: 'x', stages: { a: { run: 'sft', with: { model: '${nowhere}/model', data: 'd' } } } }, /stages\.a refers to 'nowhere'/);
  bad({ name: 'x', stages: { a: { run: 'sft', with: { model: '${b}/model', data: 'd' } }, b: { run: 'report' } } }, /needs 'b', which must come before it/);
  bad({ name: 'x', stages: { a: { run: 'pretrain', with: { data: 'd', out: 'o' } } } }, /stages\.a\.with\.out: set by the pipeline/);
  bad({ name: 'x', stages: { a: { run: 'sft', with: { data: 'd' } } } }, /stages\.a\.with\.model: required/);
  bad({ name: 'x', stages: { a: { run: 'sft', with: { model: 'm', data: 'd' }, watch: { validate: { seq: 8 } } } } }, /only pretrain stages can be watched/);
  bad({ name: 'x', stages: { a: { run: 'report', extra: 1 } } }, /stages\.a\.extra: unknown field/);
  assert.throws(() => parseRecipe({ name: 'x', vars: { v: 1 }, stages: { a: { run: 'report' } } }, '/r.yaml', { w: '2' }), /--var w: the recipe has no variable 'w'/);
});

test('a stage reruns when its options or input files change, and only then', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kolm-pipe-hash-'));
  try {
    const input = join(dir, 'text.txt');
    writeFileSync(input, readFileSync(fixtureText));
    writeFileSync(join(dir, 'r.yaml'), [
      'name: hash', 'vars:', '  vocab: 300', 'stages:', '  tok:', '    run: tokenizer train', '    with:',
      `      input: ["\${recipe}/text.txt"]`, '      vocab-size: ${vocab}', '      no-morpheme: true',
    ].join('\n'));
    const run = (vars: string[] = []) => {
      const r = kolm(['pipeline', '--recipe', join(dir, 'r.yaml'), '--out', join(dir, 'run'), ...vars.flatMap((v) => ['--var', v])]);
      assert.equal(r.status, 0, r.stderr);
      return events(join(dir, 'run')).at(-1)!.event;
    };
    assert.equal(run(), 'done');
    assert.equal(run(), 'skip');
    assert.equal(run(['vocab=320']), 'done');
    writeFileSync(input, readFileSync(fixtureText, 'utf8') + '\n한 줄 더.\n');
    assert.equal(run(['vocab=320']), 'done');
    assert.equal(run(['vocab=320']), 'skip');
    const bad = kolm(['pipeline', '--recipe', join(dir, 'r.yaml'), '--out', join(dir, 'run'), '--var', 'nope=1']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--var nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the tiny recipe runs end to end, survives a crash mid-pretraining, and skips finished stages', { timeout: 900_000 }, async () => {
  const run = mkdtempSync(join(tmpdir(), 'kolm-pipe-tiny-'));
  const args = [MAIN, 'pipeline', '--recipe', join(repoRoot, 'recipes', 'tiny.yaml'), '--out', run,
    '--var', 'pretrain-steps=60', '--var', 'sft-steps=8', '--var', 'pref-steps=4'];
  try {
    // First run: killed (SIGKILL to the whole process group, watcher and trainer included) once a checkpoint exists.
    const child = spawn(process.execPath, args, { cwd: repoRoot, detached: true, stdio: 'ignore', env: { ...process.env, KOLM_PROGRESS: 'off' } });
    const exited = new Promise((r) => child.on('exit', r));
    const ckpt = join(run, 'pretrain', 'checkpoints', 'step-0000050');
    while (!existsSync(ckpt)) {
      if (child.exitCode !== null) assert.fail(`pipeline exited early (${child.exitCode}): ${readLog(run)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    assert.ok(!existsSync(join(run, 'pretrain', 'model')), 'the crash came before pretraining finished');

    // Second run: finishes, resuming pretraining from step 50.
    const second = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, KOLM_PROGRESS: 'off' } });
    assert.equal(second.status, 0, second.stderr.slice(-3000));
    const ev = events(run);
    const secondStart = ev.map((e) => e.stage).lastIndexOf('tokenizer');
    const after = ev.slice(secondStart);
    assert.deepEqual(after.filter((e) => e.event === 'skip').map((e) => e.stage), ['tokenizer', 'corpus']);
    assert.ok(after.some((e) => e.stage === 'pretrain' && e.event === 'resume'));
    assert.match(readFileSync(join(run, 'logs', 'pretrain.log'), 'utf8'), /resuming from .*step-0000050/);

    const state = JSON.parse(readFileSync(join(run, 'pipeline.json'), 'utf8')) as { stages: { name: string; status: string }[] };
    assert.deepEqual(state.stages.filter((s) => s.status !== 'done' && s.status !== 'skipped'), []);

    const metrics = readFileSync(join(run, 'pretrain', 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; loss: number });
    const mean = (xs: { loss: number }[]) => xs.reduce((s, m) => s + m.loss, 0) / xs.length;
    assert.ok(mean(metrics.slice(-10)) < mean(metrics.slice(0, 5)) - 0.5, 'pretraining loss fell');
    type Eval = { step: number; val_loss: number; tasks: Record<string, Record<string, number>> };
    const evals = readFileSync(join(run, 'pretrain', 'checkpoint-evals.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Eval);
    assert.deepEqual([...new Set(evals.map((e) => e.step))].sort((a, b) => a - b), [50, 60]);
    assert.ok(evals.every((e) => Number.isFinite(e.val_loss) && e.tasks['heldout_ppl_ko']!['bits_per_byte']! > 0 && e.tasks['heldout_ppl_en']!['bits_per_byte']! > 0));

    const results = JSON.parse(readFileSync(join(run, 'eval', 'dpo-model', 'results.json'), 'utf8')) as { results: Record<string, Record<string, number>> };
    const bpb = results.results['heldout_ppl_ko']!['bits_per_byte,none']!;
    assert.ok(bpb > 0 && bpb < 8, `bits per byte ${bpb}`);
    const align = JSON.parse(readFileSync(join(run, 'align-eval', 'report.json'), 'utf8')) as { refusal_rate_harmful: number };
    assert.ok(align.refusal_rate_harmful >= 0 && align.refusal_rate_harmful <= 1);
    const samples = JSON.parse(readFileSync(join(run, 'samples', 'samples.json'), 'utf8')) as { model: string; lang: string }[];
    assert.ok(samples.some((s) => s.model === 'chat' && s.lang === 'ko') && samples.some((s) => s.model === 'base' && s.lang === 'en'));
    const html = readFileSync(join(run, 'report.html'), 'utf8');
    for (const section of ['tokenizer', 'pretrain', 'dpo', 'heldout_ppl_ko']) assert.ok(html.includes(section), `report mentions ${section}`);

    // Third run: nothing left to do but the report.
    const third = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(third.status, 0, third.stderr);
    const last = events(run).slice(-(state.stages.length + 1));
    assert.deepEqual(last.filter((e) => e.event === 'start').map((e) => e.stage), ['report']);
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});

function readLog(run: string): string {
  const p = join(run, 'logs', 'pretrain.log');
  return existsSync(p) ? readFileSync(p, 'utf8').slice(-2000) : '(no log)';
}
